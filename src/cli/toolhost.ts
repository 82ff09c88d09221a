// `toolhost`: the operator's command: the proxy, the node registrar and monitor, routes, tool
// accounts, the lighttpd engine, the demo.
import { registerDemoCommand } from './demo.js';
import { registerMonitorCommand } from './monitor.js';
import { registerErrorsCommand } from './errors-command.js';
import { registerJobsCommand } from './jobs.js';
import type { CliIo } from './io.js';
import { registerLighttpdCommands } from './lighttpd-commands.js';
import { newProgram, runProgram } from './program.js';
import { registerProxyCommand } from './proxy.js';
import { registerRegistrarCommand } from './registrar.js';
import { registerRoutesCommand } from './routes.js';
import { registerToolCommands } from './tool.js';

export async function toolhost(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const setExit = (code: number): void => {
    exit = code;
  };
  const program = newProgram('toolhost', 'toolhost: the web layer of a shared tool-hosting platform', io);
  registerProxyCommand(program, io, setExit);
  registerRoutesCommand(program, io, setExit);
  registerLighttpdCommands(program, io, setExit);
  registerDemoCommand(program, io, setExit);
  registerErrorsCommand(program, io, setExit);
  registerMonitorCommand(program, io, setExit);
  registerToolCommands(program, io, setExit);
  registerRegistrarCommand(program, io, setExit);
  registerJobsCommand(program, io, setExit, () => argv);
  const parsed = await runProgram(program, argv);
  return parsed ?? exit;
}
