// What a tool's supervisor tells the world: its pid file (one supervisor per tool), a state
// file read by `webservice status`, and ~/service.log, one timestamped line per event.
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

export type ServiceStateName = 'starting' | 'running' | 'crash-looping' | 'config-error' | 'stopping' | 'stopped';

export interface ServiceState {
  readonly tool: string;
  readonly type: string;
  readonly state: ServiceStateName;
  readonly supervisorPid: number;
  readonly serverPid: number | null;
  readonly port: number | null;
  readonly url: string | null;
  /** epoch ms when the current server became ready */
  readonly serverStartedAt: number | null;
  readonly supervisorStartedAt: number;
  readonly restarts: number;
  readonly lastExit: string | null;
  /** set while ~/.lighttpd.conf has errors (the server, if any, keeps the last good config) */
  readonly configError: readonly string[] | null;
  readonly routeRegistered: boolean;
  /** bumped by every server replacement; `webservice restart` waits for it */
  readonly generation: number;
  readonly message: string;
  readonly updatedAt: number;
}

export const SERVICE_LOG = 'service.log';

export function statePath(runtimeDir: string): string {
  return path.join(runtimeDir, 'state.json');
}

export function pidPath(runtimeDir: string): string {
  return path.join(runtimeDir, 'supervisor.pid');
}

export function writeState(runtimeDir: string, state: ServiceState): void {
  const file = statePath(runtimeDir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function readState(runtimeDir: string): ServiceState | null {
  try {
    return JSON.parse(readFileSync(statePath(runtimeDir), 'utf8')) as ServiceState;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** the running supervisor's pid, or null (a pid file of a dead process does not count) */
export function supervisorPid(runtimeDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(pidPath(runtimeDir), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/** take the pid file for this process; false if another live supervisor holds it */
export function claimPidFile(runtimeDir: string): boolean {
  mkdirSync(runtimeDir, { recursive: true });
  const file = pidPath(runtimeDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (supervisorPid(runtimeDir) !== null) return false;
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  return false;
}

export function releasePidFile(runtimeDir: string): void {
  const file = pidPath(runtimeDir);
  try {
    if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

export function serviceLog(home: string, line: string): void {
  try {
    appendFileSync(path.join(home, SERVICE_LOG), `${new Date().toISOString()} ${line}\n`);
  } catch {
    // a full or read-only home must not stop the supervisor
  }
}
