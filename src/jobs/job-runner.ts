// One run of a one-off or scheduled job, start to end: the command, as many attempts as its
// --retry allows, its --timeout (SIGTERM to the whole process group, SIGKILL 10 s later), and
// its record, written at every step. Runs in a runner process of its own, as the tool, started
// by `toolhost jobs run` or by the monitor's schedule (runner-entry.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tool } from '../accounts/index.js';
import type { ChildOutput } from '../logs/index.js';
import { processInfo } from '../supervisor/index.js';
import { startJobProcess } from './job-process.js';
import { emptyRecord, writeRecord, type JobRecord } from './job-record.js';
import type { JobSpec } from './job-spec.js';

export interface RunOptions {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  readonly trigger: JobRecord['trigger'];
  readonly runId: string;
  readonly scheduledFor?: string | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** between a failed attempt and the next */
  readonly retryDelayMs?: number;
  readonly stopGraceMs?: number;
  /** where the attempts' output goes (openJobOutput, once per run: a retry adds to it) */
  readonly output: ChildOutput;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

export async function runJob(o: RunOptions): Promise<JobRecord> {
  const attempts = o.spec.retry + 1;
  const self = processInfo(process.pid);
  let rec: JobRecord = {
    ...emptyRecord(o.spec.name, o.trigger, attempts, o.runId),
    runner: self ? { pid: self.pid, startTicks: self.startTicks } : null,
    scheduledFor: o.scheduledFor ?? null,
    startedAt: Date.now(),
  };
  const save = (patch: Partial<JobRecord>): void => {
    rec = { ...rec, ...patch, updatedAt: Date.now() };
    writeRecord(o.runtimeDir, rec);
  };
  save({ message: 'starting' });
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let proc;
    try {
      proc = await startJobProcess({ tool: o.tool, runtimeDir: o.runtimeDir, spec: o.spec, env: o.env, output: o.output });
    } catch (err) {
      save({ status: 'failed', attempt, exitCode: 2, finishedAt: Date.now(), runner: null, pid: null, startTicks: null, message: `cannot start: ${(err as Error).message}` });
      return rec;
    }
    const info = proc.pid ? processInfo(proc.pid) : null;
    save({ status: 'running', attempt, pid: proc.pid ?? null, startTicks: info?.startTicks ?? null, exitCode: null, signal: null, message: attempts > 1 ? `attempt ${attempt} of ${attempts}` : 'running' });
    let timedOut = false;
    const timer =
      o.spec.timeout !== undefined
        ? setTimeout(() => {
            timedOut = true;
            void proc.stop(o.stopGraceMs ?? 10_000);
          }, o.spec.timeout * 1000)
        : null;
    const exit = await proc.exited;
    if (timer) clearTimeout(timer);
    // what it wrote is in its log files before its record says it ended (`jobs run --wait` reads them next)
    await o.output.drain();
    const done = { pid: null, startTicks: null, exitCode: exit.code, signal: exit.signal, attempt };
    if (timedOut) {
      save({ ...done, status: 'timed-out', finishedAt: Date.now(), runner: null, message: `ran longer than its timeout of ${o.spec.timeout} s: stopped (SIGTERM, then SIGKILL after 10 s)` });
      return rec;
    }
    if (exit.code === 0) {
      save({ ...done, status: 'succeeded', finishedAt: Date.now(), runner: null, message: 'completed' });
      return rec;
    }
    if (attempt < attempts) {
      save({ ...done, status: 'running', message: `attempt ${attempt} of ${attempts} failed (${describeExit(exit.code, exit.signal)}); retrying` });
      await sleep(o.retryDelayMs ?? 1000);
      continue;
    }
    save({ ...done, status: 'failed', finishedAt: Date.now(), runner: null, message: `failed (${describeExit(exit.code, exit.signal)})${attempts > 1 ? ` after ${attempts} attempts` : ''}` });
  }
  return rec;
}
