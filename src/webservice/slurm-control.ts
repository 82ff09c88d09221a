// `webservice --backend slurm start|stop|restart|status` (issue 15): the tool's supervised server
// as a Slurm job in the operator's partition, with the tool's --mem and --cpu. Everything here
// runs as the tool (root drops to the tool first), so sbatch and scancel carry the tool's uid;
// the job is found by what Slurm says — the tool's uid and the job's name — never by a file in
// the tool's home. Loaded only when the Slurm backend is used.
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { toolProcessEnvironment } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { resourcesOf } from '../limits/quota.js';
import { PACKAGE_ROOT } from '../package-files.js';
import { isActive, SlurmClient, slurmResources, slurmSettings, webJobName, type SlurmJob, type SlurmSettings } from '../slurm/index.js';
import { serverContext, type ControlContext } from './control.js';
import { removeManifest, writeManifest, type Manifest } from './manifest.js';
import { SERVICE_LOG } from './service-state.js';

/** the compiled program a Slurm job runs (a .js module), whether this code runs compiled or from src/ */
export const SLURM_JOB_ENTRY = path.join(PACKAGE_ROOT, '.build', 'webservice', 'slurm-job-entry.js');

export interface SlurmBackend {
  readonly settings: SlurmSettings;
  readonly client: SlurmClient;
}

export function slurmBackend(env: Readonly<Record<string, string | undefined>>): SlurmBackend {
  const settings = slurmSettings(env);
  return { settings, client: SlurmClient.of(settings, env) };
}

/** what the job's supervisor last said of its server (its comment: `running http://… g1`) */
export interface ServerWord {
  readonly state: string;
  readonly url: string | null;
  readonly generation: number;
}

export function serverWord(job: SlurmJob): ServerWord | null {
  const m = /^([a-z-]+) (\S+) g(\d+)$/.exec(job.comment);
  if (!m) return null;
  return { state: m[1] as string, url: m[2] === '-' ? null : (m[2] as string), generation: Number(m[3]) };
}

export interface SlurmWebStatus {
  readonly job: SlurmJob | null;
  /** the address Slurm reaches the job's node at */
  readonly nodeAddress: string | null;
  readonly server: ServerWord | null;
}

function myUid(): number {
  return process.getuid?.() ?? 0;
}

/** the tool's webservice job as slurmctld knows it: the caller's uid and the webservice's name */
export async function slurmWebStatus(ctx: ControlContext, backend: SlurmBackend): Promise<SlurmWebStatus> {
  const jobs = await backend.client.jobsOf(myUid(), webJobName(ctx.tool.name));
  const job = jobs.find(isActive) ?? jobs[0] ?? null;
  const nodeAddress = job?.node ? await backend.client.nodeAddress(job.node) : null;
  return { job, nodeAddress, server: job ? serverWord(job) : null };
}

/** the shell script sbatch runs: the supervisor program, nothing of the caller's shell */
export function jobScript(ctx: ControlContext, unit: readonly string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\nexec ${[process.execPath, SLURM_JOB_ENTRY, '--tool', ctx.tool.name, '--home', ctx.tool.home, ...unit].map(q).join(' ')}\n`;
}

/** the job's environment: the tool's clean one (as a local supervisor gets), and where the node's registrar is */
export function jobEnvironment(ctx: ControlContext, settings: SlurmSettings): Record<string, string> {
  const env = toolProcessEnvironment(ctx.tool, ctx.env);
  // a path of the submitting host means nothing on the node: the job makes its own
  delete env.TOOLHOST_RUNTIME_DIR;
  delete env.TOOLHOST_REGISTRAR_DIR;
  if (settings.nodeRegistrarDir) env.TOOLHOST_SLURM_REGISTRAR_DIR = settings.nodeRegistrarDir;
  return env;
}

export interface SlurmStartResult {
  readonly alreadyRunning: boolean;
  readonly status: SlurmWebStatus;
}

async function waitForServer(ctx: ControlContext, backend: SlurmBackend, done: (s: SlurmWebStatus) => boolean): Promise<SlurmWebStatus> {
  const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
  for (;;) {
    const s = await slurmWebStatus(ctx, backend);
    if (done(s) || Date.now() > deadline) return s;
    await sleep(100);
  }
}

/** the job ended, its server is past starting, or it has waited in the queue for a while (start says why) */
function settledSince(submittedAt: number): (s: SlurmWebStatus) => boolean {
  return (s) => s.job === null || (s.server !== null && s.server.state !== 'starting') || (s.job.state === 'PENDING' && Date.now() - submittedAt > QUEUED_REPORT_MS);
}

/** a job still queued this long after sbatch is reported as queued rather than waited for */
const QUEUED_REPORT_MS = 5000;

/**
 * Submit the webservice as a requeueable Slurm job (or find it queued or running already) and wait
 * until its supervisor says how its server is, or the start timeout passes (a job still pending
 * is reported as such: Slurm starts it when the partition has room).
 */
export async function startSlurmWebservice(ctx: ControlContext, backend: SlurmBackend, manifest: Manifest): Promise<SlurmStartResult> {
  const existing = await slurmWebStatus(ctx, backend);
  if (existing.job) return { alreadyRunning: true, status: existing };
  const partition = manifest.partition ?? backend.settings.partition;
  await backend.client.checkPartition(partition);
  // the configuration is checked here, so its errors reach the maintainer at once, not in a job's log
  const { checkServer, ConfigProblem } = await import('./server-instance.js');
  try {
    checkServer(serverContext(ctx.tool, ctx.runtimeDir, '127.0.0.1', ctx.env, manifest));
  } catch (err) {
    if (!(err instanceof ConfigProblem)) throw err;
    throw err.error ?? new ToolhostError('TH_ERR_LIGHTTPD_REJECTED', err.lines.join('; '));
  }
  writeManifest(ctx.tool.home, { ...manifest, backend: 'slurm' });
  const args = [
    `--job-name=${webJobName(ctx.tool.name)}`,
    `--partition=${partition}`,
    // a node that fails puts the job back in the queue, to start on another node
    '--requeue',
    `--chdir=${ctx.tool.home}`,
    `--output=${path.join(ctx.tool.home, SERVICE_LOG)}`,
    '--open-mode=append',
    '--export=ALL',
    '--comment=starting - g0',
    ...slurmResources(resourcesOf(manifest)),
  ];
  const submittedAt = Date.now();
  try {
    await backend.client.submit(jobScript(ctx, ['--web']), args, jobEnvironment(ctx, backend.settings));
  } catch (err) {
    removeManifest(ctx.tool.home);
    throw err;
  }
  return { alreadyRunning: false, status: await waitForServer(ctx, backend, settledSince(submittedAt)) };
}

/** ask the job's supervisor to stop its server (routes first) and end; Slurm ends what is left */
export async function stopSlurmWebservice(ctx: ControlContext, backend: SlurmBackend): Promise<boolean> {
  const jobs = await backend.client.jobsOf(myUid(), webJobName(ctx.tool.name));
  for (const job of jobs) {
    // a job that ends meanwhile is no failure: what is still queued below is
    if (job.state === 'RUNNING') await backend.client.signalBatch(job.id, 'TERM').catch(() => backend.client.cancel(job.id).catch(() => {}));
    else await backend.client.cancel(job.id).catch(() => {});
  }
  const deadline = Date.now() + Math.min(ctx.timeoutMs ?? 60_000, 30_000);
  while (jobs.length && (await backend.client.jobsOf(myUid(), webJobName(ctx.tool.name))).some((j) => j.state !== 'COMPLETING')) {
    if (Date.now() > deadline) {
      // the supervisor did not end in time: Slurm's cancel takes every process of the job
      for (const job of await backend.client.jobsOf(myUid(), webJobName(ctx.tool.name))) await backend.client.cancel(job.id);
      await sleep(500);
      const left = await backend.client.jobsOf(myUid(), webJobName(ctx.tool.name));
      if (left.some((j) => j.state !== 'COMPLETING')) throw new ToolhostError('TH_ERR_SLURM_CANCEL_FAILED', left.map((j) => j.id).join(', '), `still ${left.map((j) => j.state).join(', ')} after scancel`);
      break;
    }
    await sleep(100);
  }
  removeManifest(ctx.tool.home);
  return jobs.length > 0;
}

/** a running job's supervisor replaces its server in place (start-first, as locally); otherwise a start */
export async function restartSlurmWebservice(ctx: ControlContext, backend: SlurmBackend, manifest: Manifest): Promise<SlurmStartResult> {
  const now = await slurmWebStatus(ctx, backend);
  const partition = manifest.partition ?? backend.settings.partition;
  const moved = now.job !== null && now.job.partition !== partition;
  if (!now.job || now.job.state !== 'RUNNING' || moved) {
    if (now.job) await stopSlurmWebservice(ctx, backend);
    return startSlurmWebservice(ctx, backend, manifest);
  }
  writeManifest(ctx.tool.home, { ...manifest, backend: 'slurm' });
  const before = now.server?.generation ?? 0;
  await backend.client.signalBatch(now.job.id, 'HUP');
  return { alreadyRunning: false, status: await waitForServer(ctx, backend, (s) => s.job === null || (s.server !== null && s.server.generation > before && s.server.state !== 'starting')) };
}
