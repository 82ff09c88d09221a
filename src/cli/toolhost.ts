// `toolhost`: the operator's command: the proxy, the node registrar and monitor, routes, tool
// accounts, the lighttpd engine, the demo.
import type { CliIo } from './io.js';
import { JOBS_SUBCOMMAND, registerSubcommands, type Subcommand } from './subcommands.js';
import { newProgram, runProgram } from './program.js';

/**
 * Each subcommand's module is loaded only when the command line names it: `toolhost routes list`
 * loads the route table's code, not the proxy's; `toolhost --help` lists them from here (#14).
 */
const SUBCOMMANDS: readonly Subcommand[] = [
  { name: 'proxy', summary: 'run the front proxy', load: async () => (await import('./proxy.js')).registerProxyCommand },
  { name: 'routes', summary: 'read and change the route table in Redis', load: async () => (await import('./routes.js')).registerRoutesCommand },
  { name: 'lighttpd', summary: 'the lighttpd configuration engine on one file (lex, parse, check, print, compat)', load: async () => (await import('./lighttpd-commands.js')).registerLighttpdCommands },
  { name: 'demo', summary: 'Redis, the proxy and sample tools on this machine, to try toolhost', load: async () => (await import('./demo.js')).registerDemoCommand },
  { name: 'errors', summary: 'list every error code toolhost can report', load: async () => (await import('./errors-command.js')).registerErrorsCommand },
  { name: 'monitor', summary: 'the host monitor: bring back tools\' supervisors, fire scheduled jobs (root)', load: async () => (await import('./monitor.js')).registerMonitorCommand },
  { name: 'tool', summary: 'tool accounts, and the Redis users of proxies and registrars', load: async () => (await import('./tool.js')).registerToolCommands },
  { name: 'registrar', summary: 'the node registrar: routes a tool\'s port once the kernel confirms it is the tool\'s (root)', load: async () => (await import('./registrar.js')).registerRegistrarCommand },
  JOBS_SUBCOMMAND,
];

export async function toolhost(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const setExit = (code: number): void => {
    exit = code;
  };
  const program = newProgram('toolhost', 'toolhost: the web layer of a shared tool-hosting platform', io);
  await registerSubcommands(program, SUBCOMMANDS, argv, io, setExit);
  const parsed = await runProgram(program, argv);
  return parsed ?? exit;
}
