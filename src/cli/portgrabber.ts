// `portgrabber TOOL COMMAND…`: run a custom web server on a free port (appended as the last
// argument and in PORT), have the node registrar route the tool to it once the port answers
// (the registrar checks with the kernel that the port is the tool's), remove the route when it
// exits; signals are passed on, and portgrabber exits with the command's code. Run by root for
// a tool, it runs as the tool.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { lookupAccount } from '../accounts/index.js';
import { isToolhostError, ToolhostError } from '../errors.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import { runAsToolIfRoot } from './as-tool.js';
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

interface Options {
  description?: string;
}

async function run(tool: string, command: string[], opts: Options, io: CliIo): Promise<number> {
  const [cmd, ...args] = command;
  if (!cmd) throw new ToolhostError('TH_ERR_USAGE', 'missing COMMAND; usage: portgrabber TOOL COMMAND [ARGS...]');
  // loaded to run, not for `portgrabber --help` (#14)
  const [{ default: getPort }, { RegistrarClient, registrarDir }, { tcpProbe }] = await Promise.all([import('get-port'), import('../registrar/index.js'), import('../supervisor/index.js')]);
  const registrar = new RegistrarClient({ dir: registrarDir(io.env), tool, reconnect: true, log: (l) => io.err(`portgrabber: ${l}\n`) });
  // the registrar says where this node's servers listen; a tool that is not ours is refused here
  const { address: host } = await registrar.connect(5000);
  const port = await getPort({ host });
  const child = spawn(cmd, [...args, String(port)], {
    cwd: io.cwd,
    env: { ...io.env, PORT: String(port) },
    stdio: 'inherit',
    // its own process group: a terminal's Ctrl-C reaches portgrabber, which passes it on
    // once, instead of the server getting it twice
    detached: true,
  });
  const spawned = await new Promise<Error | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', (err) => resolve(err));
  });
  if (spawned) {
    registrar.close();
    throw new ToolhostError('TH_ERR_COMMAND_FAILED_TO_START', cmd, (spawned as NodeJS.ErrnoException).code ?? spawned.message);
  }

  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let running = true;
  let registered = false;
  let refused: ToolhostError | null = null;
  void exited.then(() => (running = false));

  void (async () => {
    while (running && !(await tcpProbe(host, port, 250))) await new Promise((r) => setTimeout(r, 20));
    while (running) {
      try {
        const b = await registrar.register(port, opts.description ?? null);
        registered = true;
        io.err(`portgrabber: ${tool} is served on ${b.url}\n`);
        return;
      } catch (err) {
        if (isToolhostError(err) && err.code !== 'TH_ERR_REGISTRAR_UNREACHABLE') {
          // a permanent refusal: stop the server rather than run it unrouted
          io.err(`portgrabber: ${err.message} [${err.code}]\n`);
          refused = err;
          child.kill('SIGTERM');
          return;
        }
        io.err(`portgrabber: cannot register the route (${(err as Error).message}); retrying\n`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();

  const { code, signal } = await exited;
  for (const sig of FORWARDED) process.off(sig, forward);
  if (registered) await registrar.unregister(port).catch(() => {});
  registrar.close();
  if (refused) return (refused as ToolhostError).exitCode;
  return code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1);
}

export async function portgrabber(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('portgrabber', 'run a web server on a free port and route TOOL to it while it runs', io);
  program
    .argument('<tool>', 'the tool whose route this server is')
    .argument('<command...>', 'the server command; the port is appended as its last argument and set in PORT')
    .option('--description <text>', 'the tool\'s description for the home page')
    .passThroughOptions()
    .action(async (tool: string, command: string[], opts: Options) => {
      validateToolName(tool);
      // a tool with an account runs it as itself (root drops to it); for a development tool the
      // registrar lets only the owner of the tool's socket register
      const account = lookupAccount(toolAccountName(tool));
      const asTool = account ? await runAsToolIfRoot({ name: tool, home: account.home, account }, argv, io) : null;
      exit = asTool ?? (await run(tool, command, opts, io));
    });
  return (await runProgram(program, argv)) ?? exit;
}
