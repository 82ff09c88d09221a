// The body of the detached supervisor process (`toolhost supervise`): one per tool, holding the
// tool's pid file. SIGTERM/SIGINT stop the webservice (route first); SIGHUP restarts it
// without downtime (re-reading ~/service.manifest).
import { readManifest } from './manifest.js';
import { claimPidFile, isAlive, readState, releasePidFile, serviceLog } from './service-state.js';
import { description, serverContext, type ControlContext } from './control.js';
import { ToolSupervisor } from './tool-supervisor.js';

/** TOOLHOST_LEASE_MS: a shorter lease than the 15 s default (tests, or a fast-failover site) */
function leaseMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const v = Number(env.TOOLHOST_LEASE_MS);
  return Number.isFinite(v) && v >= 300 ? v : undefined;
}

/** TOOLHOST_LIVENESS_MS: the liveness probe period (default 10 s) */
function livenessMs(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const v = Number(env.TOOLHOST_LIVENESS_MS);
  return Number.isFinite(v) && v >= 100 ? v : undefined;
}

/**
 * A supervisor killed outright leaves its server running without a route: the next supervisor
 * stops it before starting a fresh one, so a tool never has two servers of unknown age.
 */
function reapOrphan(ctx: ControlContext): void {
  const previous = readState(ctx.runtimeDir);
  const pid = previous?.serverPid;
  if (!pid || pid === process.pid || !isAlive(pid)) return;
  serviceLog(ctx.tool.home, `supervisor: stopping the server left by a supervisor that died (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone meanwhile, or not ours to signal
  }
}

export async function runSupervisor(ctx: ControlContext): Promise<number> {
  const manifest = readManifest(ctx.tool.home);
  if (!manifest) {
    serviceLog(ctx.tool.home, 'supervisor: no ~/service.manifest; nothing to run');
    return 1;
  }
  if (!claimPidFile(ctx.runtimeDir)) {
    serviceLog(ctx.tool.home, 'supervisor: another supervisor of this tool is running; exiting');
    return 0;
  }
  const supervisor = new ToolSupervisor({
    server: serverContext(ctx, manifest),
    redisUrl: ctx.redisUrl,
    description: description(ctx.tool),
    ...(manifest.healthCheckScript ? { healthCheckScript: manifest.healthCheckScript } : {}),
    ...(leaseMs(ctx.env) !== undefined ? { leaseMs: leaseMs(ctx.env) } : {}),
    ...(livenessMs(ctx.env) !== undefined ? { livenessIntervalMs: livenessMs(ctx.env) } : {}),
  });
  const stop = (): void => {
    void supervisor.stop();
  };
  const hup = (): void => {
    const current = readManifest(ctx.tool.home);
    if (current && current.type === manifest.type) supervisor.setServer(serverContext(ctx, current), current.healthCheckScript);
    void supervisor.restart('webservice restart');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hup);
  process.on('uncaughtException', (err) => {
    serviceLog(ctx.tool.home, `supervisor: internal error: ${err.stack ?? err.message}`);
    process.exit(70);
  });
  reapOrphan(ctx);
  serviceLog(ctx.tool.home, `supervisor ${process.pid}: starting the ${manifest.type} webservice`);
  await supervisor.start();
  await supervisor.stoppedPromise;
  releasePidFile(ctx.runtimeDir);
  return 0;
}
