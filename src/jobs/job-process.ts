// One process of a job: `sh -c COMMAND` in the tool's home, as whoever calls (always the tool),
// in a process group of its own (a stop reaches a script's children too), its output into the
// job's logs (job-output.ts).
import { closeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { ChildOutput } from '../logs/index.js';
import { gated, ManagedProcess, openGate } from '../supervisor/index.js';
import type { Tool } from '../accounts/index.js';
import type { UnitGuard } from '../limits/index.js';
import type { JobSpec } from './job-spec.js';

export interface JobProcessOptions {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  /** the environment the job starts from (the tool's clean one) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** where its stdout and stderr go (openJobOutput) */
  readonly output: ChildOutput;
  /** the unit's limits: the process is placed in its cgroup before the command runs */
  readonly guard: UnitGuard | null;
}

export async function startJobProcess(o: JobProcessOptions): Promise<ManagedProcess> {
  const fds = o.output.descriptors();
  try {
    const out = fds.stdout;
    const err = fds.stderr;
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
    for (const fd of fds.all) closeSync(fd);
  }
}
