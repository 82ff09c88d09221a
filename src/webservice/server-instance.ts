// One running copy of a tool's web server on one port: the real lighttpd with the tool's merged
// configuration (checked by lighttpd -tt first), uWSGI serving ~/www/python/src/app.py, `npm
// start` in ~/www/js, or the tool's own command with the port appended and in PORT. Each leads
// a process group of its own, so stopping or killing it reaches every process it started. Ready
// once it answers HTTP; output goes to ~/error.log (through the supervisor's pipe, which keeps
// the file under its cap: src/logs/).
import type { EmailPolicy } from '../notify/index.js';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ToolhostError } from '../errors.js';
import { findLighttpd, formatDiagnostic, missingModuleError, runLighttpdCheck, type Diagnostic } from '../lighttpd/index.js';
import { httpProbe, processInfo, startProcess, StartError, UnitConfigError, type ManagedProcess } from '../supervisor/index.js';
import { buildLighttpdConfig, toolEnvironment } from './lighttpd-config.js';
import { nodeLaunch, nodeProblem } from './node-server.js';
import { pythonLaunch, pythonProblem } from './python-server.js';
import type { WebserviceType } from './webservice-types.js';
import type { Tool } from '../accounts/index.js';
import type { UnitGuard } from '../limits/index.js';

export interface ServerContext {
  readonly tool: Tool;
  readonly type: WebserviceType;
  readonly command: readonly string[] | undefined;
  readonly runtimeDir: string;
  readonly bind: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readyTimeoutMs?: number;
  /** memory (bytes) and CPU (thousandths) it runs with */
  readonly resources: { readonly memory: number; readonly cpu: number };
  /** what its maintainers are mailed about (--emails) */
  readonly emails: EmailPolicy;
  /** where the server's stdout and stderr go: the supervisor's pipe into ~/error.log (default: the file itself) */
  readonly output?: ServerOutput;
}

export interface ServerOutput {
  /** descriptors for one server; closed here once it is spawned */
  descriptors(): { stdout: number; stderr: number; all: number[] };
}

export interface ServerInstance {
  readonly port: number;
  readonly url: string;
  readonly process: ManagedProcess;
  readonly startedAt: number;
  /** with the pid, names this process for ever (a later supervisor tells it from a reused pid) */
  readonly startTicks: number | null;
  /** its limits: its cgroup, or rlimits */
  readonly guard: UnitGuard | null;
}

/** the configuration is wrong: the running server (if any) must stay as it is */
export class ConfigProblem extends UnitConfigError {
  constructor(
    lines: readonly string[],
    readonly diagnostics: readonly Diagnostic[] = [],
    /** the coded error behind it, for `webservice start` to report as it is */
    readonly error: ToolhostError | null = null,
  ) {
    super(lines);
    this.name = 'ConfigProblem';
  }

  static of(error: ToolhostError): ConfigProblem {
    return new ConfigProblem([`${error.message} [${error.code}]`], [], error);
  }
}

export const ERROR_LOG = 'error.log';
export const ACCESS_LOG = 'access.log';

/**
 * What keeps this type's server from starting, as ConfigProblem: the lighttpd configuration
 * (merged and checked by lighttpd -tt), the python or node layout. `webservice start` calls it
 * before launching the supervisor, so the maintainer reads the problem at once.
 */
export function checkServer(ctx: ServerContext): void {
  let problem: ToolhostError | null = null;
  switch (ctx.type) {
    case 'generic':
      return;
    case 'python':
      problem = pythonProblem(ctx.tool, ctx.env);
      break;
    case 'node':
      problem = nodeProblem(ctx.tool, ctx.env);
      break;
    default:
      prepareLighttpd(ctx, 0);
      return;
  }
  if (problem) throw ConfigProblem.of(problem);
}

interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** the variables this type adds to the tool's environment */
  readonly added: Readonly<Record<string, string>>;
}

/** a port, or the placeholder `webservice config` shows */
type PortWord = number | '$PORT';

/** the command line of this type's server on this port; throws ConfigProblem */
function launchFor(ctx: ServerContext, port: PortWord): Launch {
  const base = toolEnvironment(ctx.tool, ctx.env);
  const added: Record<string, string> = { PORT: String(port) };
  switch (ctx.type) {
    case 'generic': {
      const [cmd, ...rest] = ctx.command ?? [];
      if (!cmd) throw new ConfigProblem(['a generic webservice needs a command: webservice generic start -- ./server.sh ARGS']);
      return { command: cmd, args: [...rest, String(port)], cwd: ctx.tool.home, env: { ...base, ...added }, added };
    }
    case 'python': {
      checkServer(ctx);
      const l = pythonLaunch(ctx.tool, ctx.bind, port, ctx.env, path.join(ctx.tool.home, ACCESS_LOG));
      return { ...l, env: { ...base, ...added }, added };
    }
    case 'node': {
      checkServer(ctx);
      const l = nodeLaunch(ctx.tool, ctx.bind, port, ctx.env);
      const all = { ...added, ...l.env };
      return { command: l.command, args: l.args, cwd: l.cwd, env: { ...base, ...all }, added: all };
    }
    default: {
      if (port === '$PORT') throw new Error('lighttpd: a configuration is written for a real port');
      const prepared = prepareLighttpd(ctx, port);
      return { command: prepared.binary, args: ['-D', '-f', prepared.file], cwd: ctx.tool.home, env: prepared.env, added: {} };
    }
  }
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./$-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * What `webservice config` shows for a python or node webservice (no configuration language to
 * merge): the checks a start makes, then the command each server runs, PORT being a free port
 * chosen at each start. Throws the coded error of the first problem.
 */
export function serverCommandLine(ctx: ServerContext): string {
  let l: Launch;
  try {
    l = launchFor(ctx, '$PORT');
  } catch (err) {
    if (err instanceof ConfigProblem && err.error) throw err.error;
    throw err;
  }
  const env = Object.entries(l.added).map(([k, v]) => `${k}=${shellWord(v)}`);
  return `cd ${shellWord(l.cwd)} && ${[...env, l.command, ...l.args].map((w, i) => (i < env.length ? w : shellWord(w))).join(' ')}`;
}

/** the lighttpd configuration for this port, written and checked; throws ConfigProblem */
export function prepareLighttpd(ctx: ServerContext, port: number): { file: string; env: NodeJS.ProcessEnv; binary: string } {
  const binary = findLighttpd(ctx.env);
  if (!binary) throw new ConfigProblem(['lighttpd is not installed; install it with: apt-get install lighttpd']);
  const built = buildLighttpdConfig({
    tool: ctx.tool,
    type: ctx.type === 'lighttpd-plain' ? 'lighttpd-plain' : 'lighttpd',
    port,
    bind: ctx.bind,
    runtimeDir: ctx.runtimeDir,
    // the supervisor already runs as the tool: lighttpd has no privileges to drop
    asAccount: false,
    env: ctx.env,
  });
  if (!built.ok) {
    const errors = built.diagnostics.filter((d) => d.severity === 'error');
    throw new ConfigProblem(errors.map((d) => formatDiagnostic(d, { snippet: false })), errors);
  }
  const file = path.join(ctx.runtimeDir, `lighttpd-${port}.conf`);
  writeFileSync(file, built.text);
  const check = runLighttpdCheck(binary, file, { env: built.env, cwd: ctx.tool.home, lineMap: built.lineMap, mergedText: built.text, moduleCauses: built.moduleCauses });
  if (!check.ok) {
    const missing = check.messages.find((m) => m.fatal && m.missingModule)?.missingModule;
    if (missing) {
      const error = missingModuleError(missing);
      throw new ConfigProblem([error.message], [], error);
    }
    throw new ConfigProblem(
      check.messages.filter((m) => m.fatal).map((m) => `${m.origin ? `${m.origin.file}:${m.origin.line}: ` : ''}lighttpd: ${m.text}`),
    );
  }
  return { file, env: built.env, binary };
}

export async function startInstance(ctx: ServerContext, guard: UnitGuard | null = null, signal?: AbortSignal): Promise<ServerInstance> {
  const { default: getPort } = await import('get-port');
  const port = await getPort({ host: ctx.bind });
  const url = `http://${ctx.bind.includes(':') ? `[${ctx.bind}]` : ctx.bind}:${port}`;
  const { command, args, cwd, env } = launchFor(ctx, port);
  const fds = ctx.output?.descriptors() ?? null;
  const log = fds ? -1 : openSync(path.join(ctx.tool.home, ERROR_LOG), 'a');
  const [program, ...programArgs] = guard ? guard.argv([command, ...args]) : [command, ...args];
  try {
    const proc = await startProcess({
      command: program ?? command,
      args: programArgs,
      ...(guard ? { beforeRun: (pid: number) => guard.place(pid) } : {}),
      cwd,
      env,
      stdio: ['ignore', fds?.stdout ?? log, fds?.stderr ?? log],
      detached: true,
      endGroupWithLeader: true,
      ready: () => httpProbe(`${url}/`, 500),
      timeoutMs: ctx.readyTimeoutMs ?? 60_000,
      ...(signal ? { signal } : {}),
    });
    // the gate and prlimit exec the server: the same pid, the same start time
    return { port, url, process: proc, startedAt: Date.now(), startTicks: proc.pid ? (processInfo(proc.pid)?.startTicks ?? null) : null, guard };
  } catch (err) {
    if (err instanceof StartError) throw err;
    throw new StartError(`cannot start ${command}: ${(err as Error).message}`, null);
  } finally {
    for (const fd of fds?.all ?? [log]) closeSync(fd);
  }
}
