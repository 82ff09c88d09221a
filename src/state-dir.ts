// Where toolhost's root-owned state lives on a host (TOOLHOST_STATE_DIR, default
// /var/lib/toolhost): the scheduler's record of what it fired (schedules/), administrators' quotas
// (quotas/), maintainers' addresses and what was mailed (mail/). One definition for every
// process that reads or writes there.
import { rmSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/toolhost';

export function stateDirectory(env: Readonly<Record<string, string | undefined>>): string {
  return env.TOOLHOST_STATE_DIR || DEFAULT_STATE_DIR;
}

/** the scheduler's part of the state directory */
export function schedulesDirectory(stateDir: string): string {
  return path.join(stateDir, 'schedules');
}

/** what the monitor keeps of one tool's schedules */
export function scheduleStatePath(stateDir: string, tool: string): string {
  return path.join(schedulesDirectory(stateDir), `${tool}.json`);
}

/** a deleted tool's file in root's state, removed; an administrator without root (a development tool) has none to remove */
export function removeStateFile(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
  }
}
