// Who is told about a tool: as seed 000 describes mail to a tool, the addresses in the tool's
// ~/.forward when it has one (read by root only as the tool's own regular file, never through a
// link), else the addresses the administrator recorded for its maintainers
// (`toolhost tool add-maintainer TOOL USER --email ADDRESS`) who are still in its group.
import { removeStateFile } from '../state-dir.js';
import path from 'node:path';
import { groupMembers, readOwnedFile, type Owner } from '../accounts/index.js';
import { toolAccountName } from '../tool-name.js';
import { readJson, rootDirectory, writeWhole } from './root-files.js';

/** an address a mail can go to: local@domain, nothing that could be a pipe, a file or a header */
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const MAX_RECIPIENTS = 20;

export function isAddress(s: string): boolean {
  return s.length <= 254 && ADDRESS.test(s);
}

/** the addresses of a .forward: commas or lines; pipes, files and comments are not ours to follow */
export function forwardAddresses(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim().startsWith('#')) continue;
    for (const raw of line.split(',')) {
      const a = raw.trim().replace(/^"(.*)"$/, '$1').replace(/^<(.*)>$/, '$1');
      if (isAddress(a) && !out.includes(a)) out.push(a);
    }
  }
  return out.slice(0, MAX_RECIPIENTS);
}

function maintainersFile(stateDir: string, tool: string): string {
  return path.join(stateDir, 'maintainers', `${tool}.json`);
}

function readEmails(stateDir: string, tool: string): Record<string, string> {
  const v = readJson(maintainersFile(stateDir, tool));
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string' && isAddress(e[1])));
}

/** record (or, with null, forget) a maintainer's address; the administrator's command */
export function recordMaintainerEmail(stateDir: string, tool: string, user: string, email: string | null): void {
  rootDirectory(path.join(stateDir, 'maintainers'), 0o700);
  const emails = readEmails(stateDir, tool);
  if (email === null) delete emails[user];
  else emails[user] = email;
  writeWhole(maintainersFile(stateDir, tool), `${JSON.stringify(emails, null, 2)}\n`, 0o600);
}

export function maintainerEmails(stateDir: string, tool: string): Record<string, string> {
  return readEmails(stateDir, tool);
}

export interface Recipients {
  readonly to: readonly string[];
  /** where they came from, for the log and the status */
  readonly from: '~/.forward' | 'maintainers' | 'none';
  /** a ~/.forward that was there but not trusted */
  readonly refused?: string;
}

export function recipientsOf(tool: { readonly name: string; readonly home: string }, owner: Owner, stateDir: string): Recipients {
  const forward = readOwnedFile(path.join(tool.home, '.forward'), owner, 16 * 1024);
  if (forward.ok) {
    const to = forwardAddresses(forward.text);
    if (to.length) return { to, from: '~/.forward' };
  }
  const refused = !forward.ok && !forward.missing ? `~/.forward ignored: ${forward.reason}` : undefined;
  const members = new Set(groupMembers(toolAccountName(tool.name)));
  const to = [...new Set(Object.entries(readEmails(stateDir, tool.name)).filter(([user]) => members.has(user)).map(([, email]) => email))].slice(0, MAX_RECIPIENTS);
  return { to, from: to.length ? 'maintainers' : 'none', ...(refused ? { refused } : {}) };
}

/** a deleted tool: its maintainers' addresses and its notices' record go (a later tool of the name starts clean) */
export function forgetToolMail(stateDir: string, tool: string): void {
  for (const file of [maintainersFile(stateDir, tool), path.join(stateDir, 'notify', 'status', `${tool}.json`)]) removeStateFile(file);
}
