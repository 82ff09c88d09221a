// What a job did last, in the tool's runtime directory (<runtime>/jobs/<name>.json): written by
// whatever runs it, as the tool — the runner of a one-off or scheduled run, the supervisor of a
// continuous job — and read by `toolhost jobs list|show` and by the monitor (as a tool file).
// The record of a run stays until the job's next run or its deletion.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readOwnedFile, type Owner } from '../accounts/index.js';
import type { ExitCause, LimitsSummary } from '../limits/index.js';
import type { NoticeNote } from '../notify/index.js';

export type RunStatus = 'starting' | 'running' | 'succeeded' | 'failed' | 'timed-out' | 'refused' | 'stopping' | 'stopped' | 'backing-off' | 'crash-looping';

export interface JobRecord {
  readonly job: string;
  /** one run (with its retries): `jobs run --wait` waits for its own */
  readonly runId: string;
  /** the process running it (a runner, or the tool's supervisor), while it runs */
  readonly runner: { readonly pid: number; readonly startTicks: number } | null;
  /** what started the run: a maintainer (run), the schedule, a restart */
  readonly trigger: 'run' | 'schedule' | 'restart' | 'supervisor';
  readonly status: RunStatus;
  /** the run's process (its group leader), while it runs */
  readonly pid: number | null;
  /** the process's start time in clock ticks since boot (/proc/PID/stat): a pid is reused, this pair is not */
  readonly startTicks: number | null;
  /** the scheduled time this run was for */
  readonly scheduledFor: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** how the last process ended, with the kernel's word on memory (describeExit) */
  readonly cause: ExitCause | null;
  /** a refused run: the refusal's TH_ERR_* code */
  readonly errorCode?: string | null;
  /** the limits it ran with, and whether the kernel enforced them */
  readonly limits: LimitsSummary | null;
  /** the last notice for its maintainers (--emails), and whether it reached the notifier */
  readonly notice?: NoticeNote | null;
  /** 1-based attempt of `attempts` (1 + --retry) */
  readonly attempt: number;
  readonly attempts: number;
  /** continuous jobs: restarts since the supervisor started */
  readonly restarts: number;
  readonly message: string;
  readonly updatedAt: number;
}

export function jobsDir(runtimeDir: string): string {
  return path.join(runtimeDir, 'jobs');
}

export function recordPath(runtimeDir: string, job: string): string {
  return path.join(jobsDir(runtimeDir), `${job}.json`);
}

/** the output of a job without file logs (`toolhost jobs logs`), kept until its next run */
export function internalLogPath(runtimeDir: string, job: string): string {
  return path.join(jobsDir(runtimeDir), `${job}.log`);
}

/** a maintainer's `jobs restart NAME` for a continuous job, picked up by the supervisor */
export function restartRequestPath(runtimeDir: string, job: string): string {
  return path.join(jobsDir(runtimeDir), `${job}.restart`);
}

export function writeRecord(runtimeDir: string, record: JobRecord): void {
  mkdirSync(jobsDir(runtimeDir), { recursive: true, mode: 0o750 });
  const file = recordPath(runtimeDir, record.job);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`, { flag: 'wx', mode: 0o640 });
  renameSync(tmp, file);
}

/** the job's record; read as a tool file when owner is given (a root reader) */
export function readRecord(runtimeDir: string, job: string, owner?: Pick<Owner, 'uid'>): JobRecord | null {
  try {
    if (owner) {
      const r = readOwnedFile(recordPath(runtimeDir, job), owner);
      return r.ok ? (JSON.parse(r.text) as JobRecord) : null;
    }
    return JSON.parse(readFileSync(recordPath(runtimeDir, job), 'utf8')) as JobRecord;
  } catch {
    return null;
  }
}

export function removeRecord(runtimeDir: string, job: string): void {
  for (const f of [recordPath(runtimeDir, job), internalLogPath(runtimeDir, job), restartRequestPath(runtimeDir, job)]) rmSync(f, { force: true });
}

/** a record of no run yet (a job defined, or fired, before anything ran) */
export function emptyRecord(job: string, trigger: JobRecord['trigger'], attempts: number, runId = ''): JobRecord {
  return {
    job,
    runId,
    runner: null,
    trigger,
    status: 'starting',
    pid: null,
    startTicks: null,
    scheduledFor: null,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    signal: null,
    cause: null,
    limits: null,
    attempt: 0,
    attempts,
    restarts: 0,
    message: '',
    updatedAt: Date.now(),
  };
}
