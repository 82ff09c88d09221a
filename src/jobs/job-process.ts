// One process of a job: `sh -c COMMAND` in the tool's home, as whoever calls (always the tool),
// in a process group of its own (a stop reaches a script's children too), its output appended
// to ~/NAME.out and ~/NAME.err (or the files the job names, relative to the home), or to the
// job's internal log when file logs are off.
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { gated, ManagedProcess, openGate } from '../supervisor/index.js';
import type { Tool } from '../accounts/index.js';
import type { UnitGuard } from '../limits/index.js';
import { internalLogPath } from './job-record.js';
import { logFiles, type JobSpec } from './job-spec.js';

export interface JobProcessOptions {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  /** the environment the job starts from (the tool's clean one) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** a new run starts a fresh internal log; a restart of a continuous job adds to it */
  readonly freshLog: boolean;
  /** the unit's limits: the process is placed in its cgroup before the command runs */
  readonly guard: UnitGuard | null;
}

/** a log file could not be opened (Toolforge: "an invalid directory … exit code 2") */
export class JobLogError extends Error {
  constructor(readonly file: string, cause: NodeJS.ErrnoException) {
    super(`cannot open the log file ${file}: ${cause.code ?? cause.message}; create its directory first`);
    this.name = 'JobLogError';
  }
}

function openLog(file: string, flags: string): number {
  try {
    return openSync(file, flags, 0o640);
  } catch (err) {
    throw new JobLogError(file, err as NodeJS.ErrnoException);
  }
}

export async function startJobProcess(o: JobProcessOptions): Promise<ManagedProcess> {
  const files = logFiles(o.spec);
  const fds: number[] = [];
  try {
    let out: number;
    let err: number;
    if (files.stdout === null || files.stderr === null) {
      out = openLog(internalLogPath(o.runtimeDir, o.spec.name), o.freshLog ? 'w' : 'a');
      fds.push(out);
      err = out;
    } else {
      out = openLog(path.resolve(o.tool.home, files.stdout), 'a');
      fds.push(out);
      err = files.stderr === files.stdout ? out : openLog(path.resolve(o.tool.home, files.stderr), 'a');
      if (err !== out) fds.push(err);
    }
    const env: Record<string, string | undefined> = { ...o.env, TOOL_DATA_DIR: o.tool.home, JOB_NAME: o.spec.name };
    if (o.spec.port !== undefined) env.PORT = String(o.spec.port);
    const argv = ['/bin/sh', '-c', o.spec.command];
    const guard = o.guard;
    // a job is running once it is spawned (a one-off may well be over before anyone looks)
    const { command, args } = guard ? gated(guard.argv(argv)) : { command: '/bin/sh', args: argv.slice(1) };
    const child = spawn(command, args, { cwd: o.tool.home, env: env, stdio: ['ignore', out, err, ...(guard ? (['pipe'] as const) : [])], detached: true });
    const proc = new ManagedProcess(child, true);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    if (guard) {
      try {
        await openGate(child, (pid) => guard.place(pid));
      } catch (err) {
        await proc.exited;
        throw err;
      }
    }
    return proc;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
