// Reads and writes of the route table in Redis. Writers announce each change on the tool's
// channel; readers scan with SCAN, never KEYS, and read each hash through a read-only script
// that refuses it inside Redis when it is over the limits (route-limits.ts).
import type { Redis } from 'ioredis';
import {
  BACKEND_FIELD_PREFIX,
  DEFAULT_ROUTE_FIELD,
  DESCRIPTION_FIELD,
  LEASE_FIELD_PREFIX,
  NODES_KEY,
  ROUTE_CHANNEL_PATTERN,
  routeChannel,
  routeKey,
  toolOfKey,
} from './route-keys.js';
import { normalizeDescription, ROUTE_LIMITS, routeHashProblem } from './route-limits.js';

export interface RegisterOptions {
  /** the backend disappears from routing this long after the last register/renew */
  readonly leaseMs?: number;
  readonly description?: string | null;
}

/** a hash the reader refused without loading it */
export class OversizedRoute {
  constructor(readonly reason: string) {}
}

export type StoredRoute = Record<string, string> | OversizedRoute;

/**
 * EVAL_RO: the whole hash when it is within the limits, else why not; nil for no key.
 * MEMORY USAGE and HLEN cost O(fields) inside Redis and move nothing over the network.
 */
const BOUNDED_HGETALL = `
local n = redis.call('HLEN', KEYS[1])
if n == 0 then return false end
if n > tonumber(ARGV[1]) then return {'too-big', n .. ' fields (at most ' .. ARGV[1] .. ')'} end
local bytes = redis.call('MEMORY', 'USAGE', KEYS[1], 'SAMPLES', '0')
if bytes > tonumber(ARGV[2]) then return {'too-big', bytes .. ' bytes (at most ' .. ARGV[2] .. ')'} end
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'ok')
return all
`;

function decodeBounded(reply: unknown): StoredRoute {
  if (!Array.isArray(reply)) return {};
  const [tag, ...rest] = reply as string[];
  if (tag !== 'ok') return new OversizedRoute(String(rest[0] ?? 'over the limits'));
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) hash[rest[i] as string] = rest[i + 1] as string;
  const problem = routeHashProblem(hash);
  return problem ? new OversizedRoute(problem) : hash;
}

export class RouteStore {
  readonly #redis: Redis;
  #sha: string | null = null;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** add or refresh a backend of a tool with its own lease field; announces the change */
  async register(tool: string, id: string, url: string, options: RegisterOptions = {}): Promise<void> {
    const key = routeKey(tool);
    const m = this.#redis.multi().hset(key, `${BACKEND_FIELD_PREFIX}${id}`, url);
    if (options.leaseMs !== undefined) m.hset(key, `${LEASE_FIELD_PREFIX}${id}`, String(Date.now() + options.leaseMs));
    else m.hdel(key, `${LEASE_FIELD_PREFIX}${id}`);
    const description = normalizeDescription(options.description);
    if (description) m.hset(key, DESCRIPTION_FIELD, description);
    m.publish(routeChannel(tool), `register ${id}`);
    await m.exec();
  }

  /** extend a backend's own lease; not announced (proxies re-read a route when a lease runs out) */
  async renew(tool: string, id: string, leaseMs: number): Promise<void> {
    await this.#redis.hset(routeKey(tool), `${LEASE_FIELD_PREFIX}${id}`, String(Date.now() + leaseMs));
  }

  async unregister(tool: string, id: string): Promise<void> {
    const key = routeKey(tool);
    await this.#redis
      .multi()
      .hdel(key, `${BACKEND_FIELD_PREFIX}${id}`, `${LEASE_FIELD_PREFIX}${id}`)
      .publish(routeChannel(tool), `unregister ${id}`)
      .exec();
  }

  /** Toolforge's single `.*` route, as an admin sets it by hand */
  async setDefault(tool: string, url: string): Promise<void> {
    await this.#redis.multi().hset(routeKey(tool), DEFAULT_ROUTE_FIELD, url).publish(routeChannel(tool), 'set').exec();
  }

  async removeTool(tool: string): Promise<boolean> {
    const res = await this.#redis.multi().del(routeKey(tool)).publish(routeChannel(tool), 'remove').exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }

  async #scriptSha(): Promise<string> {
    this.#sha ??= (await this.#redis.script('LOAD', BOUNDED_HGETALL)) as string;
    return this.#sha;
  }

  /** one tool's hash ({} when there is none), or why it was refused */
  async get(tool: string): Promise<StoredRoute> {
    return (await this.getMany([tool]))[0] ?? {};
  }

  /** several hashes in one round trip, each bounded */
  async getMany(tools: readonly string[]): Promise<StoredRoute[]> {
    if (tools.length === 0) return [];
    const args = (tool: string): (string | number)[] => [1, routeKey(tool), ROUTE_LIMITS.maxFields, ROUTE_LIMITS.maxHashBytes];
    const run = async (sha: string): Promise<[Error | null, unknown][]> => {
      const p = this.#redis.pipeline();
      for (const tool of tools) p.call('EVALSHA_RO', sha, ...args(tool));
      return ((await p.exec()) ?? []);
    };
    let res = await run(await this.#scriptSha());
    if (res.some(([err]) => err && /NOSCRIPT/.test(err.message))) {
      // Redis restarted (or SCRIPT FLUSH): load it again once
      this.#sha = null;
      res = await run(await this.#scriptSha());
    }
    return tools.map((_, i) => {
      const [err, reply] = res[i] ?? [null, null];
      if (err) throw err;
      return decodeBounded(reply);
    });
  }

  /** every tool with a route key, by SCAN (never KEYS, which blocks Redis) */
  async tools(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', ROUTE_CHANNEL_PATTERN, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const tool = toolOfKey(k);
        if (tool !== null) out.push(tool);
      }
    } while (cursor !== '0');
    return [...new Set(out)].sort();
  }

  /** node -> epoch ms until which its registrar vouches for its backends */
  async nodes(): Promise<Record<string, string>> {
    return this.#redis.hgetall(NODES_KEY);
  }

  /** the whole table: SCAN, then bounded reads in pipelined batches; empty hashes left out */
  async loadAll(batch = 500): Promise<Map<string, StoredRoute>> {
    const tools = await this.tools();
    const out = new Map<string, StoredRoute>();
    for (let i = 0; i < tools.length; i += batch) {
      const slice = tools.slice(i, i + batch);
      const hashes = await this.getMany(slice);
      slice.forEach((tool, j) => {
        const h = hashes[j];
        if (h instanceof OversizedRoute || (h && Object.keys(h).length)) out.set(tool, h);
      });
    }
    return out;
  }
}
