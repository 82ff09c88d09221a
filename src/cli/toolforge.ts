// `toolforge jobs …`: the command Toolforge's wiki pages show, so they work as written here
// (the same program as `toolhost jobs`).
import type { CliIo } from './io.js';
import { registerJobsCommand } from './jobs.js';
import { newProgram, runProgram } from './program.js';

export async function toolforge(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('toolforge', 'Toolforge\'s commands, as toolhost runs them: toolforge jobs …', io);
  registerJobsCommand(program, io, (code) => (exit = code), () => argv);
  return (await runProgram(program, argv)) ?? exit;
}
