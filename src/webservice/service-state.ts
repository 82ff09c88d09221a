// What a tool's supervisor tells the world: its pid file (one supervisor per tool), a state
// file read by `webservice status`, and ~/service.log, one timestamped line per event.
import type { NoticeNote } from '../notify/index.js';
import type { ExitCause, LimitsSummary } from '../limits/index.js';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readOwnedFile, type Owner } from '../accounts/index.js';
import { appendCapped, SERVICE_LOG, type LogCap } from '../logs/index.js';
// process-info alone, not the supervisor's process management (node:http, child processes): `webservice status` reads this module (#14)
import { processInfo } from '../supervisor/process-info.js';

export type ServiceStateName = 'starting' | 'running' | 'crash-looping' | 'config-error' | 'stopping' | 'stopped';

export interface ServiceState {
  readonly tool: string;
  readonly type: string;
  readonly state: ServiceStateName;
  readonly supervisorPid: number;
  readonly serverPid: number | null;
  /** the server's start time in clock ticks (with its pid, names it for ever); absent in files older than it */
  readonly serverStartTicks?: number | null;
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
  /** the server's memory and CPU, and whether cgroups enforce them */
  readonly limits?: LimitsSummary | null;
  /** how the last server ended, when it ended on its own (the OOM killer, a signal) */
  readonly lastCause?: ExitCause | null;
  /** the last notice for its maintainers, and whether it reached the notifier */
  readonly notice?: NoticeNote | null;
  readonly updatedAt: number;
}

export { SERVICE_LOG };

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

/** what the supervisor program is called on its command line */
export const SUPERVISOR_ENTRY = 'supervisor-entry.js';

/** whether pid is a live supervisor of this tool (pid files can be stale or, in a tool's hands, lie) */
export function isSupervisorOf(pid: number, tool: string, owner: Pick<Owner, 'uid'>): boolean {
  const info = processInfo(pid);
  if (!info || info.uid !== owner.uid) return false;
  const i = info.argv.indexOf('--tool');
  return info.argv.some((a) => a.endsWith(SUPERVISOR_ENTRY)) && i >= 0 && info.argv[i + 1] === tool;
}

/**
 * The running supervisor's pid, or null. The pid file is read as a tool file (no links, owned
 * by the tool) and its pid must be a live supervisor process of the tool.
 */
export function supervisorPid(runtimeDir: string, tool: string, owner: Pick<Owner, 'uid'>): number | null {
  const read = readOwnedFile(pidPath(runtimeDir), owner, 64);
  if (!read.ok) return null;
  const pid = Number(read.text.trim());
  return isSupervisorOf(pid, tool, owner) ? pid : null;
}

/** take the pid file for this process; false if another live supervisor holds it */
export function claimPidFile(runtimeDir: string, tool: string): boolean {
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
      // only a supervisor of this tool running as this uid holds it; another uid's process cannot
      if (supervisorPid(runtimeDir, tool, { uid: process.getuid?.() ?? 0 }) !== null) return false;
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

/** this process's cap of ~/service.log (the supervisor sets it once it knows its tool's policy) */
let serviceLogCap: LogCap | null = null;

export function capServiceLog(cap: LogCap | null): void {
  serviceLogCap = cap;
}

export function serviceLog(home: string, line: string): void {
  try {
    appendCapped(path.join(home, SERVICE_LOG), `${new Date().toISOString()} ${line}\n`, serviceLogCap);
  } catch {
    // a full or read-only home must not stop the supervisor
  }
}
