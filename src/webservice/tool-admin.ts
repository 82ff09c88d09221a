// Tool accounts, as an administrator creates them: a unix user and group tools.<name> (when
// root; a plain directory in development), a home that keeps other tools out, and a Redis ACL
// user that may write only the tool's own route key and publish only on its own channel. Its
// password is in a file only the tool can read.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { routeChannel, routeKey, withRedis } from '../routes/index.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import { lookupAccount, type UnixAccount } from './tool-account.js';

export const CREDENTIALS_FILE = path.join('.toolhost', 'redis-credentials');
export const PROXY_REDIS_USER = 'toolhost-proxy';

/** the commands a tool's own Redis user needs to register, renew and remove its routes */
const TOOL_COMMANDS = ['hset', 'hdel', 'hget', 'hgetall', 'hlen', 'publish', 'multi', 'exec', 'discard', 'ping', 'info', 'client|setname', 'hello'];
/** the proxy's: read the table and follow its changes */
const PROXY_COMMANDS = ['hgetall', 'hget', 'scan', 'psubscribe', 'punsubscribe', 'ping', 'info', 'client|setname', 'hello', 'config|get'];

export function redisUserOf(tool: string): string {
  return `tool-${tool}`;
}

export interface ToolRecord {
  readonly name: string;
  readonly home: string;
  readonly uid: number | null;
  readonly gid: number | null;
  readonly redisUser: string;
  readonly credentialsFile: string;
  readonly maintainers: readonly string[];
}

export interface AdminContext {
  /** the administrator's Redis (may run ACL) */
  readonly redisUrl: string;
  /** host and port tools and proxies reach Redis at, for the URLs written for them */
  readonly publicRedisUrl?: string;
  readonly homeRoot: string;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** redis://USER:PASSWORD@HOST:PORT for a user, at the address tools reach */
export function credentialsUrl(ctx: AdminContext, user: string, password: string): string {
  const u = new URL(ctx.publicRedisUrl ?? ctx.redisUrl);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}

function groupMembers(group: string): string[] {
  try {
    const line = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const members = line.split(':')[3] ?? '';
    return members ? members.split(',') : [];
  } catch {
    return [];
  }
}

export function toolRecord(name: string, homeRoot: string): ToolRecord {
  const account = lookupAccount(toolAccountName(name));
  const home = account?.home ?? path.join(homeRoot, name);
  return {
    name,
    home,
    uid: account?.uid ?? null,
    gid: account?.gid ?? null,
    redisUser: redisUserOf(name),
    credentialsFile: path.join(home, CREDENTIALS_FILE),
    maintainers: account ? groupMembers(account.group) : [],
  };
}

export async function createTool(ctx: AdminContext, name: string): Promise<ToolRecord> {
  validateToolName(name);
  const user = toolAccountName(name);
  const home = path.join(ctx.homeRoot, name);
  let account: UnixAccount | null = lookupAccount(user);
  if (isRoot() && !account) {
    mkdirSync(ctx.homeRoot, { recursive: true, mode: 0o755 });
    execFileSync('useradd', ['--system', '--user-group', '--home-dir', home, '--create-home', '--shell', '/bin/bash', user], { stdio: ['ignore', 'ignore', 'pipe'] });
    account = lookupAccount(user);
  }
  const toolHome = account?.home ?? home;
  mkdirSync(path.join(toolHome, 'public_html'), { recursive: true });
  mkdirSync(path.join(toolHome, '.toolhost'), { recursive: true, mode: 0o700 });
  const password = randomBytes(24).toString('hex');
  await withRedis(ctx.redisUrl, async (r) => {
    await r.call('ACL', 'SETUSER', redisUserOf(name), 'reset', 'on', `>${password}`, `~${routeKey(name)}`, `&${routeChannel(name)}`, '-@all', ...TOOL_COMMANDS.map((c) => `+${c}`));
  });
  const file = path.join(toolHome, CREDENTIALS_FILE);
  writeFileSync(file, `${credentialsUrl(ctx, redisUserOf(name), password)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  if (account) {
    for (const p of [toolHome, path.join(toolHome, 'public_html'), path.join(toolHome, '.toolhost'), file]) chownSync(p, account.uid, account.gid);
    // the tool and its maintainers (its group); nobody else, not even to list it
    chmodSync(toolHome, 0o2770);
    chmodSync(path.join(toolHome, 'public_html'), 0o2770);
  }
  return toolRecord(name, ctx.homeRoot);
}

export async function deleteTool(ctx: AdminContext, name: string, options: { removeHome?: boolean } = {}): Promise<void> {
  validateToolName(name);
  const record = toolRecord(name, ctx.homeRoot);
  await withRedis(ctx.redisUrl, async (r) => {
    await r.call('ACL', 'DELUSER', redisUserOf(name));
    await r.multi().del(routeKey(name)).publish(routeChannel(name), 'remove').exec();
  });
  if (isRoot() && record.uid !== null) {
    try {
      execFileSync('pkill', ['-KILL', '-u', toolAccountName(name)], { stdio: 'ignore' });
    } catch {
      // no process left
    }
    execFileSync('userdel', [toolAccountName(name)], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  if (options.removeHome) rmSync(record.home, { recursive: true, force: true });
}

export async function listTools(ctx: AdminContext): Promise<string[]> {
  return withRedis(ctx.redisUrl, async (r) => {
    const users = (await r.call('ACL', 'USERS')) as string[];
    return users.filter((u) => u.startsWith('tool-')).map((u) => u.slice('tool-'.length)).sort();
  });
}

export function addMaintainer(name: string, user: string): void {
  validateToolName(name);
  if (!lookupAccount(toolAccountName(name))) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', name);
  execFileSync('usermod', ['--append', '--groups', toolAccountName(name), user], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** the proxy's read-only Redis user; returns its URL */
export async function createProxyUser(ctx: AdminContext): Promise<string> {
  const password = randomBytes(24).toString('hex');
  await withRedis(ctx.redisUrl, async (r) => {
    await r.call('ACL', 'SETUSER', PROXY_REDIS_USER, 'reset', 'on', `>${password}`, '~prefix:*', '&prefix:*', '&__keyspace@*__:prefix:*', '-@all', ...PROXY_COMMANDS.map((c) => `+${c}`));
  });
  return credentialsUrl(ctx, PROXY_REDIS_USER, password);
}

/** the URL a tool's processes use for the route table: its own credentials when it has them */
export function toolRedisUrl(home: string, fallback: string): string {
  const file = path.join(home, CREDENTIALS_FILE);
  if (!existsSync(file)) return fallback;
  try {
    const url = readFileSync(file, 'utf8').trim();
    return url || fallback;
  } catch {
    return fallback;
  }
}
