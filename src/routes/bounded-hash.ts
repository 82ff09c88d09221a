// Bounded reads of the hashes proxies load (routes and tool directory entries): each hash is
// read through a read-only script that refuses it inside Redis when it is over its limits, so an
// oversized hash never crosses the network; keys are listed with SCAN, never KEYS.
import type { Redis } from 'ioredis';
import { hashProblem, type HashLimits } from './route-limits.js';

/** a hash the reader refused without loading it */
export class OversizedRoute {
  constructor(readonly reason: string) {}
}

export type StoredHash = Record<string, string> | OversizedRoute;

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

function decodeBounded(reply: unknown, limits: HashLimits): StoredHash {
  if (!Array.isArray(reply)) return {};
  const [tag, ...rest] = reply as string[];
  if (tag !== 'ok') return new OversizedRoute(String(rest[0] ?? 'over the limits'));
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < rest.length; i += 2) hash[rest[i] as string] = rest[i + 1] as string;
  const problem = hashProblem(hash, limits);
  return problem ? new OversizedRoute(problem) : hash;
}

export class BoundedHashReader {
  readonly #redis: Redis;
  #sha: string | null = null;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async #scriptSha(): Promise<string> {
    this.#sha ??= (await this.#redis.script('LOAD', BOUNDED_HGETALL)) as string;
    return this.#sha;
  }

  /** several hashes in one round trip, each bounded ({} for a missing key) */
  async getMany(keys: readonly string[], limits: HashLimits): Promise<StoredHash[]> {
    if (keys.length === 0) return [];
    const run = async (sha: string): Promise<[Error | null, unknown][]> => {
      const p = this.#redis.pipeline();
      for (const key of keys) p.call('EVALSHA_RO', sha, 1, key, limits.maxFields, limits.maxHashBytes);
      return (await p.exec()) ?? [];
    };
    let res = await run(await this.#scriptSha());
    if (res.some(([err]) => err && /NOSCRIPT/.test(err.message))) {
      // Redis restarted (or SCRIPT FLUSH): load it again once
      this.#sha = null;
      res = await run(await this.#scriptSha());
    }
    return keys.map((_, i) => {
      const [err, reply] = res[i] ?? [null, null];
      if (err) throw err;
      return decodeBounded(reply, limits);
    });
  }

  /** every key matching a pattern, by SCAN (never KEYS, which blocks Redis) */
  async scan(pattern: string): Promise<string[]> {
    const out = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) out.add(k);
    } while (cursor !== '0');
    return [...out];
  }
}
