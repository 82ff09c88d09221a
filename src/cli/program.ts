// commander set up the same way for every executable: output through CliIo, no process.exit,
// usage errors as exit code 2 with one line and a pointer to --help; --version on every one.
import { Command as Commander, CommanderError } from 'commander';
import type { CliIo } from './io.js';
import { VERSION_FLAG, versionLine } from './version.js';

export function newProgram(name: string, description: string, io: CliIo): Commander {
  const program = new Commander(name);
  program
    .description(description)
    .version(versionLine(name), VERSION_FLAG, 'print toolhost\'s version')
    .exitOverride()
    .showHelpAfterError(`(run "${name} --help" for usage)`)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
    });
  return program;
}

/** Parse and run; commander's own exits (help, version, usage errors) become exit codes. */
export async function runProgram(program: Commander, argv: readonly string[]): Promise<number | undefined> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
}
