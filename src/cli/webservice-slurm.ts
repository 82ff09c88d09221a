// `webservice --backend slurm …` (issue 15): what the maintainer sees of a webservice that runs as
// a Slurm job — its job id, Slurm's state, the node and the server's URL — and the one-line
// errors of a backend switch. Loaded only when the Slurm backend is used.
import { ToolhostError } from '../errors.js';
import type { ControlContext } from '../webservice/index.js';
import { webserviceRunsHere } from '../webservice/control.js';
import type { Manifest } from '../webservice/manifest.js';
import { restartSlurmWebservice, slurmBackend, slurmWebStatus, startSlurmWebservice, stopSlurmWebservice, type SlurmWebStatus } from '../webservice/slurm-control.js';
import type { CliIo } from './io.js';

/** the webservice runs on this host: a Slurm start would run it twice */
function refuseIfLocal(ctx: ControlContext): void {
  if (webserviceRunsHere(ctx)) throw new ToolhostError('TH_ERR_BACKEND_MISMATCH', 'your webservice', 'local', 'slurm', 'webservice stop', 'slurm');
}

/** the webservice runs as a Slurm job: a local start would run it twice */
export async function refuseIfOnSlurm(ctx: ControlContext): Promise<void> {
  const s = await slurmWebStatus(ctx, slurmBackend(ctx.env));
  if (s.job) throw new ToolhostError('TH_ERR_BACKEND_MISMATCH', `your webservice (Slurm job ${s.job.id})`, 'slurm', 'local', 'webservice stop', 'local');
}

function where(s: SlurmWebStatus): string {
  const job = s.job;
  if (!job) return '';
  return job.node ? `Slurm job ${job.id} on ${job.node}${s.nodeAddress ? ` (${s.nodeAddress})` : ''}` : `Slurm job ${job.id}`;
}

/** one line for start and restart; the exit code */
function report(s: SlurmWebStatus, ctx: ControlContext, io: CliIo): number {
  const job = s.job;
  if (!job) {
    io.out('Your webservice\'s Slurm job ended at once; see ~/service.log and ~/error.log.\n');
    return 1;
  }
  if (job.state === 'PENDING') {
    io.out(`Your webservice is queued as Slurm job ${job.id} in partition ${job.partition} (waiting: ${job.reason}); it starts when a node has room.\n`);
    return 0;
  }
  if (s.server?.state === 'running') {
    io.out(`Your webservice is running as ${where(s)}: ${s.server.url}; the proxy routes /${ctx.tool.name}/ to it.\n`);
    return 0;
  }
  io.out(`Your webservice (${where(s)}) is ${s.server?.state ?? job.state.toLowerCase()}. See ~/service.log and ~/error.log.\n`);
  return 1;
}

export async function slurmStart(ctx: ControlContext, manifest: Manifest, io: CliIo): Promise<number> {
  const backend = slurmBackend(ctx.env);
  refuseIfLocal(ctx);
  io.err(`Submitting your webservice to Slurm (partition ${manifest.partition ?? backend.settings.partition})...\n`);
  const r = await startSlurmWebservice(ctx, backend, manifest);
  if (r.alreadyRunning) {
    io.out(`Your webservice is already ${r.status.job?.state === 'PENDING' ? 'queued' : 'running'} as ${where(r.status)}${r.status.server?.url ? `: ${r.status.server.url}` : ''}.\n`);
    return 0;
  }
  return report(r.status, ctx, io);
}

export async function slurmRestart(ctx: ControlContext, manifest: Manifest, io: CliIo): Promise<number> {
  const backend = slurmBackend(ctx.env);
  refuseIfLocal(ctx);
  io.err('Restarting webservice...\n');
  return report((await restartSlurmWebservice(ctx, backend, manifest)).status, ctx, io);
}

export async function slurmStop(ctx: ControlContext, io: CliIo): Promise<number> {
  const was = await stopSlurmWebservice(ctx, slurmBackend(ctx.env));
  io.out(was ? 'Your webservice is stopped (its Slurm job ended); its route is removed.\n' : 'Your webservice is not running.\n');
  return 0;
}

export async function slurmStatus(ctx: ControlContext, manifest: Manifest, json: boolean, io: CliIo): Promise<number> {
  const s = await slurmWebStatus(ctx, slurmBackend(ctx.env));
  const job = s.job;
  if (json) {
    io.out(
      `${JSON.stringify({
        tool: ctx.tool.name,
        type: manifest.type,
        backend: 'slurm',
        state: job ? (job.state === 'PENDING' ? 'queued' : (s.server?.state ?? 'starting')) : 'stopped',
        url: s.server?.url ?? null,
        slurm: job ? { jobId: job.id, state: job.state, reason: job.reason, node: job.node || null, nodeAddress: s.nodeAddress, partition: job.partition } : null,
      })}\n`,
    );
    return 0;
  }
  if (!job) {
    io.out('Your webservice is not running (it has no Slurm job; webservice start submits one).\n');
    return 0;
  }
  io.out(`Your webservice runs on Slurm (${manifest.type}).\n`);
  io.out(`  slurm job   ${job.id}, ${job.state}${job.state === 'PENDING' ? ` (${job.reason})` : ''}, partition ${job.partition}\n`);
  if (job.node) io.out(`  node        ${job.node}${s.nodeAddress ? ` (${s.nodeAddress})` : ''}\n`);
  if (s.server) io.out(`  server      ${s.server.state}${s.server.url ? `, ${s.server.url}` : ''}\n`);
  return 0;
}
