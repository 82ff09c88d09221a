// Tool accounts, as an administrator creates them: a unix user and group tools.<name> (when
// root; a plain directory in development), a home that keeps other tools out, and a Redis user
// that can read its own route but write nothing: routes are written only by node registrars,
// after the kernel confirmed the port is the tool's. Root never writes inside a tool's home:
// what goes there is written by a shell running as the tool.
//
// Who maintains a tool is its unix group (on the host where the accounts are). Every command that
// changes it also records it where the rest of the platform looks: the tool directory in Redis
// (every proxy lists the tool and its maintainers from there) and, as root, the tool's sudoers
// rule (`become`). `toolhost tool sync` records them again from the groups.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { installSudoersRule, lookupAccount, lookupGroup, maintainersOf, prepareRuntimeDirectory, removeSudoersRule, runtimeDirectory, toolOwner, type Tool, type UnixAccount } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { describeRedis, DIRECTORY_KEY_PREFIX, formatRedisConnection, NODES_CHANNEL, NODES_KEY, routeChannel, routeKey, ROUTE_KEY_PREFIX, ToolDirectoryStore, withRedis, type RedisConnection } from '../routes/index.js';
import { propagateUsers } from './redis-users.js';
import { forgetToolId, toolId } from './tool-ids.js';
import { toolAccountName, validateToolName } from '../tool-name.js';
import { isUserName, validateUserName } from '../user-name.js';

export const CREDENTIALS_FILE = path.join('.toolhost', 'redis-credentials');
export const PROXY_REDIS_USER = 'toolhost-proxy';
export const REGISTRAR_REDIS_USER = 'toolhost-registrar';

/**
 * A tool's Redis user may read its own route and nothing else. It has no keyspace of its own on
 * this Redis: the route table's Redis serves every proxy and registrar, and a tool able to
 * write there could fill its memory (and its append-only file) for everybody. Tools that need
 * Redis for their own data get another instance.
 */
function toolRules(name: string): string[] {
  return [`%R~${routeKey(name)}`, 'resetchannels', '-@all', '+hgetall', '+hget', '+hlen', '+ping', '+hello', '+client|setname'];
}

/** the proxy's: read the table (through the bounded read script) and follow its changes */
const PROXY_COMMANDS = ['hgetall', 'hget', 'hlen', 'memory|usage', 'evalsha_ro', 'eval_ro', 'script|load', 'scan', 'psubscribe', 'punsubscribe', 'subscribe', 'unsubscribe', 'ping', 'info', 'client|setname', 'hello', 'config|get'];
/** a registrar's: write verified backends and the node lease, and read to reconcile */
const REGISTRAR_COMMANDS = ['hset', 'hdel', 'hget', 'hmget', 'hgetall', 'hlen', 'memory|usage', 'eval', 'evalsha', 'evalsha_ro', 'eval_ro', 'script|load', 'publish', 'scan', 'multi', 'exec', 'discard', 'ping', 'info', 'client|setname', 'hello'];

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
  /** the administrator's Redis (may run ACL): one server, or the master a Sentinel set names */
  readonly redis: RedisConnection;
  /** where tools and proxies reach Redis, for the URLs written for them (default: redis) */
  readonly publicRedis?: RedisConnection;
  readonly homeRoot: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** one line about something done only in part (sudo missing here, an odd group member, a replica that could not be kept in step) */
  readonly warn?: (line: string) => void;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * redis://USER:PASSWORD@HOST:PORT for a user, at the address tools reach; with Sentinel,
 * redis-sentinel://USER:PASSWORD@SENTINEL,…/MASTER (the same user on every data node)
 */
export function credentialsUrl(ctx: AdminContext, user: string, password: string): string {
  return formatRedisConnection(ctx.publicRedis ?? ctx.redis, { username: user, password });
}

/** the users just changed on the master, saved there and copied to every replica */
async function propagate(ctx: AdminContext, users: readonly string[]): Promise<void> {
  for (const line of await propagateUsers(ctx.redis, users)) ctx.warn?.(line);
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
    maintainers: account ? maintainersOf(account) : [],
  };
}

/**
 * Refuse to hand out users on a Redis anyone can use as administrator: with an ACL file,
 * Redis ignores requirepass and the default user stays `on nopass ~* &* +@all`.
 */
async function requireClosedRedis(r: Redis, conn: RedisConnection): Promise<void> {
  const reply = (await r.call('ACL', 'GETUSER', 'default')) as unknown[] | null;
  if (!reply) return;
  const get = (k: string): unknown => reply[reply.indexOf(k) + 1];
  const flags = (get('flags') as string[] | undefined) ?? [];
  const commands = typeof get('commands') === 'string' ? (get('commands') as string) : '';
  if (flags.includes('on') && flags.includes('nopass') && (flags.includes('allcommands') || commands.includes('+@all'))) {
    throw new ToolhostError('TH_ERR_REDIS_OPEN', describeRedis(conn));
  }
}

/** the tool's home made ready and its credentials written, by a shell running as the tool */
const POPULATE_HOME = [
  'set -e',
  'umask 077',
  'cd "$HOME"',
  'mkdir -p public_html .toolhost',
  'chmod 2770 . public_html',
  'chmod 700 .toolhost',
  'tmp=$(mktemp .toolhost/redis-credentials.XXXXXX)',
  'cat > "$tmp"',
  'mv -f "$tmp" .toolhost/redis-credentials',
].join('\n');

function populateHomeAsTool(account: UnixAccount, credentials: string): void {
  // in a session of its own: no process of the tool ever holds root's terminal (see cli/as-tool.ts)
  const r = spawnSync('setsid', ['--wait', '/bin/sh', '-c', POPULATE_HOME], {
    uid: account.uid,
    gid: account.gid,
    cwd: '/',
    env: { HOME: account.home, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    input: credentials,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new ToolhostError('TH_ERR_COMMAND_FAILED', `preparing ${account.home} as ${account.user}`, (r.stderr || r.error?.message || `exit ${r.status}`).trim());
}

/**
 * Record what the platform knows of a tool's people from its unix group: the sudoers rule (as
 * root, for a tool with an account; first, since it is what grants anything) and the tool
 * directory entry. description: undefined keeps the recorded one. Returns the maintainers.
 */
async function recordTool(ctx: AdminContext, name: string, description?: string | null): Promise<string[]> {
  const account = lookupAccount(toolAccountName(name));
  const members = account ? maintainersOf(account) : [];
  const maintainers = members.filter(isUserName);
  const odd = members.filter((m) => !isUserName(m));
  if (account && odd.length) ctx.warn?.(`group ${account.group} has members whose names toolhost writes nowhere (${odd.join(', ')}); they cannot become ${name}`);
  if (account && isRoot() && installSudoersRule(name, maintainers) === 'no-sudo') {
    ctx.warn?.(`sudo is not installed on this host, so the maintainers of ${name} cannot become it; install it (apt-get install sudo), then run: toolhost tool sync ${name}`);
  }
  await withRedis(ctx.redis, (r) => new ToolDirectoryStore(r).write(name, { maintainers, ...(description !== undefined ? { description } : {}) }));
  return maintainers;
}

async function requireRedisUser(ctx: AdminContext, name: string): Promise<void> {
  const exists = await withRedis(ctx.redis, async (r) => (await r.call('ACL', 'GETUSER', redisUserOf(name))) !== null);
  if (!exists) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', name);
}

export interface CreateOptions {
  /** the administrator's one-line description for the home page */
  readonly description?: string;
}

export async function createTool(ctx: AdminContext, name: string, options: CreateOptions = {}): Promise<ToolRecord> {
  validateToolName(name);
  const user = toolAccountName(name);
  const home = path.join(ctx.homeRoot, name);
  const password = randomBytes(24).toString('hex');
  await withRedis(ctx.redis, (r) => requireClosedRedis(r, ctx.redis));
  const credentials = `${credentialsUrl(ctx, redisUserOf(name), password)}\n`;
  let account: UnixAccount | null = lookupAccount(user);
  if (isRoot() && !account) {
    mkdirSync(ctx.homeRoot, { recursive: true, mode: 0o755 });
    await makeAccount(ctx, name, home);
    account = lookupAccount(user);
  }
  if (account && isRoot()) {
    populateHomeAsTool(account, credentials);
    const tool: Tool = { name, home: account.home, account };
    const runtimeDir = runtimeDirectory(tool, ctx.env);
    if (!runtimeDir.startsWith(account.home + path.sep)) prepareRuntimeDirectory(runtimeDir, toolOwner(tool));
  } else {
    // development: the caller owns the home it makes
    const toolHome = account?.home ?? home;
    mkdirSync(path.join(toolHome, 'public_html'), { recursive: true });
    mkdirSync(path.join(toolHome, '.toolhost'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(toolHome, CREDENTIALS_FILE), credentials, { mode: 0o600, flag: 'w' });
  }
  // the password changes only once the tool holds the new one
  await withRedis(ctx.redis, (r) => r.call('ACL', 'SETUSER', redisUserOf(name), 'reset', 'on', `>${password}`, ...toolRules(name)));
  await propagate(ctx, [redisUserOf(name)]);
  await recordTool(ctx, name, options.description);
  return toolRecord(name, ctx.homeRoot);
}

/**
 * The tool's unix group and user, with an id no tool had before. A home at its place belongs to
 * a deleted tool (kept by `delete` without --remove-home): it is not handed to the new one.
 */
async function makeAccount(ctx: AdminContext, name: string, home: string): Promise<void> {
  const user = toolAccountName(name);
  let left: ReturnType<typeof lstatSync> | null = null;
  try {
    left = lstatSync(home);
  } catch {
    // nothing there: the usual case
  }
  if (left) throw new ToolhostError('TH_ERR_TOOL_HOME_LEFT_BEHIND', home, String(left.uid), name);
  const taken = new Set<number>();
  for (let attempt = 1; ; attempt++) {
    const id = await withRedis(ctx.redis, (r) => toolId(r, name, taken));
    // one command for user and group: the group gets gid = uid when that gid is free (not with
    // --system, which picks the gid from the system range)
    const made = spawnSync('useradd', ['--uid', String(id), '--user-group', '--home-dir', home, '--create-home', '--shell', '/bin/bash', user], { encoding: 'utf8' });
    const account = made.status === 0 ? lookupAccount(user) : null;
    if (account && account.gid === id) return;
    if (account) {
      // the gid was someone else's: this id is not wholly free; the next one is
      spawnSync('userdel', ['--remove', user]);
      if (lookupGroup(user)) spawnSync('groupdel', [user]);
    }
    // exit code 4: the uid is used (an account made since toolId looked); a locked /etc/passwd or
    // /etc/group (another administrator's command at the same moment): the same id again, a moment later
    const locked = /cannot lock|try again later/i.test(made.stderr);
    if ((account || made.status === 4 || locked) && attempt < 30) {
      if (!locked) taken.add(id);
      await sleep(locked ? 50 + Math.random() * 100 : 0);
      continue;
    }
    throw new ToolhostError('TH_ERR_COMMAND_FAILED', `making the user ${user}`, made.stderr.trim() || `useradd exit code ${made.status}`);
  }
}

export async function deleteTool(ctx: AdminContext, name: string, options: { removeHome?: boolean } = {}): Promise<void> {
  validateToolName(name);
  const record = toolRecord(name, ctx.homeRoot);
  // what lets anyone act as the tool goes first
  if (isRoot()) removeSudoersRule(name);
  await withRedis(ctx.redis, async (r) => {
    await r.call('ACL', 'DELUSER', redisUserOf(name));
    await forgetToolId(r, name);
    await r.multi().del(routeKey(name)).publish(routeChannel(name), 'remove').exec();
    await new ToolDirectoryStore(r).remove(name);
  });
  await propagate(ctx, [redisUserOf(name)]);
  const tool: Tool = { name, home: record.home, account: lookupAccount(toolAccountName(name)) };
  const runtimeDir = runtimeDirectory(tool, ctx.env);
  if (isRoot() && record.uid !== null) {
    await removeAccount(toolAccountName(name));
  }
  if (isRoot() && lookupGroup(toolAccountName(name))) {
    // userdel keeps a primary group that has other members (the maintainers): it would outlive
    // the tool, keep their file access by gid, and stop the name from being created again
    execFileSync('groupdel', [toolAccountName(name)], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  // maintainers (other uids) may still write in the home while it goes: GNU rm walks it with
  // directory descriptors and never follows a directory swapped for a link under it
  const remove = (dir: string): void => {
    // what a maintainer writes meanwhile can make one pass fail (a directory no longer empty)
    for (let pass = 1; ; pass++) {
      const rm = spawnSync('rm', ['-rf', '--one-file-system', '--', dir], { encoding: 'utf8' });
      if (rm.status === 0) return;
      if (pass >= 3) throw new ToolhostError('TH_ERR_COMMAND_FAILED', `removing ${dir}`, rm.stderr.trim() || `rm exit code ${rm.status}`);
    }
  };
  if (!runtimeDir.startsWith(record.home + path.sep)) remove(runtimeDir);
  if (options.removeHome) remove(record.home);
}

/**
 * The tool's unix user, once nothing runs as it. Nothing of the tool may run while its files are
 * removed, and userdel refuses a user whose processes still run; a process may start after the
 * kill (the monitor restarting a supervisor it just saw die, a scheduled run it fires), so kill,
 * wait and remove again until userdel no longer finds one.
 */
async function removeAccount(user: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    spawnSync('pkill', ['-KILL', '-u', user], { stdio: 'ignore' });
    // SIGKILL is delivered, not yet acted on (a supervisor writing out its logs after `webservice stop`)
    for (const deadline = Date.now() + 2000; Date.now() < deadline && spawnSync('pgrep', ['-u', user]).status === 0; ) await sleep(20);
    const del = spawnSync('userdel', [user], { encoding: 'utf8' });
    if (del.status === 0) return;
    // userdel's exit code 8: the user is logged in or runs a process
    if (del.status !== 8 || attempt >= 10) throw new ToolhostError('TH_ERR_COMMAND_FAILED', `removing the unix user ${user}`, del.stderr.trim() || `userdel exit code ${del.status}`);
  }
}

export async function listTools(ctx: AdminContext): Promise<string[]> {
  return withRedis(ctx.redis, async (r) => {
    const users = (await r.call('ACL', 'USERS')) as string[];
    return users.filter((u) => u.startsWith('tool-')).map((u) => u.slice('tool-'.length)).sort();
  });
}

function requireAccount(name: string): UnixAccount {
  validateToolName(name);
  const account = lookupAccount(toolAccountName(name));
  if (!account) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', name);
  return account;
}

/** USER joins the tool's group, its sudoers rule and its directory entry; returns the maintainers */
export async function addMaintainer(ctx: AdminContext, name: string, user: string): Promise<string[]> {
  const account = requireAccount(name);
  validateUserName(user);
  if (!lookupAccount(user)) throw new ToolhostError('TH_ERR_USER_UNKNOWN', user);
  execFileSync('usermod', ['--append', '--groups', account.group, user], { stdio: ['ignore', 'ignore', 'pipe'] });
  return recordTool(ctx, name);
}

/**
 * USER leaves the tool's group, and its sudoers rule no longer names them: `become` stops at
 * once; sessions they already have keep the group's file access until they end (unix groups
 * are read at login). Returns the maintainers left.
 */
export async function removeMaintainer(ctx: AdminContext, name: string, user: string): Promise<string[]> {
  const account = requireAccount(name);
  validateUserName(user);
  const members = maintainersOf(account);
  if (!members.includes(user)) throw new ToolhostError('TH_ERR_TOOL_NOT_MAINTAINER', user, name, members.join(', ') || 'none');
  execFileSync('gpasswd', ['--delete', user, account.group], { stdio: ['ignore', 'ignore', 'pipe'] });
  return recordTool(ctx, name);
}

/** the administrator's description of a tool, for the home page ('' removes it) */
export async function describeTool(ctx: AdminContext, name: string, description: string): Promise<void> {
  validateToolName(name);
  await requireRedisUser(ctx, name);
  await recordTool(ctx, name, description);
}

/**
 * Record the named tools (none: every tool with a Redis user) again from their groups — after
 * a change made by hand (usermod), a Redis that lost data, or sudo installed late — and remove
 * directory entries of tools that no longer exist. Returns tool -> maintainers.
 */
export async function syncTools(ctx: AdminContext, names: readonly string[] = []): Promise<Map<string, string[]>> {
  const all = names.length === 0;
  const tools = all ? await listTools(ctx) : names.map(validateToolName);
  const out = new Map<string, string[]>();
  for (const name of tools) {
    if (!all) await requireRedisUser(ctx, name);
    out.set(name, await recordTool(ctx, name));
  }
  if (all) {
    await withRedis(ctx.redis, async (r) => {
      const store = new ToolDirectoryStore(r);
      for (const listed of await store.tools()) if (!out.has(listed)) await store.remove(listed);
    });
  }
  return out;
}

async function createServiceUser(ctx: AdminContext, user: string, rules: readonly string[]): Promise<string> {
  const password = randomBytes(24).toString('hex');
  await withRedis(ctx.redis, async (r) => {
    await requireClosedRedis(r, ctx.redis);
    await r.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...rules);
  });
  await propagate(ctx, [user]);
  return credentialsUrl(ctx, user, password);
}

/** the proxy's read-only Redis user; returns its URL */
export function createProxyUser(ctx: AdminContext): Promise<string> {
  return createServiceUser(ctx, PROXY_REDIS_USER, [
    `%R~${ROUTE_KEY_PREFIX}*`,
    `%R~${NODES_KEY}`,
    `%R~${DIRECTORY_KEY_PREFIX}*`,
    `&${ROUTE_KEY_PREFIX}*`,
    `&${NODES_CHANNEL}`,
    `&${DIRECTORY_KEY_PREFIX}*`,
    `&__keyspace@*__:${ROUTE_KEY_PREFIX}*`,
    `&__keyspace@*__:${DIRECTORY_KEY_PREFIX}*`,
    '-@all',
    ...PROXY_COMMANDS.map((c) => `+${c}`),
  ]);
}

/** the node registrars' Redis user (one for every node); returns its URL */
export function createRegistrarUser(ctx: AdminContext): Promise<string> {
  return createServiceUser(ctx, REGISTRAR_REDIS_USER, [`~${ROUTE_KEY_PREFIX}*`, `~${NODES_KEY}`, `&${ROUTE_KEY_PREFIX}*`, `&${NODES_CHANNEL}`, '-@all', ...REGISTRAR_COMMANDS.map((c) => `+${c}`)]);
}
