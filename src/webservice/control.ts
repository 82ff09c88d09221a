// What `webservice start|stop|restart|status` do: hand off to a detached per-tool supervisor
// (which survives the command exiting), signal it, and read what it reports.
import { spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';
import { parseRoute, RouteStore, withRedis } from '../routes/index.js';
import { removeManifest, writeManifest, type Manifest } from './manifest.js';
import { prepareLighttpd, ConfigProblem, type ServerContext } from './server-instance.js';
import { readState, SERVICE_LOG, supervisorPid, type ServiceState } from './service-state.js';
import type { Tool } from './tool-account.js';

export interface ControlContext {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly redisUrl: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** started by root for a tool with a unix account: supervisor and server run as the tool */
  readonly asAccount: boolean;
  readonly bind: string;
  readonly timeoutMs?: number;
}

function owner(ctx: ControlContext): { uid: number; gid: number } | undefined {
  return ctx.asAccount && ctx.tool.account ? { uid: ctx.tool.account.uid, gid: ctx.tool.account.gid } : undefined;
}

/** runtime directory and log files exist and belong to the tool */
function prepareFiles(ctx: ControlContext): void {
  // the parents stay traversable; the tool's own directory is the tool's alone
  mkdirSync(path.dirname(ctx.runtimeDir), { recursive: true, mode: 0o755 });
  mkdirSync(ctx.runtimeDir, { recursive: true, mode: 0o750 });
  const o = owner(ctx);
  for (const f of [SERVICE_LOG, 'error.log', 'access.log']) {
    const p = path.join(ctx.tool.home, f);
    if (!existsSync(p)) closeSync(openSync(p, 'a', 0o640));
    if (o) chownSync(p, o.uid, o.gid);
  }
  if (o) chownSync(ctx.runtimeDir, o.uid, o.gid);
}

export function serverContext(ctx: ControlContext, manifest: Manifest): ServerContext {
  return {
    tool: ctx.tool,
    type: manifest.type,
    command: manifest.command,
    runtimeDir: ctx.runtimeDir,
    bind: ctx.bind,
    env: ctx.env,
    asAccount: ctx.asAccount,
  };
}

export function description(tool: Tool): string | null {
  try {
    const line = readFileSync(path.join(tool.home, '.description'), 'utf8').split('\n')[0]?.trim();
    return line ? line.slice(0, 300) : null;
  } catch {
    return null;
  }
}

async function waitForState(ctx: ControlContext, done: (s: ServiceState) => boolean, what: string): Promise<ServiceState> {
  const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
  for (;;) {
    const s = readState(ctx.runtimeDir);
    if (s && done(s)) return s;
    if (Date.now() > deadline) throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', ctx.tool.name, what, Math.round((ctx.timeoutMs ?? 60_000) / 1000));
    await sleep(20);
  }
}

export interface StartResult {
  readonly alreadyRunning: boolean;
  readonly state: ServiceState;
}

/** check the configuration here (so errors reach the user at once), then launch the supervisor */
export async function startWebservice(ctx: ControlContext, manifest: Manifest): Promise<StartResult> {
  const running = supervisorPid(ctx.runtimeDir);
  const state = readState(ctx.runtimeDir);
  if (running !== null && state) {
    if (state.type !== manifest.type) {
      throw new ToolhostError(
        'TH_ERR_WEBSERVICE_TYPE_MISMATCH',
        `your webservice is running as "${state.type}", not "${manifest.type}"; run "webservice ${manifest.type} restart" to switch, or "webservice stop" first`,
      );
    }
    return { alreadyRunning: true, state };
  }
  prepareFiles(ctx);
  if (manifest.type !== 'generic') {
    try {
      prepareLighttpd(serverContext(ctx, manifest), 0);
    } catch (err) {
      if (err instanceof ConfigProblem) throw new ToolhostError('TH_ERR_LIGHTTPD_REJECTED', err.lines.join('; '));
      throw err;
    }
  }
  writeManifest(ctx.tool.home, manifest, owner(ctx));
  const before = readState(ctx.runtimeDir)?.updatedAt ?? 0;
  launchSupervisor(ctx);
  return {
    alreadyRunning: false,
    state: await waitForState(ctx, (s) => s.updatedAt > before && s.state !== 'starting' && s.state !== 'stopped', 'start'),
  };
}

/** the monitor's way back: a supervisor for the manifest already on disk */
export function relaunchSupervisor(ctx: ControlContext): number {
  prepareFiles(ctx);
  return launchSupervisor(ctx);
}

/** the supervisor process: detached, in its own session, output appended to ~/service.log */
export function launchSupervisor(ctx: ControlContext): number {
  const log = openSync(path.join(ctx.tool.home, SERVICE_LOG), 'a');
  const o = owner(ctx);
  const env = { ...ctx.env, TOOLHOST_REDIS_URL: ctx.redisUrl } as NodeJS.ProcessEnv;
  delete env.NODE_OPTIONS;
  // the compiled entry (a .js module), whether this code runs compiled or from src/
  const entry = path.join(PACKAGE_ROOT, '.build', 'webservice', 'supervisor-entry.js');
  const child = spawn(
    process.execPath,
    [entry, '--tool', ctx.tool.name, '--home', ctx.tool.home, '--runtime-dir', ctx.runtimeDir, '--bind', ctx.bind, ...(o ? ['--as-account'] : [])],
    { detached: true, stdio: ['ignore', log, log], cwd: ctx.tool.home, env, ...(o ?? {}) },
  );
  child.unref();
  closeSync(log);
  return child.pid ?? 0;
}

export async function stopWebservice(ctx: ControlContext): Promise<boolean> {
  removeManifest(ctx.tool.home);
  const pid = supervisorPid(ctx.runtimeDir);
  if (pid === null) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
  while (supervisorPid(ctx.runtimeDir) !== null) {
    if (Date.now() > deadline) throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', ctx.tool.name, 'stop', Math.round((ctx.timeoutMs ?? 60_000) / 1000));
    await sleep(20);
  }
  return true;
}

/** a running service: new server first, then the old one stopped; otherwise a start */
export async function restartWebservice(ctx: ControlContext, manifest: Manifest): Promise<ServiceState> {
  const pid = supervisorPid(ctx.runtimeDir);
  const state = readState(ctx.runtimeDir);
  if (pid === null || !state || state.type !== manifest.type) {
    if (pid !== null) await stopWebservice(ctx);
    return (await startWebservice(ctx, manifest)).state;
  }
  writeManifest(ctx.tool.home, manifest, owner(ctx));
  const before = state.updatedAt;
  process.kill(pid, 'SIGHUP');
  return waitForState(ctx, (s) => s.updatedAt > before && s.state !== 'starting' && s.message !== 'restarting', 'restart');
}

export interface Status {
  readonly running: boolean;
  readonly state: ServiceState | null;
  /** the route as the route table has it: live backends of this tool */
  readonly routes: readonly string[] | null;
}

export async function statusOf(ctx: ControlContext): Promise<Status> {
  const pid = supervisorPid(ctx.runtimeDir);
  const state = readState(ctx.runtimeDir);
  // status must answer even when Redis does not: then whether the route is registered is unknown
  const routes = await withRedis(
    ctx.redisUrl,
    async (redis) => parseRoute(ctx.tool.name, await new RouteStore(redis).get(ctx.tool.name), Date.now())?.backends.map((b) => b.url) ?? [],
    { connectTimeoutMs: 2000 },
  ).catch(() => null);
  return { running: pid !== null, state: pid === null && state ? { ...state, state: 'stopped' } : state, routes };
}
