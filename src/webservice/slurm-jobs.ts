// `toolhost jobs … --backend slurm` (issue 15): a continuous job is a long-running requeueable
// Slurm job running the tool's supervisor for that one job (restarts, health checks, logs as on
// this host); a one-off run is a batch job; a scheduled job is fired by the host monitor, whose
// runner submits each run as a batch job (Debian 12 ships no scrontab: docs/reference/jobs.md).
// As the tool, like everything `toolhost jobs` does; jobs are found by the tool's uid and their
// names in Slurm. Loaded only when a job uses the Slurm backend.
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { readJobs, removeRecord, writeJobs, writeRecord, emptyRecord, type JobSpec } from '../jobs/index.js';
import { submitSlurmRun } from '../jobs/slurm-run.js';
import { resourcesOf } from '../limits/quota.js';
import { jobJobName, jobNamePrefix, slurmResources, type SlurmJob } from '../slurm/index.js';
import type { ControlContext } from './control.js';
import { SERVICE_LOG } from './service-state.js';
import { jobEnvironment, jobScript, slurmBackend, type SlurmBackend } from './slurm-control.js';

function myUid(): number {
  return process.getuid?.() ?? 0;
}

async function submitContinuous(ctx: ControlContext, backend: SlurmBackend, spec: JobSpec): Promise<number> {
  const args = [
    `--job-name=${jobJobName(ctx.tool.name, spec.name)}`,
    `--partition=${spec.partition ?? backend.settings.partition}`,
    '--requeue',
    `--chdir=${ctx.tool.home}`,
    `--output=${path.join(ctx.tool.home, SERVICE_LOG)}`,
    '--open-mode=append',
    '--export=ALL',
    ...slurmResources(resourcesOf(spec)),
  ];
  return backend.client.submit(jobScript(ctx, ['--job', spec.name]), args, jobEnvironment(ctx, backend.settings));
}

/** submit what the job needs now: its Slurm job id (a one-off's run, a continuous job), or null (scheduled) */
async function submit(ctx: ControlContext, backend: SlurmBackend, spec: JobSpec, trigger: 'run' | 'restart'): Promise<number | null> {
  if (spec.type === 'scheduled') return null;
  if (spec.type === 'continuous') return submitContinuous(ctx, backend, spec);
  const startedAt = Date.now();
  const id = await submitSlurmRun(ctx.tool, spec, ctx.env);
  writeRecord(ctx.runtimeDir, { ...emptyRecord(spec.name, trigger, spec.retry + 1), status: 'succeeded', startedAt, finishedAt: Date.now(), message: `submitted as Slurm job ${id}` });
  return id;
}

/** a new job on the Slurm backend: in ~/jobs.manifest, and submitted (taken out again if Slurm refuses it) */
export async function defineSlurmJob(ctx: ControlContext, spec: JobSpec): Promise<number | null> {
  const jobs = readJobs(ctx.tool.home);
  if (jobs.some((j) => j.name === spec.name)) throw new ToolhostError('TH_ERR_JOB_EXISTS', spec.name);
  const backend = slurmBackend(ctx.env);
  await backend.client.checkPartition(spec.partition ?? backend.settings.partition);
  writeJobs(ctx.tool.home, [...jobs, spec]);
  removeRecord(ctx.runtimeDir, spec.name);
  try {
    return await submit(ctx, backend, spec, 'run');
  } catch (err) {
    writeJobs(ctx.tool.home, readJobs(ctx.tool.home).filter((j) => j.name !== spec.name));
    throw err;
  }
}

/** the tool's Slurm jobs by job name, newest first (those that ended within Slurm's MinJobAge too) */
export async function slurmJobsByName(ctx: ControlContext): Promise<Map<string, SlurmJob[]>> {
  const prefix = jobNamePrefix(ctx.tool.name);
  const all = await slurmBackend(ctx.env).client.jobsOf(myUid(), undefined, true);
  const out = new Map<string, SlurmJob[]>();
  for (const job of all.filter((j) => j.name.startsWith(prefix)).sort((x, y) => y.id - x.id)) {
    const name = job.name.slice(prefix.length);
    out.set(name, [...(out.get(name) ?? []), job]);
  }
  return out;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

/** the Slurm jobs of these job names ended: a continuous one's supervisor asked first (it stops its unit itself) */
export async function cancelSlurmJobs(ctx: ControlContext, names: readonly string[]): Promise<void> {
  const backend = slurmBackend(ctx.env);
  const mine = async (): Promise<SlurmJob[]> => (await backend.client.jobsOf(myUid())).filter((j) => names.some((n) => j.name === jobJobName(ctx.tool.name, n)));
  const live = await mine();
  for (const job of live) {
    if (job.state === 'RUNNING') await backend.client.signalBatch(job.id, 'TERM').catch(() => backend.client.cancel(job.id).catch(() => {}));
    else await backend.client.cancel(job.id).catch(() => {});
  }
  const deadline = Date.now() + 20_000;
  while ((await mine()).some((j) => !ENDED.has(j.state) && j.state !== 'COMPLETING')) {
    if (Date.now() > deadline) {
      for (const job of await mine()) await backend.client.cancel(job.id);
      return;
    }
    await sleep(100);
  }
}

/** `jobs restart NAME` on Slurm: a continuous job ended and submitted again; another job run again now */
export async function restartSlurmJob(ctx: ControlContext, spec: JobSpec): Promise<number | null> {
  if (spec.type === 'continuous') await cancelSlurmJobs(ctx, [spec.name]);
  return submit(ctx, slurmBackend(ctx.env), spec.type === 'scheduled' ? { ...spec, type: 'one-off' } : spec, 'restart');
}

/** `jobs list`'s status of a job on Slurm, from what Slurm says of its newest job */
export function slurmStatusText(spec: JobSpec, jobs: readonly SlurmJob[] | undefined, submitted: string | null): string {
  const job = jobs?.[0];
  if (!job) {
    if (spec.type === 'continuous') return 'Not running (no Slurm job)';
    return submitted ? `Finished (${submitted})` : spec.type === 'scheduled' ? 'Waiting for its first run' : 'Not running';
  }
  const where = `Slurm job ${job.id}${job.node && !ENDED.has(job.state) ? ` on ${job.node}` : ''}`;
  switch (job.state) {
    case 'PENDING':
      return `Queued (${where}: ${job.reason})`;
    case 'RUNNING':
    case 'CONFIGURING':
      return `Running (${where})`;
    case 'COMPLETING':
      return `Ending (${where})`;
    case 'COMPLETED':
      return `Completed (${where})`;
    default:
      return `${job.state.charAt(0)}${job.state.slice(1).toLowerCase().replace(/_/g, ' ')} (${where})`;
  }
}
