// What a node's registrar writes: the backends it verified, each as backend:<id> + node:<id> in
// its tool's hash, and the node's one lease in toolhost:nodes. A renewal is one script call per
// node that rewrites only what is missing or different (a hash lost to a Redis restart, a
// FLUSHALL, a failover to a replica that had not caught up) and announces only those tools, then
// moves the node's lease: renewals cost the proxies nothing, and a lost registration comes back
// within one renewal.
import type { Redis } from 'ioredis';
import { BACKEND_FIELD_PREFIX, DESCRIPTION_FIELD, LEASE_FIELD_PREFIX, NODE_FIELD_PREFIX, NODES_CHANNEL, NODES_KEY, routeChannel, routeKey } from './route-keys.js';
import { normalizeDescription } from './route-limits.js';
import { OversizedRoute, RouteStore } from './route-store.js';

export interface HeldBackend {
  readonly id: string;
  readonly url: string;
}

export interface HeldTool {
  readonly tool: string;
  /** '' when the tool has none: the field is still written, so the tool stays known while it restarts */
  readonly description: string | null;
  readonly backends: readonly HeldBackend[];
}

const HEAL = `
local node, untilMs = ARGV[1], ARGV[2]
local a = 4
local healed = {}
for k = 2, #KEYS do
  local key = KEYS[k]
  local count, desc = tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  local changed = false
  for i = 1, count do
    local id, url = ARGV[a], ARGV[a + 1]
    a = a + 2
    local cur = redis.call('HMGET', key, '${BACKEND_FIELD_PREFIX}' .. id, '${NODE_FIELD_PREFIX}' .. id)
    if cur[1] ~= url or cur[2] ~= node then
      redis.call('HSET', key, '${BACKEND_FIELD_PREFIX}' .. id, url, '${NODE_FIELD_PREFIX}' .. id, node)
      changed = true
    end
  end
  if redis.call('HGET', key, '${DESCRIPTION_FIELD}') ~= desc then
    redis.call('HSET', key, '${DESCRIPTION_FIELD}', desc)
    changed = true
  end
  if changed then
    redis.call('PUBLISH', key, 'register')
    healed[#healed + 1] = key
  end
end
redis.call('HSET', KEYS[1], node, untilMs)
redis.call('PUBLISH', ARGV[3], node .. ' ' .. untilMs)
return healed
`;

export class NodeRegistrations {
  readonly #redis: Redis;
  readonly #node: string;

  constructor(redis: Redis, node: string) {
    this.#redis = redis;
    this.#node = node;
  }

  /**
   * Every held backend written in full where anything differs, and the node's lease set to
   * untilMs (announced on toolhost:nodes). Returns the tools that had to be rewritten.
   */
  async heal(held: readonly HeldTool[], untilMs: number): Promise<string[]> {
    const keys = [NODES_KEY, ...held.map((h) => routeKey(h.tool))];
    const args: string[] = [this.#node, String(untilMs), NODES_CHANNEL];
    for (const h of held) {
      args.push(String(h.backends.length), normalizeDescription(h.description) ?? '');
      for (const b of h.backends) args.push(b.id, b.url);
    }
    const healed = (await this.#redis.eval(HEAL, keys.length, ...keys, ...args)) as string[];
    return healed.map((k) => k.slice(routeKey('').length));
  }

  /** one backend gone (its tool's description stays: the tool still exists) */
  async remove(tool: string, id: string): Promise<void> {
    const key = routeKey(tool);
    await this.#redis
      .multi()
      .hdel(key, `${BACKEND_FIELD_PREFIX}${id}`, `${NODE_FIELD_PREFIX}${id}`, `${LEASE_FIELD_PREFIX}${id}`)
      .publish(routeChannel(tool), `unregister ${id}`)
      .exec();
  }

  /**
   * Remove the backends Redis says this node holds but the node does not (a registrar that
   * crashed while a server died, or a replica promoted with older data). Returns how many.
   */
  async reconcile(holds: (tool: string, id: string) => boolean): Promise<number> {
    const store = new RouteStore(this.#redis);
    const tools = await store.tools();
    let removed = 0;
    for (let i = 0; i < tools.length; i += 500) {
      const slice = tools.slice(i, i + 500);
      const hashes = await store.getMany(slice);
      for (let j = 0; j < slice.length; j++) {
        const hash = hashes[j];
        const tool = slice[j] as string;
        if (!hash || hash instanceof OversizedRoute) continue;
        for (const [field, value] of Object.entries(hash)) {
          if (!field.startsWith(NODE_FIELD_PREFIX) || value !== this.#node) continue;
          const id = field.slice(NODE_FIELD_PREFIX.length);
          if (holds(tool, id)) continue;
          await this.remove(tool, id);
          removed++;
        }
      }
    }
    return removed;
  }
}
