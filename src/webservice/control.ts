// What `webservice start|stop|restart|status` do: hand off to a detached per-tool supervisor
// (which survives the command exiting), signal it, and read what it reports. Everything here
// runs as the tool (root drops to the tool before calling it), except launchSupervisor, which
// the root monitor also uses: it never opens a tool file itself, the child does, as the tool.
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareRuntimeDirectory, spawnToolProgram, toolOwner, type Owner, type Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { resourcesOf } from '../limits/quota.js';
import { DEFAULT_WEB_EMAILS } from '../notify/policy.js';
import { PACKAGE_ROOT } from '../package-files.js';
import type { Listing } from '../registrar/index.js';
// the registrar's client alone, not its daemon (and Redis): `webservice status` loads this module (#14)
import { withRegistrar } from '../registrar/registrar-client.js';
import { manifestPath, removeManifest, writeManifest, type Manifest } from './manifest.js';
import type { ServerContext } from './server-instance.js';
import { readState, SERVICE_LOG, SUPERVISOR_ENTRY, supervisorPid, type ServiceState } from './service-state.js';

export interface ControlContext {
  readonly tool: Tool;
  readonly runtimeDir: string;
  /** the node registrar's socket directory */
  readonly registrarDir: string;
  /** the caller's environment: only toolProcessEnvironment's variables pass to the tool's processes */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
}

/** the tool's owner; the caller itself when it acts for its own development tool */
function ownerOf(ctx: ControlContext): Owner {
  return toolOwner(ctx.tool) ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/** the runtime directory and the log files exist (created as the tool) */
function prepareFiles(ctx: ControlContext): void {
  prepareRuntimeDirectory(ctx.runtimeDir, ownerOf(ctx));
  for (const f of [SERVICE_LOG, 'error.log', 'access.log']) closeSync(openSync(path.join(ctx.tool.home, f), 'a', 0o640));
}

export function serverContext(tool: Tool, runtimeDir: string, bind: string, env: Readonly<Record<string, string | undefined>>, manifest: Manifest): ServerContext {
  return { tool, type: manifest.type, command: manifest.command, runtimeDir, bind, env, resources: resourcesOf(manifest), emails: manifest.emails ?? DEFAULT_WEB_EMAILS };
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

function runningSupervisor(ctx: ControlContext): number | null {
  return supervisorPid(ctx.runtimeDir, ctx.tool.name, ownerOf(ctx));
}

/** whether the tool's supervisor runs (for its webservice, its continuous jobs, or both) */
export function supervisorRunning(ctx: ControlContext): boolean {
  return runningSupervisor(ctx) !== null;
}

/** the webservice as the tool's supervisor runs it: null when none runs (the supervisor may run jobs only) */
function runningWebservice(ctx: ControlContext): { pid: number; state: ServiceState } | null {
  const pid = runningSupervisor(ctx);
  const state = readState(ctx.runtimeDir);
  if (pid === null || !state || state.supervisorPid !== pid || state.state === 'stopped') return null;
  return { pid, state };
}

/** whether this host's supervisor runs the tool's webservice (not only its jobs) */
export function webserviceRunsHere(ctx: ControlContext): boolean {
  return runningWebservice(ctx) !== null;
}

/** check the configuration here (so errors reach the user at once), then launch the supervisor */
export async function startWebservice(ctx: ControlContext, manifest: Manifest): Promise<StartResult> {
  const running = runningWebservice(ctx);
  if (running) {
    if (running.state.type !== manifest.type) {
      throw new ToolhostError('TH_ERR_WEBSERVICE_TYPE_MISMATCH', running.state.type, manifest.type, manifest.type);
    }
    return { alreadyRunning: true, state: running.state };
  }
  prepareFiles(ctx);
  // the server's code (the lighttpd engine, uWSGI's and node's checks) loads to start a server, not for `webservice status` (#14)
  const { checkServer, ConfigProblem } = await import('./server-instance.js');
  try {
    checkServer(serverContext(ctx.tool, ctx.runtimeDir, '127.0.0.1', ctx.env, manifest));
  } catch (err) {
    if (!(err instanceof ConfigProblem)) throw err;
    // the code checkError decided, as `webservice config --check` and the supervisor report it
    throw err.toolhostError();
  }
  // the registrar must be there before the supervisor detaches: say so now, in one line
  await withRegistrar(ctx.registrarDir, ctx.tool.name, async () => {});
  writeManifest(ctx.tool.home, manifest);
  const before = readState(ctx.runtimeDir)?.updatedAt ?? 0;
  wakeSupervisor(ctx);
  return {
    alreadyRunning: false,
    state: await waitForState(
      ctx,
      (s) => {
        if (s.updatedAt <= before) return false;
        // stopWebservice removes the manifest before it signals: a stop came while this start waited
        if (s.state === 'stopped' && !existsSync(manifestPath(ctx.tool.home))) throw new ToolhostError('TH_ERR_WEBSERVICE_STOPPED_WHILE_STARTING', ctx.tool.name);
        return s.state !== 'starting' && s.state !== 'stopped';
      },
      'start',
    ),
  };
}

/**
 * Have the tool's supervisor read its manifests again (SIGUSR1), or start one if none runs: the
 * one way `webservice` and `toolhost jobs` ask for what the manifests now say.
 */
export function wakeSupervisor(ctx: ControlContext, signal: NodeJS.Signals = 'SIGUSR1'): void {
  const pid = runningSupervisor(ctx);
  if (pid !== null) {
    process.kill(pid, signal);
    return;
  }
  prepareFiles(ctx);
  launchSupervisor(ctx);
}

/** the supervisor process: detached, as the tool (root passes `as`), its output in ~/service.log */
export function launchSupervisor(ctx: ControlContext, as: Owner | null = null): number {
  // the compiled entry (a .js module), whether this code runs compiled or from src/
  const entry = path.join(PACKAGE_ROOT, '.build', 'webservice', SUPERVISOR_ENTRY);
  return spawnToolProgram({
    tool: ctx.tool,
    as,
    env: ctx.env,
    argv: [process.execPath, entry, '--tool', ctx.tool.name, '--home', ctx.tool.home, '--runtime-dir', ctx.runtimeDir],
    output: SERVICE_LOG,
    extraEnv: { TOOLHOST_REGISTRAR_DIR: ctx.registrarDir },
  });
}

/** the webservice stopped (its route first); the supervisor goes on if it runs continuous jobs */
export async function stopWebservice(ctx: ControlContext): Promise<boolean> {
  removeManifest(ctx.tool.home);
  const running = runningWebservice(ctx);
  if (!running) return false;
  process.kill(running.pid, 'SIGUSR1');
  const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
  while (runningWebservice(ctx) !== null) {
    if (Date.now() > deadline) throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', ctx.tool.name, 'stop', Math.round((ctx.timeoutMs ?? 60_000) / 1000));
    await sleep(20);
  }
  return true;
}

export interface RestartResult {
  readonly state: ServiceState;
  /** false: the new server did not start or was not routed, and the old one keeps serving */
  readonly replaced: boolean;
}

/** a running service: new server first, then the old one stopped; otherwise a start */
export async function restartWebservice(ctx: ControlContext, manifest: Manifest): Promise<RestartResult> {
  const running = runningWebservice(ctx);
  if (!running || running.state.type !== manifest.type) {
    if (running) await stopWebservice(ctx);
    return { state: (await startWebservice(ctx, manifest)).state, replaced: true };
  }
  writeManifest(ctx.tool.home, manifest);
  const before = running.state;
  process.kill(running.pid, 'SIGHUP');
  const state = await waitForState(ctx, (s) => s.updatedAt > before.updatedAt && s.state !== 'starting', 'restart');
  return { state, replaced: state.generation !== before.generation || state.state !== 'running' };
}

export interface Status {
  readonly running: boolean;
  readonly state: ServiceState | null;
  /** what the node registrar holds for this tool (null: the registrar did not answer) */
  readonly registrar: Listing | null;
}

export async function statusOf(ctx: ControlContext): Promise<Status> {
  const pid = runningWebservice(ctx)?.pid ?? null;
  const state = readState(ctx.runtimeDir);
  // status must answer even when the registrar does not: then whether the route is registered is unknown
  const registrar = await withRegistrar(ctx.registrarDir, ctx.tool.name, (c) => c.list(), 1000).catch(() => null);
  return { running: pid !== null, state: pid === null && state ? { ...state, state: 'stopped' } : state, registrar };
}
