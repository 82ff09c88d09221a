// What `webservice start|stop|restart|status` do: hand off to a detached per-tool supervisor
// (which survives the command exiting), signal it, and read what it reports. Everything here
// runs as the tool (root drops to the tool before calling it), except launchSupervisor, which
// the root monitor also uses: it never opens a tool file itself, the child does, as the tool.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { prepareRuntimeDirectory, toolOwner, toolProcessEnvironment, type Owner, type Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';
import { withRegistrar, type Listing } from '../registrar/index.js';
import { removeManifest, writeManifest, type Manifest } from './manifest.js';
import { prepareLighttpd, ConfigProblem, type ServerContext } from './server-instance.js';
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
  return { tool, type: manifest.type, command: manifest.command, runtimeDir, bind, env };
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

/** check the configuration here (so errors reach the user at once), then launch the supervisor */
export async function startWebservice(ctx: ControlContext, manifest: Manifest): Promise<StartResult> {
  const running = runningSupervisor(ctx);
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
      prepareLighttpd(serverContext(ctx.tool, ctx.runtimeDir, '127.0.0.1', ctx.env, manifest), 0);
    } catch (err) {
      if (err instanceof ConfigProblem) throw new ToolhostError('TH_ERR_LIGHTTPD_REJECTED', err.lines.join('; '));
      throw err;
    }
  }
  // the registrar must be there before the supervisor detaches: say so now, in one line
  await withRegistrar(ctx.registrarDir, ctx.tool.name, async () => {});
  writeManifest(ctx.tool.home, manifest);
  const before = readState(ctx.runtimeDir)?.updatedAt ?? 0;
  launchSupervisor(ctx);
  return {
    alreadyRunning: false,
    state: await waitForState(ctx, (s) => s.updatedAt > before && s.state !== 'starting' && s.state !== 'stopped', 'start'),
  };
}

/**
 * The supervisor process: detached, in its own session, as the tool (root passes `as`), with
 * the tool's clean environment. A shell running as the tool opens ~/service.log for its output,
 * so no file of the tool is ever opened by root.
 */
export function launchSupervisor(ctx: ControlContext, as: Owner | null = null): number {
  // the compiled entry (a .js module), whether this code runs compiled or from src/
  const entry = path.join(PACKAGE_ROOT, '.build', 'webservice', SUPERVISOR_ENTRY);
  const env = toolProcessEnvironment(ctx.tool, ctx.env);
  env.TOOLHOST_REGISTRAR_DIR = ctx.registrarDir;
  const child = spawn(
    '/bin/sh',
    ['-c', 'cd "$HOME" && exec "$@" >>service.log 2>&1', 'toolhost-supervisor', process.execPath, entry, '--tool', ctx.tool.name, '--home', ctx.tool.home, '--runtime-dir', ctx.runtimeDir],
    { detached: true, stdio: 'ignore', cwd: '/', env, ...(as ? { uid: as.uid, gid: as.gid } : {}) },
  );
  child.unref();
  return child.pid ?? 0;
}

export async function stopWebservice(ctx: ControlContext): Promise<boolean> {
  removeManifest(ctx.tool.home);
  const pid = runningSupervisor(ctx);
  if (pid === null) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + (ctx.timeoutMs ?? 60_000);
  while (runningSupervisor(ctx) !== null) {
    if (Date.now() > deadline) throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', ctx.tool.name, 'stop', Math.round((ctx.timeoutMs ?? 60_000) / 1000));
    await sleep(20);
  }
  return true;
}

/** a running service: new server first, then the old one stopped; otherwise a start */
export async function restartWebservice(ctx: ControlContext, manifest: Manifest): Promise<ServiceState> {
  const pid = runningSupervisor(ctx);
  const state = readState(ctx.runtimeDir);
  if (pid === null || !state || state.type !== manifest.type) {
    if (pid !== null) await stopWebservice(ctx);
    return (await startWebservice(ctx, manifest)).state;
  }
  writeManifest(ctx.tool.home, manifest);
  const before = state.updatedAt;
  process.kill(pid, 'SIGHUP');
  return waitForState(ctx, (s) => s.updatedAt > before && s.state !== 'starting' && s.message !== 'restarting', 'restart');
}

export interface Status {
  readonly running: boolean;
  readonly state: ServiceState | null;
  /** what the node registrar holds for this tool (null: the registrar did not answer) */
  readonly registrar: Listing | null;
}

export async function statusOf(ctx: ControlContext): Promise<Status> {
  const pid = runningSupervisor(ctx);
  const state = readState(ctx.runtimeDir);
  // status must answer even when the registrar does not: then whether the route is registered is unknown
  const registrar = await withRegistrar(ctx.registrarDir, ctx.tool.name, (c) => c.list(), 1000).catch(() => null);
  return { running: pid !== null, state: pid === null && state ? { ...state, state: 'stopped' } : state, registrar };
}
