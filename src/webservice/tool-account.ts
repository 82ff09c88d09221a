// Which tool a webservice command is about: the tool account it runs in (tools.<name>, home
// from the passwd entry), or --tool/--home (TOOLHOST_TOOL/TOOLHOST_HOME) in development.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { toolAccountName, validateToolName } from '../tool-name.js';

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

export interface ToolSelection {
  readonly tool?: string | undefined;
  readonly home?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** passwd entry by name (NSS-aware through getent), or null */
export function lookupAccount(user: string): UnixAccount | null {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
  const fields = line.split(':');
  if (fields.length < 7) return null;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  let group = user;
  try {
    group = execFileSync('getent', ['group', String(gid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0] || user;
  } catch {
    // a gid without a group entry: lighttpd accepts the user's name as group when they match
  }
  return { user, uid, gid, group, home: fields[5] as string };
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

/** Where a tool's pid files and sockets live: never /tmp, never the (possibly networked) home. */
export function runtimeDirectory(tool: Tool, env: Readonly<Record<string, string | undefined>>): string {
  if (env.TOOLHOST_RUNTIME_DIR) return path.join(env.TOOLHOST_RUNTIME_DIR, tool.name);
  if (process.getuid?.() === 0) return path.join('/run/toolhost', tool.name);
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'toolhost', tool.name);
  return path.join(tool.home, '.toolhost', 'run');
}
