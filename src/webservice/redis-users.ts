// Redis users on every data node. ACL users are not replicated: a user made on the master does
// not exist on its replicas, and after a failover the tools, proxies and registrars whose users
// are missing there are locked out. So every change of a user is copied, as the master holds it
// (rules and password hashes, never a clear password), to every replica the sentinels or the
// master know, and saved to each node's ACL file where it has one. A node that cannot be reached
// is named, with the command that brings it in step once it is back (`toolhost tool sync-acl`).
import type { Redis } from 'ioredis';
import { formatMessage } from '../errors.js';
import { dataNodes, nodeConnection, nodeName, withRedis, type HostPort, type RedisConnection } from '../routes/index.js';

/** user name -> its rules as ACL LIST prints them (flags, #hashes, keys, channels, commands, selectors) */
export type UserRules = Map<string, string[]>;

/** the rules of an ACL LIST line, a selector "(…)" kept as one rule */
export function parseAclLine(line: string): { user: string; rules: string[] } | null {
  const m = /^user (\S+)(?: (.*))?$/.exec(line);
  if (!m) return null;
  const rules: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of m[2] ?? '') {
    if (ch === ' ' && depth === 0) {
      if (cur) rules.push(cur);
      cur = '';
      continue;
    }
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    cur += ch;
  }
  if (cur) rules.push(cur);
  return { user: m[1] as string, rules };
}

/**
 * The rules in a form two nodes agree on when the users are the same. ACL LIST prints a user's
 * command rules in the order they were given, so a user written with `reset` and the master's
 * rules reads back with the same permissions but its +commands in another order. Within a run of
 * additions (or of removals) the order means nothing, so each run is sorted; the order of the
 * runs, and of everything else, is kept.
 */
export function canonicalRules(rules: readonly string[]): string {
  const out: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    out.push(...run.sort());
    run = [];
  };
  for (const rule of rules) {
    const sign = rule[0] === '+' || rule[0] === '-' ? rule[0] : null;
    if (run.length && (sign === null || run[0]?.[0] !== sign)) flush();
    if (sign) run.push(rule);
    else out.push(rule);
  }
  flush();
  return out.join(' ');
}

export async function aclUsers(r: Redis): Promise<UserRules> {
  const lines = (await r.call('ACL', 'LIST')) as string[];
  const out: UserRules = new Map();
  for (const line of lines) {
    const parsed = parseAclLine(line);
    if (parsed) out.set(parsed.user, parsed.rules);
  }
  return out;
}

/**
 * Write the users to the node's ACL file, when it has one (a node configured with its users in
 * redis.conf, or none, keeps them in memory only: nothing to save). Returns a problem or null.
 */
export async function saveAcl(r: Redis): Promise<string | null> {
  try {
    await r.call('ACL', 'SAVE');
    return null;
  } catch (err) {
    const message = (err as Error).message;
    return /not configured to use an ACL file/i.test(message) ? null : `ACL SAVE failed (${message}); the users live in memory only until it succeeds`;
  }
}

export interface NodeSync {
  readonly node: string;
  /** users written because they differed or were missing */
  readonly set: readonly string[];
  readonly removed: readonly string[];
  /** why the node was not brought in step (unreachable, refused), or null */
  readonly problem: string | null;
}

export interface SyncOptions {
  /** only these users (default: every user of the source, and nodes lose the users it lacks) */
  readonly users?: readonly string[];
  /** the node whose users are copied (default: the master) */
  readonly from?: HostPort;
  /** the nodes to bring in step (default: every other data node the master and the sentinels know) */
  readonly to?: readonly HostPort[];
}

/** one node made to hold exactly the source's users (of `only`, when given) */
async function syncNode(r: Redis, source: UserRules, only: readonly string[] | undefined): Promise<{ set: string[]; removed: string[]; saveProblem: string | null }> {
  const current = await aclUsers(r);
  const set: string[] = [];
  const removed: string[] = [];
  for (const user of only ?? [...source.keys()]) {
    const rules = source.get(user);
    if (!rules) continue;
    const now = current.get(user);
    if (now && canonicalRules(now) === canonicalRules(rules)) continue;
    await r.call('ACL', 'SETUSER', user, 'reset', ...rules);
    set.push(user);
  }
  for (const user of only ?? [...current.keys()]) {
    if (source.has(user) || !current.has(user)) continue;
    await r.call('ACL', 'DELUSER', user);
    removed.push(user);
  }
  return { set, removed, saveProblem: set.length || removed.length ? await saveAcl(r) : null };
}

/** copy users from the master (or `from`) to the other data nodes; one outcome per node */
export async function syncRedisUsers(conn: RedisConnection, options: SyncOptions = {}): Promise<NodeSync[]> {
  const nodes = options.from && options.to ? [] : await dataNodes(conn);
  const master = nodes.find((n) => n.role === 'master');
  const from = options.from ?? master?.address;
  if (!from) return [];
  const same = (a: HostPort, b: HostPort): boolean => a.host === b.host && a.port === b.port;
  const targets = options.to ?? nodes.map((n) => n.address).filter((a) => !same(a, from));
  const source = await withRedis(nodeConnection(conn, from), aclUsers);
  const out: NodeSync[] = [];
  for (const target of targets) {
    try {
      const done = await withRedis(nodeConnection(conn, target), (r) => syncNode(r, source, options.users), { connectTimeoutMs: 3000 });
      out.push({ node: nodeName(target), set: done.set, removed: done.removed, problem: done.saveProblem });
    } catch (err) {
      out.push({ node: nodeName(target), set: [], removed: [], problem: (err as Error).message });
    }
  }
  return out;
}

/**
 * After users changed on the master: save them there, and copy them to every replica. Returns
 * one line per node left behind (the command to run once it is back included), or none.
 */
export async function propagateUsers(conn: RedisConnection, users: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const saved = await withRedis(conn, saveAcl);
  if (saved) problems.push(`the master: ${saved}`);
  for (const n of await syncRedisUsers(conn, { users })) if (n.problem) problems.push(`${n.node}: ${n.problem}`);
  return problems.length ? [`${formatMessage('TH_ERR_REDIS_NODES_NOT_SYNCED', [problems.join('; ')])} [TH_ERR_REDIS_NODES_NOT_SYNCED]`] : [];
}
