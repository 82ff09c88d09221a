// Reads and writes of the route table in Redis. Writers (supervisor, portgrabber, admin)
// announce each change on the tool's channel; readers scan with SCAN, never KEYS.
import type { Redis } from 'ioredis';
import {
  BACKEND_FIELD_PREFIX,
  DEFAULT_ROUTE_FIELD,
  DESCRIPTION_FIELD,
  LEASE_FIELD_PREFIX,
  ROUTE_CHANNEL_PATTERN,
  routeChannel,
  routeKey,
  toolOfKey,
} from './route-keys.js';

export interface RegisterOptions {
  /** the backend disappears from routing this long after the last register/renew */
  readonly leaseMs?: number;
  readonly description?: string | null;
}

export class RouteStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** add or refresh a backend of a tool; announces the change */
  async register(tool: string, id: string, url: string, options: RegisterOptions = {}): Promise<void> {
    const key = routeKey(tool);
    const m = this.#redis.multi().hset(key, `${BACKEND_FIELD_PREFIX}${id}`, url);
    if (options.leaseMs !== undefined) m.hset(key, `${LEASE_FIELD_PREFIX}${id}`, String(Date.now() + options.leaseMs));
    else m.hdel(key, `${LEASE_FIELD_PREFIX}${id}`);
    if (options.description) m.hset(key, DESCRIPTION_FIELD, options.description);
    m.publish(routeChannel(tool), `register ${id}`);
    await m.exec();
  }

  /**
   * Extend a lease without announcing it: proxies re-read a route when its lease runs out, so
   * renewals every few seconds from many tools do not flood every proxy with messages.
   */
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

  async get(tool: string): Promise<Record<string, string>> {
    return this.#redis.hgetall(routeKey(tool));
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

  /** the whole table: SCAN, then HGETALL in pipelined batches */
  async loadAll(batch = 500): Promise<Map<string, Record<string, string>>> {
    const tools = await this.tools();
    const out = new Map<string, Record<string, string>>();
    for (let i = 0; i < tools.length; i += batch) {
      const slice = tools.slice(i, i + batch);
      const p = this.#redis.pipeline();
      for (const tool of slice) p.hgetall(routeKey(tool));
      const res = (await p.exec()) ?? [];
      slice.forEach((tool, j) => {
        const [err, hash] = res[j] ?? [null, null];
        if (!err && hash && typeof hash === 'object' && Object.keys(hash).length) out.set(tool, hash as Record<string, string>);
      });
    }
    return out;
  }
}
