// The body of the detached supervisor process: one per tool, holding the tool's pid file,
// running as the tool. SIGTERM/SIGINT stop the webservice (route first); SIGHUP restarts it
// without downtime (re-reading ~/service.manifest).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Tool } from '../accounts/index.js';
import { isToolhostError } from '../errors.js';
import { RegistrarClient } from '../registrar/index.js';
import { normalizeDescription } from '../routes/index.js';
import { processInfo } from '../supervisor/index.js';
import { serverContext, type ControlContext } from './control.js';
import { readManifest } from './manifest.js';
import { claimPidFile, isAlive, readState, releasePidFile, serviceLog } from './service-state.js';
import type { Orphan } from '../supervisor/index.js';
import { WebUnit } from './web-unit.js';

/** TOOLHOST_LIVENESS_MS: the liveness probe period (default 10 s) */
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
 * A supervisor killed outright leaves its server running, still routed. It is this server only
 * if it is still in the dead supervisor's process group; it keeps serving until the new server
 * is routed (tool-supervisor.ts retires it then).
 */
function orphanOf(ctx: ControlContext): Orphan | null {
  const previous = readState(ctx.runtimeDir);
  const pid = previous?.serverPid;
  if (!previous || !pid || pid === process.pid || !isAlive(pid)) return null;
  // while that group has a member the kernel does not reuse its id: a match is the old server
  const info = processInfo(pid);
  if (!info || info.pgid !== previous.supervisorPid) return null;
  return { pid, pgid: info.pgid, port: previous.port };
}

export async function runSupervisor(ctx: ControlContext): Promise<number> {
  const manifest = readManifest(ctx.tool.home);
  if (!manifest) {
    serviceLog(ctx.tool.home, 'supervisor: no ~/service.manifest (or not your own file); nothing to run');
    return 1;
  }
  if (!claimPidFile(ctx.runtimeDir, ctx.tool.name)) {
    serviceLog(ctx.tool.home, 'supervisor: another supervisor of this tool is running; exiting');
    return 0;
  }
  const registrar = new RegistrarClient({ dir: ctx.registrarDir, tool: ctx.tool.name, reconnect: true, log: (l) => serviceLog(ctx.tool.home, l) });
  let bind: string;
  try {
    bind = (await registrar.connect(30_000)).address;
  } catch (err) {
    serviceLog(ctx.tool.home, `supervisor: ${isToolhostError(err) ? `${err.message} [${err.code}]` : (err as Error).message}`);
    releasePidFile(ctx.runtimeDir);
    return 1;
  }
  const supervisor = new WebUnit({
    server: serverContext(ctx.tool, ctx.runtimeDir, bind, ctx.env, manifest),
    registrar,
    description: description(ctx.tool),
    orphan: orphanOf(ctx),
    ...(manifest.healthCheckScript ? { healthCheckScript: manifest.healthCheckScript } : {}),
    ...(livenessMs(ctx.env) !== undefined ? { livenessIntervalMs: livenessMs(ctx.env) } : {}),
  });
  const stop = (): void => {
    void supervisor.stop();
  };
  const hup = (): void => {
    const current = readManifest(ctx.tool.home);
    if (current && current.type === manifest.type) supervisor.setServer(serverContext(ctx.tool, ctx.runtimeDir, bind, ctx.env, current), current.healthCheckScript);
    void supervisor.restart('webservice restart');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hup);
  process.on('uncaughtException', (err) => {
    serviceLog(ctx.tool.home, `supervisor: internal error: ${err.stack ?? err.message}`);
    process.exit(70);
  });
  serviceLog(ctx.tool.home, `supervisor ${process.pid}: starting the ${manifest.type} webservice`);
  await supervisor.start();
  await supervisor.unit.stoppedPromise;
  releasePidFile(ctx.runtimeDir);
  return 0;
}
