// `toolhost errors [--markdown]`: every error code with its meaning; --markdown writes
// docs/errors.md's text (a test keeps the two in step).
import type { Command as Commander } from 'commander';
import { ERRORS } from '../errors.js';
import type { CliIo } from './io.js';

export function errorsMarkdown(): string {
  let out =
    '# Error codes\n\nEvery failure a user can see has a stable code, defined once in `src/errors.ts` ' +
    '(this page is `toolhost errors --markdown`). Match on the code, never on the message text. A CLI prints one line: ' +
    'the message, then the code in brackets; lighttpd configuration problems are printed first as ' +
    '`file:line:col: severity: message [CODE]` with the source line and a caret.\n\n' +
    'Exit codes: 0 success, 1 a problem with the input or the environment (a config with errors, a file that cannot be read, ' +
    'Redis unreachable), 2 a usage error (wrong arguments, not a tool account), 3 a missing dependency, 70 an internal error ' +
    '(printed with its stack).\n\n';
  for (const [code, d] of Object.entries(ERRORS)) {
    out += `## ${code}\n\n${d.summary}\n\n`;
    if (d.template !== '%s') out += `Message: \`${d.template.replace(/%s/g, '…')}\`\n\n`;
    out += code.startsWith('TH_WARN') ? 'A warning: it never fails a command.\n\n' : `Exit code ${d.exitCode}${d.status !== 500 ? `, HTTP status ${d.status}` : ''}.\n\n`;
  }
  return out;
}

export function registerErrorsCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('errors')
    .description('list every error code toolhost can report')
    .option('--markdown', 'as docs/errors.md')
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown) io.out(errorsMarkdown());
      else for (const [code, d] of Object.entries(ERRORS)) io.out(`${code.padEnd(46)} ${d.summary}\n`);
      setExit(0);
    });
}
