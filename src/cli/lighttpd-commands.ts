// `toolhost lighttpd lex|parse|check|print|compat`: the configuration engine on standalone
// files, stage by stage, as `lighttpd -t` and `lighttpd -p` do. The engine loads when a
// subcommand runs (lighttpd-files.ts, lighttpd-compat.ts), not for their --help (#14).
import path from 'node:path';
import type { Command as Commander } from 'commander';
import type { CliIo } from './io.js';

const engine = (): Promise<typeof import('./lighttpd-files.js')> => import('./lighttpd-files.js');

export function registerLighttpdCommands(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  const lighttpd = program.command('lighttpd').description('the lighttpd configuration engine on one file');

  lighttpd
    .command('lex')
    .argument('<file>', 'a lighttpd configuration file')
    .description('print the tokens of FILE (line:col kind text)')
    .action(async (file: string) => {
      setExit((await engine()).lexFile(file, io));
    });

  lighttpd
    .command('parse')
    .argument('<file>', 'a lighttpd configuration file')
    .description('print the syntax tree of FILE as JSON')
    .action(async (file: string) => {
      setExit((await engine()).parseFile(file, io));
    });

  lighttpd
    .command('check')
    .argument('<file>', 'a lighttpd configuration file')
    .option('--no-lighttpd', 'only toolhost\'s own checks, without running lighttpd -tt')
    .description('check FILE as lighttpd -tt does; errors point at file:line:col')
    .action(async (file: string, opts: { lighttpd: boolean }) => {
      (await engine()).checkFile(file, opts.lighttpd, io);
      setExit(0);
    });

  lighttpd
    .command('print')
    .argument('<file>', 'a lighttpd configuration file')
    .description('print FILE evaluated, in the format of lighttpd -p')
    .action(async (file: string) => {
      (await engine()).printFile(file, io);
      setExit(0);
    });

  lighttpd
    .command('compat')
    .argument('<dir>', 'a directory of maintainers\' .lighttpd.conf files (*.conf)')
    .option('--json', 'one JSON object per file')
    .option('--verbose', 'print the messages for each rejected file')
    .description('merge each file with the default template and check alone vs merged with lighttpd -tt')
    .action(async (dir: string, opts: { json?: boolean; verbose?: boolean }) => {
      const { runCompat } = await import('./lighttpd-compat.js');
      setExit(runCompat(path.resolve(io.cwd, dir), io, { json: opts.json === true, verbose: opts.verbose === true }));
    });
}
