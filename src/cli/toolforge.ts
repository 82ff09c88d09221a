// `toolforge jobs …`: the command Toolforge's wiki pages show, so they work as written here
// (the same program as `toolhost jobs`, loaded only when named).
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';
import { JOBS_SUBCOMMAND, registerSubcommands } from './subcommands.js';

export async function toolforge(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('toolforge', 'Toolforge\'s commands, as toolhost runs them: toolforge jobs …', io);
  await registerSubcommands(program, [JOBS_SUBCOMMAND], argv, io, (code) => (exit = code));
  return (await runProgram(program, argv)) ?? exit;
}
