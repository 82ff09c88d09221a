// A tool's sudoers rule: its maintainers, named one by one, may run anything as the tool account
// without a password — what `become` uses, and what Toolforge granted to the tool's group. The
// rule names users rather than `%tools.<tool>`: a removed maintainer's open sessions keep the
// group in their credentials until they end, and must not keep sudo with it.
//
// One file per tool, /etc/sudoers.d/toolhost-<tool> (tool names hold no `.`, which would make sudo
// skip the file). It is written next to its final place under a name with a `.` (which sudo's
// includedir skips), checked with `visudo -cf`, and renamed over the old one: sudo never reads a
// half-written or invalid rule, and a rule visudo refuses leaves the old one in place.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import { validateUserName } from '../user-name.js';
import { requireRootOwnedDirectory } from './runtime-dir.js';

export const SUDOERS_DIR = '/etc/sudoers.d';
const VISUDO = ['/usr/sbin/visudo', '/usr/bin/visudo'];

export type SudoersOutcome = 'written' | 'removed' | 'no-sudo';

export function sudoersRuleFile(tool: string, dir = SUDOERS_DIR): string {
  return path.join(dir, `toolhost-${validateToolName(tool)}`);
}

/** the rule's text; every name passed the tool-name or user-name rule, so none can leave its list */
export function renderSudoersRule(tool: string, maintainers: readonly string[]): string {
  const account = toolAccountName(validateToolName(tool));
  const users = maintainers.map(validateUserName);
  return [
    `# toolhost: the maintainers of tool ${tool} may act as ${account} (become ${tool}).`,
    '# Written by toolhost tool create|add-maintainer|remove-maintainer|sync; edits here are lost.',
    // a command run as the tool gets a terminal of its own, so no process of the tool can type
    // into the maintainer's (TIOCSTI); Debian's /etc/sudoers sets it for everybody, this keeps it
    `Defaults>${account} use_pty`,
    `${users.join(', ')} ALL = (${account}) NOPASSWD: ALL`,
    '',
  ].join('\n');
}

export interface SudoersPlace {
  /** where sudo reads rules from (default /etc/sudoers.d) */
  readonly dir?: string;
  /** the checker (default: visudo, where Debian installs it; null when sudo is not installed) */
  readonly visudo?: string | null;
}

/**
 * Install the tool's rule for these maintainers (none: no rule, the file is removed). 'no-sudo'
 * when sudo is not installed here (no visudo, no sudoers directory): nothing is written.
 */
export function installSudoersRule(tool: string, maintainers: readonly string[], place: SudoersPlace = {}): SudoersOutcome {
  const dir = place.dir ?? SUDOERS_DIR;
  const file = sudoersRuleFile(tool, dir);
  const check = place.visudo !== undefined ? place.visudo : (VISUDO.find((p) => existsSync(p)) ?? null);
  if (check === null || !existsSync(dir)) return 'no-sudo';
  if (maintainers.length === 0) {
    removeSudoersRule(tool, { dir });
    return 'removed';
  }
  const text = renderSudoersRule(tool, maintainers);
  requireRootOwnedDirectory(dir);
  const temp = path.join(dir, `.toolhost-${tool}.${randomBytes(6).toString('hex')}`);
  // created here, never opened through anything that was there before
  const fd = openSync(temp, 'wx', 0o440);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    const r = spawnSync(check, ['-c', '-q', '-f', temp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new ToolhostError('TH_ERR_SUDOERS_INVALID', tool, `${r.stderr || r.stdout || r.error?.message || `exit ${r.status}`}`.trim().split('\n').join(' '));
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  return 'written';
}

/** the tool's rule gone (no error when there is none) */
export function removeSudoersRule(tool: string, place: Pick<SudoersPlace, 'dir'> = {}): void {
  try {
    unlinkSync(sudoersRuleFile(tool, place.dir ?? SUDOERS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
