// One run of a one-off or scheduled job, start to end: the command, as many attempts as its
// --retry allows, its --timeout (SIGTERM to the whole process group, SIGKILL 10 s later), and
// its record, written at every step. Runs in a runner process of its own, as the tool, started
// by `toolhost jobs run` or by the monitor's schedule (runner-entry.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tool } from '../accounts/index.js';
import { isToolhostError } from '../errors.js';
import { describeExit, resourcesOf, UnitGuard, unitName, type ExitCause, type LimitsPeer } from '../limits/index.js';
import type { ChildOutput } from '../logs/index.js';
import { processInfo } from '../supervisor/index.js';
import { startJobProcess } from './job-process.js';
import { noticeJob, type JobNoticeContext } from './job-notices.js';
import type { NotifyPeer } from '../notify/index.js';
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
  /** the registrar, which admits the run and places it in its cgroup; null: none reachable (why) */
  readonly limits: { readonly peer: LimitsPeer | null; readonly why?: string };
  /** who takes its notices (--emails): the registrar; null: none reachable (why) */
  readonly notices: { readonly peer: NotifyPeer | null; readonly why?: string };
  /** between a failed attempt and the next */
  readonly retryDelayMs?: number;
  readonly stopGraceMs?: number;
  /** where the attempts' output goes (openJobOutput, once per run: a retry adds to it) */
  readonly output: ChildOutput;
}

export async function runJob(o: RunOptions): Promise<JobRecord> {
  const rec = await runAttempts(o);
  // the run is over: its maintainers hear of it as --emails says, and the record says what became of that
  const failed = rec.status !== 'succeeded';
  const note = await noticeJob(noticeContext(o), failed ? 'failed' : 'succeeded', rec.message, rec.cause);
  if (note) {
    const done = { ...rec, notice: note, updatedAt: Date.now() };
    writeRecord(o.runtimeDir, done);
    return done;
  }
  return rec;
}

function noticeContext(o: RunOptions): JobNoticeContext {
  return { tool: o.tool, runtimeDir: o.runtimeDir, spec: o.spec, peer: o.notices.peer, why: o.notices.why };
}

async function runAttempts(o: RunOptions): Promise<JobRecord> {
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
  const resources = resourcesOf(o.spec);
  let guard: UnitGuard;
  try {
    guard = await UnitGuard.admit(o.limits.peer, { unit: unitName('run', o.spec.name), ...resources }, o.limits.why);
  } catch (err) {
    // refused by the quota (or the registrar could not make its cgroup): it never starts
    const message = isToolhostError(err) ? err.message : `cannot start: ${(err as Error).message}`;
    save({ status: 'refused', finishedAt: Date.now(), runner: null, message, errorCode: isToolhostError(err) ? err.code : 'TH_ERR_LIMITS_FAILED' });
    return rec;
  }
  save({ limits: guard.summary() });
  const started = await noticeJob(noticeContext(o), 'started', `started (${o.trigger})`, null);
  if (started) save({ notice: started });
  try {
    return await attemptAll(o, guard, attempts, save, () => rec);
  } finally {
    await guard.release();
  }
}

async function attemptAll(o: RunOptions, guard: UnitGuard, attempts: number, save: (patch: Partial<JobRecord>) => void, current: () => JobRecord): Promise<JobRecord> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let proc;
    try {
      proc = await startJobProcess({ tool: o.tool, runtimeDir: o.runtimeDir, spec: o.spec, env: o.env, output: o.output, guard });
    } catch (err) {
      save({ status: 'failed', attempt, exitCode: 2, finishedAt: Date.now(), runner: null, pid: null, startTicks: null, message: `cannot start: ${(err as Error).message}` });
      return current();
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
    const kernel = guard.cause(exit.code, exit.signal);
    const cause: ExitCause = timedOut && kernel.kind !== 'oom' ? { kind: 'timeout', seconds: o.spec.timeout ?? 0 } : kernel;
    const done = { pid: null, startTicks: null, exitCode: exit.code, signal: exit.signal, cause, attempt };
    if (cause.kind === 'timeout') {
      save({ ...done, status: 'timed-out', finishedAt: Date.now(), runner: null, message: describeExit(cause) });
      return current();
    }
    if (exit.code === 0) {
      save({ ...done, status: 'succeeded', finishedAt: Date.now(), runner: null, message: 'completed' });
      return current();
    }
    if (attempt < attempts) {
      save({ ...done, status: 'running', message: `attempt ${attempt} of ${attempts} failed (${describeExit(cause)}); retrying` });
      await sleep(o.retryDelayMs ?? 1000);
      continue;
    }
    save({ ...done, status: 'failed', finishedAt: Date.now(), runner: null, message: `failed (${describeExit(cause)})${attempts > 1 ? ` after ${attempts} attempts` : ''}` });
  }
  return current();
}
