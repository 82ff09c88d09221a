// `portgrabber TOOL COMMAND…`: run a custom web server on a free port (appended as the last
// argument and in PORT), register it in the route table once the port answers, keep the
// route's lease while it runs, remove the route when it exits; signals are passed on, and
// portgrabber exits with the command's code.
import { spawn } from 'node:child_process';
import os from 'node:os';
import getPort from 'get-port';
import { redactRedisUrl } from '../routes/index.js';
import { tcpProbe } from '../supervisor/index.js';
import { isToolhostError, ToolhostError } from '../errors.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import { lookupAccount, RouteLease, toolRedisUrl } from '../webservice/index.js';
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

interface Options {
  redis?: string;
  host?: string;
  description?: string;
}

async function run(tool: string, command: string[], opts: Options, io: CliIo): Promise<number> {
  validateToolName(tool);
  const [cmd, ...args] = command;
  if (!cmd) throw new ToolhostError('TH_ERR_USAGE', 'missing COMMAND; usage: portgrabber TOOL COMMAND [ARGS...]');
  const host = opts.host ?? '127.0.0.1';
  const port = await getPort({ host });
  const account = lookupAccount(toolAccountName(tool));
  const fallback = io.env.TOOLHOST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisUrl = opts.redis ?? (account ? toolRedisUrl(account.home, fallback) : fallback);
  const child = spawn(cmd, [...args, String(port)], {
    cwd: io.cwd,
    env: { ...io.env, PORT: String(port) } as NodeJS.ProcessEnv,
    stdio: 'inherit',
    // its own process group: a terminal's Ctrl-C reaches portgrabber, which passes it on
    // once, instead of the server getting it twice
    detached: true,
  });
  const spawned = await new Promise<Error | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (err) => resolve(err));
  });
  if (spawned) throw new ToolhostError('TH_ERR_COMMAND_FAILED_TO_START', cmd, (spawned as NodeJS.ErrnoException).code ?? spawned.message);

  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let running = true;
  let refused: ToolhostError | null = null;
  void exited.then(() => (running = false));

  const lease = new RouteLease({
    redisUrl,
    tool,
    id: `portgrabber-${os.hostname()}-${process.pid}`,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    description: opts.description ?? null,
    onError: () => {},
  });
  void (async () => {
    while (running && !(await tcpProbe(host, port, 250))) await new Promise((r) => setTimeout(r, 20));
    while (running) {
      try {
        await lease.register();
        io.err(`portgrabber: ${tool} is served on ${host}:${port}\n`);
        return;
      } catch (err) {
        if (isToolhostError(err)) {
          // a permanent refusal: stop the server rather than run it unrouted
          io.err(`portgrabber: ${err.message} [${err.code}]\n`);
          refused = err;
          child.kill('SIGTERM');
          return;
        }
        io.err(`portgrabber: cannot register the route in ${redactRedisUrl(redisUrl)} (${(err as Error).message}); retrying\n`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();

  const { code, signal } = await exited;
  for (const sig of FORWARDED) process.off(sig, forward);
  await lease.close();
  if (refused) return (refused as ToolhostError).exitCode;
  return code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1);
}

export async function portgrabber(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('portgrabber', 'run a web server on a free port and route TOOL to it while it runs', io);
  program
    .argument('<tool>', 'the tool whose route this server is')
    .argument('<command...>', 'the server command; the port is appended as its last argument and set in PORT')
    .option('--redis <url>', 'the route table (or TOOLHOST_REDIS_URL)')
    .option('--host <address>', 'the address to listen on and register (default 127.0.0.1)')
    .option('--description <text>', 'the tool\'s description for the home page')
    .passThroughOptions()
    .action(async (tool: string, command: string[], opts: Options) => {
      exit = await run(tool, command, opts, io);
    });
  return (await runProgram(program, argv)) ?? exit;
}
