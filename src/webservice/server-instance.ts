// One running copy of a tool's web server on one port: the real lighttpd with the tool's merged
// configuration (checked by lighttpd -tt first), or the tool's own command with the port
// appended and in PORT. Ready once it answers HTTP; output goes to ~/error.log.
import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import { findLighttpd, formatDiagnostic, runLighttpdCheck, type Diagnostic } from '../lighttpd/index.js';
import { httpProbe, startProcess, StartError, UnitConfigError, type ManagedProcess } from '../supervisor/index.js';
import { buildLighttpdConfig, toolEnvironment } from './lighttpd-config.js';
import type { WebserviceType } from './manifest.js';
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
}

export interface ServerInstance {
  readonly port: number;
  readonly url: string;
  readonly process: ManagedProcess;
  readonly startedAt: number;
  /** its limits: its cgroup, or rlimits */
  readonly guard: UnitGuard | null;
}

/** the configuration is wrong: the running server (if any) must stay as it is */
export class ConfigProblem extends UnitConfigError {
  constructor(
    lines: readonly string[],
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(lines);
    this.name = 'ConfigProblem';
  }
}

export const ERROR_LOG = 'error.log';

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
  const check = runLighttpdCheck(binary, file, { env: built.env, cwd: ctx.tool.home, lineMap: built.lineMap, mergedText: built.text });
  if (!check.ok) {
    throw new ConfigProblem(
      check.messages.filter((m) => m.fatal).map((m) => `${m.origin ? `${m.origin.file}:${m.origin.line}: ` : ''}lighttpd: ${m.text}`),
    );
  }
  return { file, env: built.env, binary };
}

export async function startInstance(ctx: ServerContext, guard: UnitGuard | null = null): Promise<ServerInstance> {
  const port = await getPort({ host: ctx.bind });
  const url = `http://${ctx.bind.includes(':') ? `[${ctx.bind}]` : ctx.bind}:${port}`;
  let command: string;
  let args: string[];
  let env: NodeJS.ProcessEnv;
  if (ctx.type === 'generic') {
    const [cmd, ...rest] = ctx.command ?? [];
    if (!cmd) throw new ConfigProblem(['a generic webservice needs a command: webservice generic start -- ./server.sh ARGS']);
    command = cmd;
    args = [...rest, String(port)];
    env = { ...toolEnvironment(ctx.tool, ctx.env), PORT: String(port) };
  } else {
    const prepared = prepareLighttpd(ctx, port);
    command = prepared.binary;
    args = ['-D', '-f', prepared.file];
    env = prepared.env;
  }
  const log = openSync(path.join(ctx.tool.home, ERROR_LOG), 'a');
  const [program, ...programArgs] = guard ? guard.argv([command, ...args]) : [command, ...args];
  try {
    const proc = await startProcess({
      command: program ?? command,
      args: programArgs,
      ...(guard ? { beforeRun: (pid: number) => guard.place(pid) } : {}),
      cwd: ctx.tool.home,
      env,
      stdio: ['ignore', log, log],
      ready: () => httpProbe(`${url}/`, 500),
      timeoutMs: ctx.readyTimeoutMs ?? 60_000,
    });
    return { port, url, process: proc, startedAt: Date.now(), guard };
  } catch (err) {
    if (err instanceof StartError) throw err;
    throw new StartError(`cannot start ${command}: ${(err as Error).message}`, null);
  } finally {
    closeSync(log);
  }
}
