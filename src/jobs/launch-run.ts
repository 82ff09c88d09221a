// Starting one run of a job in its own runner process (runner-entry.ts): by `toolhost jobs run`
// and `jobs restart` (as the tool), or by the monitor's schedule (root, dropping to the tool).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { spawnToolProgram, type Owner, type Tool } from '../accounts/index.js';
import { PACKAGE_ROOT } from '../package-files.js';
import type { JobRecord } from './job-record.js';

export const RUNNER_ENTRY = 'runner-entry.js';

export interface LaunchRun {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly job: string;
  readonly trigger: JobRecord['trigger'];
  readonly scheduledFor?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly as: Owner | null;
}

/** the run's id (its record carries it) */
export function launchRun(l: LaunchRun): string {
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const entry = path.join(PACKAGE_ROOT, '.build', 'jobs', RUNNER_ENTRY);
  spawnToolProgram({
    tool: l.tool,
    as: l.as,
    env: l.env,
    argv: [process.execPath, entry, '--tool', l.tool.name, '--home', l.tool.home, '--runtime-dir', l.runtimeDir, '--job', l.job, '--run-id', runId, '--trigger', l.trigger, ...(l.scheduledFor ? ['--scheduled-for', l.scheduledFor] : [])],
    output: null,
  });
  return runId;
}
