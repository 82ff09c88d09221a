// The data nodes behind a connection: the master and its replicas, as the sentinels know them
// (they remember replicas that are down too) and as the master lists its connected replicas
// (a replica that joined seconds ago, before the sentinels' next look). What is not replicated
// from master to replicas, ACL users above all, has to be written on each of them.
import { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { describeRedis, type HostPort, type RedisConnection, type SentinelRedis } from './redis-connection.js';
import { withRedis } from './with-redis.js';

export interface DataNode {
  readonly address: HostPort;
  readonly role: 'master' | 'replica';
  /** why the sentinels think it is down (their flags), or null */
  readonly down: string | null;
}

export function nodeName(a: HostPort): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** `slave0:ip=10.0.0.2,port=6379,state=online,…` lines of INFO replication */
export function replicasInInfo(info: string): HostPort[] {
  const out: HostPort[] = [];
  for (const m of info.matchAll(/^slave\d+:(.*)$/gm)) {
    const fields = new Map((m[1] ?? '').trim().split(',').map((kv) => kv.split('=') as [string, string]));
    const host = fields.get('ip');
    const port = Number(fields.get('port'));
    if (host && Number.isInteger(port)) out.push({ host, port });
  }
  return out;
}

/** a flat [k1, v1, k2, v2, …] reply as a map */
function pairs(reply: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (!Array.isArray(reply)) return m;
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
  return m;
}

const DOWN_FLAGS = ['s_down', 'o_down', 'disconnected'];

/** what the first sentinel that answers says about the master and its replicas */
async function askSentinels(conn: SentinelRedis): Promise<DataNode[]> {
  const problems: string[] = [];
  for (const s of conn.sentinels) {
    const r = new Redis({
      host: s.host,
      port: s.port,
      ...(conn.sentinelUsername ? { username: conn.sentinelUsername } : {}),
      ...(conn.sentinelPassword ? { password: conn.sentinelPassword } : {}),
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectTimeout: 3000,
      commandTimeout: 3000,
    });
    r.on('error', () => {});
    try {
      await r.connect();
      const master = pairs(await r.call('SENTINEL', 'MASTER', conn.master));
      const replicas = (await r.call('SENTINEL', 'REPLICAS', conn.master)) as unknown[];
      const flagged = (m: Map<string, string>): string | null => {
        const flags = (m.get('flags') ?? '').split(',');
        const bad = flags.filter((f) => DOWN_FLAGS.includes(f));
        return bad.length ? bad.join(',') : null;
      };
      return [
        { address: { host: master.get('ip') ?? '', port: Number(master.get('port')) }, role: 'master', down: flagged(master) },
        ...replicas.map(pairs).map((m): DataNode => ({ address: { host: m.get('ip') ?? '', port: Number(m.get('port')) }, role: 'replica', down: flagged(m) })),
      ];
    } catch (err) {
      problems.push(`${nodeName(s)}: ${(err as Error).message}`);
    } finally {
      r.disconnect();
    }
  }
  throw new ToolhostError('TH_ERR_REDIS_UNREACHABLE', describeRedis(conn), `no sentinel answered (${problems.join('; ')})`);
}

/**
 * The master first, then every replica known, each once. A direct URL to a replica is that one
 * node: writes are refused there anyway.
 */
export async function dataNodes(conn: RedisConnection): Promise<DataNode[]> {
  const known = conn.kind === 'sentinel' ? await askSentinels(conn) : [];
  const info = await withRedis(conn, (r) => r.info('replication'));
  const nodes: DataNode[] = conn.kind === 'direct' ? [{ address: conn.address, role: /^role:master/m.test(info) ? 'master' : 'replica', down: null }] : known;
  for (const address of replicasInInfo(info)) {
    if (!nodes.some((n) => n.address.host === address.host && n.address.port === address.port)) nodes.push({ address, role: 'replica', down: null });
  }
  return nodes;
}
