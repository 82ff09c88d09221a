// The body of the per-tool supervisor process: one per tool, holding the tool's pid file,
// running as the tool, supervising the tool's long-lived units — its webservice
// (~/service.manifest) and its continuous jobs (~/jobs.manifest) — and exiting when there is
// none left. Signals:
//   SIGTERM, SIGINT  stop everything (routes first) and exit
//   SIGUSR1          read the manifests again: start what is new, stop what is gone, restart
//                    what changed, and the jobs with a restart request (`jobs restart`)
//   SIGHUP           the same, and restart the webservice (`webservice restart`)
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Tool } from '../accounts/index.js';
import { isToolhostError } from '../errors.js';
import { JobUnit, jobsDir, orphanOfRecord, readJobs, readRecord, restartRequestPath, type JobSpec } from '../jobs/index.js';
import { HELPERS_UNIT } from '../limits/index.js';
import { ToolLogs, toolLogPolicy, type ToolLogPolicy } from '../logs/index.js';
import { RegistrarClient } from '../registrar/index.js';
import { normalizeDescription } from '../routes/index.js';
import { processInfo, type Orphan } from '../supervisor/index.js';
import { serverContext, type ControlContext } from './control.js';
import { readManifest, type Manifest } from './manifest.js';
import { capServiceLog, claimPidFile, isAlive, readState, releasePidFile, serviceLog } from './service-state.js';
import { LOCAL_SCOPE, scopeJobs, scopeRunsWeb, type SupervisorScope } from './supervisor-scope.js';
import { WebUnit } from './web-unit.js';

/** TOOLHOST_LIVENESS_MS: the liveness period of the webservice and of continuous jobs' health checks (default 10 s) */
function livenessMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const v = Number(env.TOOLHOST_LIVENESS_MS);
  return Number.isFinite(v) && v >= 100 ? v : undefined;
}

/** ~/.description, the tool's one line for the home page */
export function description(tool: Tool): string | null {
  try {
    return normalizeDescription(readFileSync(path.join(tool.home, '.description'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * The webservice a supervisor killed outright left running, still routed. It is that server only
 * if the kernel names the same process — same pid, same start time, this uid — (or, for a state
 * file written before servers led their own groups, if it is still in the dead supervisor's
 * process group); it keeps serving until its successor is routed, then its group is stopped.
 */
function webOrphan(ctx: ControlContext): Orphan | null {
  const previous = readState(ctx.runtimeDir);
  const pid = previous?.serverPid;
  if (!previous || !pid || pid === process.pid || !isAlive(pid)) return null;
  const info = processInfo(pid);
  if (!info || info.uid !== process.getuid?.()) return null;
  const same = typeof previous.serverStartTicks === 'number' ? info.startTicks === previous.serverStartTicks : info.pgid === previous.supervisorPid;
  if (!same) return null;
  return { pid, pgid: info.pgid, port: previous.port };
}

interface HostedJob {
  readonly spec: JobSpec;
  readonly unit: JobUnit;
}

class ToolSupervisorProcess {
  readonly #ctx: ControlContext;
  readonly #registrar: RegistrarClient;
  readonly #address: string;
  readonly #logs: ToolLogs;
  readonly #scope: SupervisorScope;
  #web: { unit: WebUnit; manifest: Manifest } | null = null;
  readonly #jobs = new Map<string, HostedJob>();
  #queue: Promise<void> = Promise.resolve();
  #stopping = false;
  #done: () => void = () => {};
  readonly done = new Promise<void>((resolve) => (this.#done = resolve));

  constructor(ctx: ControlContext, registrar: RegistrarClient, address: string, logs: ToolLogs, scope: SupervisorScope) {
    this.#ctx = ctx;
    this.#scope = scope;
    this.#registrar = registrar;
    this.#address = address;
    this.#logs = logs;
  }

  #log(line: string): void {
    serviceLog(this.#ctx.tool.home, line);
  }

  /** one reconfiguration at a time */
  #serial(op: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(op, op);
    return this.#queue;
  }

  reload(restartWeb: boolean): Promise<void> {
    return this.#serial(async () => {
      if (this.#stopping) return;
      await this.#reconcileWeb(restartWeb);
      await this.#reconcileJobs();
      if (!this.#web && this.#jobs.size === 0) {
        this.#log('supervisor: nothing left to run; exiting');
        this.#finish();
      }
    });
  }

  stop(): Promise<void> {
    return this.#serial(async () => {
      if (this.#stopping) return;
      this.#stopping = true;
      await Promise.all([this.#web?.unit.stop(), ...[...this.#jobs.values()].map((j) => j.unit.stop())]);
      this.#web = null;
      this.#jobs.clear();
      this.#finish();
    });
  }

  #finish(): void {
    this.#registrar.close();
    this.#done();
  }

  async #reconcileWeb(restart: boolean): Promise<void> {
    const read = readManifest(this.#ctx.tool.home);
    const manifest = scopeRunsWeb(this.#scope, read) ? read : null;
    const web = this.#web;
    if (!manifest) {
      if (web) {
        await web.unit.stop();
        this.#web = null;
      }
      return;
    }
    const server = serverContext(this.#ctx.tool, this.#ctx.runtimeDir, this.#address, this.#ctx.env, manifest);
    if (!web || web.manifest.type !== manifest.type) {
      if (web) await web.unit.stop();
      const unit = new WebUnit({
        server,
        registrar: this.#registrar,
        description: description(this.#ctx.tool),
        orphan: web ? null : webOrphan(this.#ctx),
        logs: this.#logs,
        ...(manifest.healthCheckScript ? { healthCheckScript: manifest.healthCheckScript } : {}),
        ...(livenessMs(this.#ctx.env) !== undefined ? { livenessIntervalMs: livenessMs(this.#ctx.env) } : {}),
      });
      this.#web = { unit, manifest };
      this.#log(`supervisor ${process.pid}: starting the ${manifest.type} webservice`);
      void unit.start();
      return;
    }
    if (restart || JSON.stringify(web.manifest) !== JSON.stringify(manifest)) {
      web.unit.setServer(server, manifest.healthCheckScript);
      this.#web = { unit: web.unit, manifest };
      void web.unit.restart('webservice restart');
    }
  }

  async #reconcileJobs(): Promise<void> {
    const wanted = new Map(scopeJobs(this.#scope, readJobs(this.#ctx.tool.home)).map((j) => [j.name, j]));
    for (const [name, hosted] of [...this.#jobs]) {
      const spec = wanted.get(name);
      if (spec && JSON.stringify(spec) === JSON.stringify(hosted.spec)) continue;
      // gone, or defined anew: stopped (a bot never runs twice), then started again below
      this.#jobs.delete(name);
      await hosted.unit.stop();
    }
    for (const [name, spec] of wanted) {
      const hosted = this.#jobs.get(name);
      const request = restartRequestPath(this.#ctx.runtimeDir, name);
      const requested = this.#takeRequest(request);
      if (hosted) {
        if (requested) void hosted.unit.unit.restart('jobs restart');
        continue;
      }
      const unit = new JobUnit({
        tool: this.#ctx.tool,
        runtimeDir: this.#ctx.runtimeDir,
        spec,
        env: this.#ctx.env,
        registrar: this.#registrar,
        address: this.#address,
        description: description(this.#ctx.tool),
        orphan: orphanOfRecord(readRecord(this.#ctx.runtimeDir, name)),
        ...(livenessMs(this.#ctx.env) !== undefined ? { health: { livenessIntervalMs: livenessMs(this.#ctx.env) as number } } : {}),
        log: (line) => this.#log(line),
        logs: this.#logs,
      });
      this.#jobs.set(name, { spec, unit });
      void unit.unit.start();
    }
    // requests for jobs that are not continuous (any more) are dropped
    try {
      for (const f of readdirSync(jobsDir(this.#ctx.runtimeDir))) if (f.endsWith('.restart') && !wanted.has(f.slice(0, -'.restart'.length))) rmSync(path.join(jobsDir(this.#ctx.runtimeDir), f), { force: true });
    } catch {
      // no jobs directory yet
    }
  }

  #takeRequest(file: string): boolean {
    try {
      rmSync(file);
      return true;
    } catch {
      return false;
    }
  }
}

/** the caps of the tool's logs; a bad setting leaves them uncapped (said in ~/service.log), never the tool down */
function logPolicy(ctx: ControlContext): ToolLogPolicy | null {
  try {
    const policy = toolLogPolicy(ctx.tool.name, ctx.env);
    capServiceLog(policy.files);
    return policy;
  } catch (err) {
    serviceLog(ctx.tool.home, `logs: ${isToolhostError(err) ? `${err.message} [${err.code}]` : (err as Error).message}; the tool's logs are not capped`);
    return null;
  }
}

export async function runSupervisor(ctx: ControlContext, scope: SupervisorScope = LOCAL_SCOPE): Promise<number> {
  if (!scopeRunsWeb(scope, readManifest(ctx.tool.home)) && scopeJobs(scope, readJobs(ctx.tool.home)).length === 0) {
    serviceLog(ctx.tool.home, `supervisor: ${scope.kind === 'local' ? 'no ~/service.manifest and no continuous job in ~/jobs.manifest to run on this host' : scope.kind === 'slurm-web' ? 'no Slurm webservice in ~/service.manifest' : `no continuous Slurm job ${scope.job} in ~/jobs.manifest`} (or not your own files); nothing to run`);
    return 1;
  }
  if (!claimPidFile(ctx.runtimeDir, ctx.tool.name)) {
    serviceLog(ctx.tool.home, 'supervisor: another supervisor of this tool is running; exiting');
    return 0;
  }
  const registrar = new RegistrarClient({ dir: ctx.registrarDir, tool: ctx.tool.name, reconnect: true, log: (l) => serviceLog(ctx.tool.home, l) });
  let address: string;
  try {
    address = (await registrar.connect(30_000)).address;
  } catch (err) {
    serviceLog(ctx.tool.home, `supervisor: ${isToolhostError(err) ? `${err.message} [${err.code}]` : (err as Error).message}`);
    releasePidFile(ctx.runtimeDir);
    return 1;
  }
  // the supervisor counts among the tool's processes: in its helpers' cgroup, under its pids quota
  await registrar.place(HELPERS_UNIT, process.pid).catch((err: Error) => serviceLog(ctx.tool.home, `supervisor: not placed in the tool's cgroup: ${err.message}`));
  const logs = new ToolLogs({ policy: logPolicy(ctx), pipeDir: path.join(ctx.runtimeDir, 'pipes'), onProblem: (line) => serviceLog(ctx.tool.home, line) });
  const supervisor = new ToolSupervisorProcess(ctx, registrar, address, logs, scope);
  process.on('SIGTERM', () => void supervisor.stop());
  process.on('SIGINT', () => void supervisor.stop());
  process.on('SIGHUP', () => void supervisor.reload(true));
  process.on('SIGUSR1', () => void supervisor.reload(false));
  process.on('uncaughtException', (err) => {
    serviceLog(ctx.tool.home, `supervisor: internal error: ${err.stack ?? err.message}`);
    process.exit(70);
  });
  await supervisor.reload(false);
  await supervisor.done;
  await logs.close();
  releasePidFile(ctx.runtimeDir);
  return 0;
}
