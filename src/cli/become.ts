// `become TOOL [COMMAND [ARGS...]]`: a login shell as the tool account (or one command run by it),
// for the tool's maintainers — Toolforge's `become`. sudo makes the switch, under the rule
// `toolhost tool create|add-maintainer` wrote for the tool (sudoers-rule.ts); become checks first
// that it may, so that a user who may not gets one clear line instead of sudo's password prompt.
// The check is a courtesy, not the guard: sudo's rule is what lets anyone through.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { lookupAccount, maintainersOf } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';

const DEFAULT_SUDO = '/usr/bin/sudo';
/** the terminal's signals reach sudo (which passes them on) and become alike: become outlives them */
const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];

async function run(tool: string, command: readonly string[], io: CliIo): Promise<number> {
  validateToolName(tool);
  const account = lookupAccount(toolAccountName(tool));
  if (!account) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', tool);
  const me = os.userInfo();
  if (me.uid === account.uid) throw new ToolhostError('TH_ERR_BECOME_ALREADY', account.user);
  if (me.uid !== 0) {
    const maintainers = maintainersOf(account);
    if (!maintainers.includes(me.username)) throw new ToolhostError('TH_ERR_BECOME_NOT_MAINTAINER', me.username, tool, maintainers.join(', ') || 'none yet', tool, me.username);
  }
  const sudo = io.env.TOOLHOST_SUDO ?? DEFAULT_SUDO;
  if (!existsSync(sudo)) throw new ToolhostError('TH_ERR_SUDO_MISSING', sudo);
  if (me.uid !== 0) {
    // -l: ask the policy without running anything; -n: never prompt for a password
    const allowed = spawnSync(sudo, ['-n', '-l', '-u', account.user, '/bin/sh'], { stdio: 'ignore', env: { ...io.env } });
    if (allowed.status !== 0) throw new ToolhostError('TH_ERR_BECOME_NO_RULE', me.username, account.user, tool);
  }
  const ignore = (): void => {};
  for (const sig of TERMINAL_SIGNALS) process.on(sig, ignore);
  try {
    // -i: the tool's login shell, in its home, with the tool's own environment (env_reset)
    const child = spawn(sudo, ['-n', '-i', '-u', account.user, ...command], { stdio: 'inherit', cwd: '/', env: { ...io.env } });
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve({ code: c, signal: s }));
    });
    return code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
  } finally {
    for (const sig of TERMINAL_SIGNALS) process.off(sig, ignore);
  }
}

export async function become(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('become', 'a shell as a tool account you maintain, or one command run as it', io);
  program
    .argument('<tool>', 'the tool (its account is tools.TOOL)')
    .argument('[command...]', 'run this (through the tool\'s login shell) instead of an interactive shell')
    .passThroughOptions()
    .action(async (tool: string, command: string[]) => {
      exit = await run(tool, command, io);
    });
  return (await runProgram(program, argv)) ?? exit;
}
