// Which tool a command is about and whose it is: the tool account it runs in (tools.<name>,
// home from the passwd entry), or --tool/--home (TOOLHOST_TOOL/TOOLHOST_HOME) in development;
// and the one rule for a tool's owner (uid/gid), used by every process that acts for a tool.
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { isToolName, toolAccountName, validateToolName } from '../tool-name.js';

export interface UnixAccount {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly group: string;
  readonly home: string;
}

export interface Tool {
  readonly name: string;
  readonly home: string;
  /** the tool's unix account, when one exists on this host */
  readonly account: UnixAccount | null;
}

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export interface ToolSelection {
  readonly tool?: string | undefined;
  readonly home?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** one entry (key), or the whole database (key '') */
function getent(database: string, key: string): string | null {
  try {
    return execFileSync('getent', key ? [database, key] : [database], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 }).trim();
  } catch {
    return null;
  }
}

/** passwd entry by name (NSS-aware through getent), or null */
export function lookupAccount(user: string): UnixAccount | null {
  const line = getent('passwd', user);
  if (line === null) return null;
  const fields = line.split(':');
  if (fields.length < 7) return null;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  // a gid without a group entry: lighttpd accepts the user's name as group when they match
  const group = getent('group', String(gid))?.split(':')[0] || user;
  return { user, uid, gid, group, home: fields[5] as string };
}

/** whether a unix group exists */
export function lookupGroup(group: string): boolean {
  return getent('group', group) !== null;
}

/** the members of a unix group (its maintainers, for a tool's group) */
export function groupMembers(group: string): string[] {
  const members = getent('group', group)?.split(':')[3] ?? '';
  return members ? members.split(',') : [];
}

/** a tool's maintainers: the members of its group, but the tool account itself */
export function maintainersOf(account: UnixAccount): string[] {
  return groupMembers(account.group).filter((m) => m !== account.user);
}

/**
 * Whose a tool is: its unix account's uid/gid. A development tool without an account belongs to
 * the owner of its home (a real directory, never a link) — but root acts for such a home only
 * when the home is root's own: a home left behind by a deleted tool belongs to a uid the system
 * may give to the next tool created, which must not inherit it. null: nobody root may act for.
 */
export function toolOwner(tool: Tool): Owner | null {
  if (tool.account) return { uid: tool.account.uid, gid: tool.account.gid };
  try {
    const st = lstatSync(tool.home);
    if (!st.isDirectory()) return null;
    if (process.getuid?.() === 0 && st.uid !== 0) return null;
    return { uid: st.uid, gid: st.gid };
  } catch {
    return null;
  }
}

/**
 * Every tool under a home root: the valid tool names there, each with its account. One listing of
 * the passwd and group databases for all of them (a lookup per tool costs milliseconds each,
 * which a scan of thousands of tools cannot afford).
 */
export function toolsUnder(homeRoot: string): Tool[] {
  let names: string[];
  try {
    names = readdirSync(homeRoot);
  } catch {
    return [];
  }
  const groups = new Map<number, string>();
  for (const line of (getent('group', '') ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3) groups.set(Number(f[2]), f[0] as string);
  }
  const accounts = new Map<string, UnixAccount>();
  for (const line of (getent('passwd', '') ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !(f[0] as string).startsWith('tools.')) continue;
    const gid = Number(f[3]);
    accounts.set(f[0] as string, { user: f[0] as string, uid: Number(f[2]), gid, group: groups.get(gid) ?? (f[0] as string), home: f[5] as string });
  }
  return names
    .filter((n) => isToolName(n))
    .sort()
    .map((name) => {
      const account = accounts.get(toolAccountName(name)) ?? null;
      return { name, home: account?.home ?? path.join(homeRoot, name), account };
    });
}

/** the tool named NAME on this host: account home, or HOME_ROOT/NAME in development */
export function toolByName(name: string, homeRoot: string): Tool {
  const account = lookupAccount(toolAccountName(validateToolName(name)));
  return { name, home: account?.home ?? path.join(homeRoot, name), account };
}

function requireDirectory(dir: string): string {
  try {
    if (statSync(dir).isDirectory()) return dir;
  } catch {
    // reported below
  }
  throw new ToolhostError('TH_ERR_TOOL_HOME_MISSING', dir);
}

export function resolveTool(sel: ToolSelection): Tool {
  const named = sel.tool ?? sel.env.TOOLHOST_TOOL;
  const homeGiven = sel.home ?? sel.env.TOOLHOST_HOME;
  if (named) {
    const name = validateToolName(named);
    const account = lookupAccount(toolAccountName(name));
    const home = homeGiven ? path.resolve(sel.cwd, homeGiven) : account?.home;
    if (!home) throw new ToolhostError('TH_ERR_TOOL_HOME_MISSING', `(none given for tool ${name})`);
    return { name, home: requireDirectory(home), account };
  }
  const me = os.userInfo();
  if (me.username.startsWith('tools.')) {
    const name = validateToolName(me.username.slice('tools.'.length));
    const account = lookupAccount(me.username);
    const home = homeGiven ? path.resolve(sel.cwd, homeGiven) : (account?.home ?? me.homedir);
    return { name, home: requireDirectory(home), account };
  }
  throw new ToolhostError('TH_ERR_TOOL_NOT_A_TOOL_ACCOUNT', me.username);
}
