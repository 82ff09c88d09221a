// What `toolhost jobs run|delete|flush|restart|load` do, as the tool: change ~/jobs.manifest and
// have it acted on — a one-off run started at once in a runner process, a continuous job by the
// tool's supervisor (woken, or started), a scheduled job by the host monitor's next pass.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import {
  launchRun,
  readJobs,
  readRecord,
  readScheduleState,
  removeRecord,
  restartRequestPath,
  writeJobs,
  type JobRecord,
  type JobScheduleState,
  type JobSpec,
} from '../jobs/index.js';
import { processInfo } from '../supervisor/index.js';
import { unitName } from '../limits/index.js';
import { withRegistrar } from '../registrar/index.js';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { jobsDir } from '../jobs/index.js';
import { supervisorRunning, wakeSupervisor, type ControlContext } from './control.js';

export interface JobsContext extends ControlContext {
  /** the monitor's schedule state directory (read only) */
  readonly stateDir: string;
}

export interface JobStatus {
  readonly spec: JobSpec;
  readonly record: JobRecord | null;
  readonly schedule: JobScheduleState | null;
}

export function jobStatuses(ctx: JobsContext): JobStatus[] {
  const schedules = readScheduleState(ctx.stateDir, ctx.tool.name)?.jobs ?? {};
  return readJobs(ctx.tool.home).map((spec) => ({ spec, record: readRecord(ctx.runtimeDir, spec.name), schedule: schedules[spec.name] ?? null }));
}

export function findJob(ctx: JobsContext, name: string): JobSpec {
  const spec = readJobs(ctx.tool.home).find((j) => j.name === name);
  if (!spec) throw new ToolhostError('TH_ERR_JOB_UNKNOWN', name);
  return spec;
}

/** start a run of a one-off or scheduled job now; its run id */
export function startRun(ctx: JobsContext, spec: JobSpec, trigger: JobRecord['trigger']): string {
  mkdirSync(ctx.runtimeDir, { recursive: true, mode: 0o750 });
  return launchRun({ tool: ctx.tool, runtimeDir: ctx.runtimeDir, job: spec.name, trigger, env: ctx.env, as: null });
}

/** define a new job and set it going; the run id of a one-off */
export function defineJob(ctx: JobsContext, spec: JobSpec): string | null {
  const jobs = readJobs(ctx.tool.home);
  if (jobs.some((j) => j.name === spec.name)) throw new ToolhostError('TH_ERR_JOB_EXISTS', spec.name);
  writeJobs(ctx.tool.home, [...jobs, spec]);
  // a record of a job of the same name deleted earlier is not this one's
  removeRecord(ctx.runtimeDir, spec.name);
  if (spec.type === 'one-off') return startRun(ctx, spec, 'run');
  if (spec.type === 'continuous') wakeSupervisor(ctx);
  return null;
}

/** wait until the run (by id) has finished; its record */
export async function waitForRun(ctx: JobsContext, name: string, runId: string, timeoutMs: number): Promise<JobRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = readRecord(ctx.runtimeDir, name);
    if (rec && rec.runId === runId && rec.finishedAt !== null) return rec;
    if (Date.now() > deadline) throw new ToolhostError('TH_ERR_JOB_WAIT_TIMEOUT', name, Math.round(timeoutMs / 1000));
    await sleep(50);
  }
}

function isLive(p: { pid: number; startTicks: number } | null): boolean {
  if (!p) return false;
  const info = processInfo(p.pid);
  return info !== null && info.startTicks === p.startTicks && info.uid === process.getuid?.();
}

/** how long a stopped run's processes have to end after SIGTERM before they are killed */
const RUN_STOP_GRACE_MS = 10_000;

/**
 * End a run in progress: its runner first (so it records nothing after), then the job's group
 * (SIGTERM), then whatever is left in its cgroup — what escaped the group too — killed, and the
 * cgroup released.
 */
async function stopRun(ctx: JobsContext, job: string, rec: JobRecord | null): Promise<void> {
  if (!rec || rec.finishedAt !== null) return;
  signalRun(rec);
  const deadline = Date.now() + RUN_STOP_GRACE_MS;
  while (rec.pid && rec.startTicks !== null && isLive({ pid: rec.pid, startTicks: rec.startTicks }) && Date.now() < deadline) await sleep(20);
  await withRegistrar(ctx.registrarDir, ctx.tool.name, (c) => c.release(unitName('run', job)), 1000).catch(() => {
    // no registrar: no cgroup to release
  });
}

function signalRun(rec: JobRecord): void {
  if (rec.trigger !== 'supervisor' && rec.runner && isLive(rec.runner)) {
    try {
      process.kill(rec.runner.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  if (rec.pid && rec.startTicks !== null && isLive({ pid: rec.pid, startTicks: rec.startTicks })) {
    for (const sig of ['SIGTERM', 'SIGCONT'] as const) {
      try {
        process.kill(-rec.pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** delete jobs (every one, or those named): runs in progress are stopped, continuous ones by the supervisor */
export async function deleteJobs(ctx: JobsContext, names: readonly string[] | null): Promise<string[]> {
  const jobs = readJobs(ctx.tool.home);
  const going = names === null ? jobs : jobs.filter((j) => names.includes(j.name));
  if (names !== null) for (const n of names) if (!jobs.some((j) => j.name === n)) throw new ToolhostError('TH_ERR_JOB_UNKNOWN', n);
  writeJobs(ctx.tool.home, jobs.filter((j) => !going.includes(j)));
  // Slurm's jobs are ended by Slurm (issue 15); the code for it loads only when there are any
  const onSlurm = going.filter((j) => j.backend === 'slurm');
  if (onSlurm.length) await (await import('./slurm-jobs.js')).cancelSlurmJobs(ctx, onSlurm.map((j) => j.name));
  const continuous = going.filter((j) => j.type === 'continuous' && j.backend !== 'slurm');
  if (continuous.length && supervisorRunning(ctx)) {
    wakeSupervisor(ctx);
    const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
    // until the supervisor has written its last word on each (or is gone): nothing after it
    const settled = (j: JobSpec): boolean => {
      const status = readRecord(ctx.runtimeDir, j.name)?.status;
      return status === undefined || status === 'stopped' || !supervisorRunning(ctx);
    };
    while (!continuous.every(settled)) {
      if (Date.now() > deadline) throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', ctx.tool.name, 'stop the job', Math.round((ctx.timeoutMs ?? 60_000) / 1000));
      await sleep(20);
    }
  }
  await Promise.all(going.filter((j) => j.type !== 'continuous').map((j) => stopRun(ctx, j.name, readRecord(ctx.runtimeDir, j.name))));
  for (const j of going) removeRecord(ctx.runtimeDir, j.name);
  return going.map((j) => j.name);
}

/** `jobs restart NAME`: a continuous job stopped and started again; another job run now */
export async function restartJob(ctx: JobsContext, name: string): Promise<string | null> {
  const spec = findJob(ctx, name);
  if (spec.type !== 'continuous') {
    await stopRun(ctx, name, readRecord(ctx.runtimeDir, name));
    return startRun(ctx, spec, 'restart');
  }
  mkdirSync(jobsDir(ctx.runtimeDir), { recursive: true, mode: 0o750 });
  closeSync(openSync(restartRequestPath(ctx.runtimeDir, name), 'a', 0o640));
  wakeSupervisor(ctx);
  return null;
}

export interface LoadResult {
  readonly created: readonly string[];
  readonly replaced: readonly string[];
  readonly unchanged: readonly string[];
  readonly deleted: readonly string[];
}

/**
 * `jobs load FILE [--job NAME]`: the file's jobs become the tool's (Toolforge: jobs not in it are
 * flushed; one whose definition differs is deleted and defined again; an identical one is left
 * running). A one-off entry with `wait: true` is waited for before the next is loaded.
 */
export async function loadJobs(ctx: JobsContext, entries: readonly { spec: JobSpec; wait: boolean }[], only: string | null, waitMs: number): Promise<LoadResult> {
  const chosen = only === null ? entries : entries.filter((e) => e.spec.name === only);
  if (only !== null && chosen.length === 0) throw new ToolhostError('TH_ERR_JOB_UNKNOWN', only);
  const current = readJobs(ctx.tool.home);
  const same = (a: JobSpec, b: JobSpec): boolean => JSON.stringify(a) === JSON.stringify(b);
  const unchanged = chosen.filter((e) => current.some((c) => same(c, e.spec))).map((e) => e.spec.name);
  const replaced = chosen.filter((e) => current.some((c) => c.name === e.spec.name && !same(c, e.spec))).map((e) => e.spec.name);
  const deleted = only === null ? current.filter((c) => !chosen.some((e) => e.spec.name === c.name)).map((c) => c.name) : [];
  if (replaced.length || deleted.length) await deleteJobs(ctx, [...replaced, ...deleted]);
  const created: string[] = [];
  for (const e of chosen) {
    if (unchanged.includes(e.spec.name)) continue;
    const runId = e.spec.backend === 'slurm' ? ((await (await import('./slurm-jobs.js')).defineSlurmJob(ctx, e.spec)), null) : defineJob(ctx, e.spec);
    if (!replaced.includes(e.spec.name)) created.push(e.spec.name);
    if (e.wait && runId) await waitForRun(ctx, e.spec.name, runId, waitMs);
  }
  return { created, replaced, unchanged, deleted };
}

export type { Tool };
