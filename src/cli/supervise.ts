// `toolhost supervise` (hidden): the detached per-tool supervisor that `webservice start`
// launches. Not for people to run by hand.
import type { Command as Commander } from 'commander';
import { validateToolName } from '../tool-name.js';
import { lookupAccount, runSupervisor } from '../webservice/index.js';
import type { CliIo } from './io.js';

export function registerSuperviseCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('supervise', { hidden: true })
    .requiredOption('--tool <name>')
    .requiredOption('--home <dir>')
    .requiredOption('--runtime-dir <dir>')
    .option('--bind <address>', 'where servers listen', '127.0.0.1')
    .option('--as-account', 'run servers as the tool\'s unix account')
    .action(async (opts: { tool: string; home: string; runtimeDir: string; bind: string; asAccount?: boolean }) => {
      const name = validateToolName(opts.tool);
      const account = lookupAccount(`tools.${name}`);
      setExit(
        await runSupervisor({
          tool: { name, home: opts.home, account },
          runtimeDir: opts.runtimeDir,
          redisUrl: io.env.TOOLHOST_REDIS_URL ?? 'redis://127.0.0.1:6379',
          env: io.env,
          asAccount: opts.asAccount === true,
          bind: opts.bind,
        }),
      );
    });
}
