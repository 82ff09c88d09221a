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
import { BoundedHashReader, OversizedRoute, type StoredHash } from './bounded-hash.js';
import { normalizeDescription, ROUTE_LIMITS } from './route-limits.js';

export { OversizedRoute };

export interface RegisterOptions {
  /** the backend disappears from routing this long after the last register/renew */
  readonly leaseMs?: number;
  readonly description?: string | null;
}

export type StoredRoute = StoredHash;

export class RouteStore {
  readonly #redis: Redis;
  readonly #reader: BoundedHashReader;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#reader = new BoundedHashReader(redis);
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

  /** one tool's hash ({} when there is none), or why it was refused */
  async get(tool: string): Promise<StoredRoute> {
    return (await this.getMany([tool]))[0] ?? {};
  }

  /** several hashes in one round trip, each bounded */
  getMany(tools: readonly string[]): Promise<StoredRoute[]> {
    return this.#reader.getMany(tools.map(routeKey), ROUTE_LIMITS);
  }

  /** every tool with a route key */
  async tools(): Promise<string[]> {
    const out = new Set<string>();
    for (const key of await this.#reader.scan(ROUTE_CHANNEL_PATTERN)) {
      const tool = toolOfKey(key);
      if (tool !== null) out.add(tool);
    }
    return [...out].sort();
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
