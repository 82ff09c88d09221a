// What a command may touch of the outside world, passed in so tests can run commands
// in-process as well as through the real executables; and the body of every bin/ shim.
import { isToolhostError } from '../errors.js';
import { printable } from './printable.js';
import { VERSION_FLAG, versionLine } from './version.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/** exit code for an error that is not a user error: a bug or an environment failure */
export const EXIT_INTERNAL = 70;

/** a reader that went away (`webservice status | head`) ends the output, not the process */
function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

export function processIo(): CliIo {
  quietOnEpipe(process.stdout);
  quietOnEpipe(process.stderr);
  return {
    // one place for every command: no tool's text reaches a terminal as control sequences
    out: (t) => process.stdout.write(printable(t)),
    err: (t) => process.stderr.write(printable(t)),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** A user error is one line (no stack); anything else keeps its stack and a distinct exit code. */
export function reportError(program: string, err: unknown, io: CliIo): number {
  if (isToolhostError(err)) {
    io.err(`${program}: ${err.message} [${err.code}]\n`);
    return err.exitCode;
  }
  io.err(`${program}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_INTERNAL;
}

/**
 * The body of every bin/ shim. The command's module is loaded only once it is needed, so that
 * `--version` loads none of it, and each command loads what it uses (#14).
 */
export async function runExecutable(program: string, load: () => Promise<Command>): Promise<void> {
  const io = processIo();
  const argv = process.argv.slice(2);
  let code: number;
  try {
    if (argv[0] === VERSION_FLAG) {
      io.out(`${versionLine(program)}\n`);
      code = 0;
    } else {
      code = await (await load())(argv, io);
    }
  } catch (err) {
    code = reportError(program, err, io);
  }
  process.exitCode = code;
}
