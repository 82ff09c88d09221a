// Subcommands loaded on demand: an executable with many subcommands (toolhost, toolforge) loads
// only the module of the one its command line names, so `toolhost routes list` does not load the
// proxy and `toolhost --help` loads none of them (#14: each used to cost every command its time).
import type { Command as Commander } from 'commander';
import type { CliIo } from './io.js';

/** what each subcommand's module exports: it adds the subcommand, with its options, to the program */
export type RegisterSubcommand = (program: Commander, io: CliIo, setExit: (code: number) => void, argv: readonly string[]) => void;

export interface Subcommand {
  readonly name: string;
  /** its line in the parent's --help */
  readonly summary: string;
  load(): Promise<RegisterSubcommand>;
}

/** the subcommand a command line names: its first word that is not an option (`help NAME`: NAME) */
export function namedSubcommand(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The named subcommand, complete; or, when none is named (--help, a typo), every subcommand by
 * name and summary only, for commander's help and its "unknown command" suggestions.
 */
export async function registerSubcommands(program: Commander, subcommands: readonly Subcommand[], argv: readonly string[], io: CliIo, setExit: (code: number) => void): Promise<void> {
  const name = namedSubcommand(argv);
  const named = subcommands.find((s) => s.name === name);
  if (named) {
    (await named.load())(program, io, setExit, argv);
    return;
  }
  for (const s of subcommands) program.command(s.name).summary(s.summary).description(s.summary);
}

/** `jobs`, the same subcommand in `toolhost` and `toolforge` */
export const JOBS_SUBCOMMAND: Subcommand = {
  name: 'jobs',
  summary: 'bots, one-off tasks and scheduled runs (toolforge jobs)',
  load: async () => {
    const { registerJobsCommand } = await import('./jobs-command.js');
    return (program, io, setExit, argv) => registerJobsCommand(program, io, setExit, () => argv);
  },
};
