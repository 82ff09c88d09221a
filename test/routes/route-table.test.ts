// The proxy's in-memory route table against a real redis-server (#11): lease renewals cost no
// rebuild, node leases come and go with their registrar, nothing expires while Redis cannot be
// heard, a Redis that came back empty does not empty the table before the registrars write it
// again, and an oversized hash is refused inside Redis.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { parseRedisConnection, RouteStore, RouteTable, routeKey } from '../../src/routes/index.js';
import { startProcess, tcpProbe, type ManagedProcess } from '../../src/supervisor/index.js';
import { freePort, redisClient, startRedis, waitFor, workDir } from '../helpers/index.js';


async function table(t: Test, redisUrl: string, options: { leaseGraceMs?: number; resyncIntervalMs?: number } = {}): Promise<RouteTable> {
  const rt = new RouteTable({ redis: parseRedisConnection(redisUrl), ...options });
  rt.on('error', () => {});
  t.teardown(() => rt.close());
  t.ok(await rt.start(5000), 'loaded');
  return rt;
}

/** redis-server on a given port (to stop and start "the same" Redis), optionally with its data on disk */
async function redisAt(t: Test, dir: string, port: number, aof: boolean): Promise<ManagedProcess> {
  const proc = await startProcess({
    diesWithParent: true,
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'always'],
    ready: () => tcpProbe('127.0.0.1', port, 200),
  });
  t.teardown(() => proc.stop(2000));
  return proc;
}

t.test('a lease-only change moves the expiry and rebuilds nothing, by announcement, keyspace event or resync', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const rt = await table(t, redis.url);
  const store = new RouteStore(r);
  await store.register('renewing', 'a', 'http://127.0.0.1:9001', { leaseMs: 5000, description: 'Renewing' });
  await waitFor(() => rt.get('renewing')?.backends.length === 1, 3000, 'routed');
  const rebuilds = rt.rebuilds;
  const firstUntil = rt.get('renewing')?.nextExpiry as number;
  for (let i = 0; i < 10; i++) {
    await store.renew('renewing', 'a', 5000 + 100 * (i + 1)); // a keyspace event each
    await r.publish(routeKey('renewing'), 'renew'); // and an announcement
  }
  await waitFor(() => (rt.get('renewing')?.nextExpiry ?? 0) > firstUntil + 900, 3000, 'the expiry to move');
  await rt.resync();
  t.equal(rt.rebuilds, rebuilds, 'no rebuild for 20 lease-only changes and a resync');
  t.equal(rt.get('renewing')?.description, 'Renewing');
  // a real change still rebuilds
  await store.register('renewing', 'b', 'http://127.0.0.1:9002', { leaseMs: 5000 });
  await waitFor(() => rt.get('renewing')?.backends.length === 2, 3000, 'the second backend');
  t.equal(rt.rebuilds, rebuilds + 1);
});

t.test('a node lease: backends go when their node stops renewing while Redis is up, come back when it renews; renewing a live node rebuilds nothing', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const rt = await table(t, redis.url);
  const renew = async (ms: number) => {
    const until = Date.now() + ms;
    await r.hset('toolhost:nodes', 'web1', String(until));
    await r.publish('toolhost:nodes', `web1 ${until}`);
  };
  await renew(600);
  await r.hset(routeKey('noded'), 'backend:web1-1', 'http://127.0.0.1:9101', 'node:web1-1', 'web1', 'description', 'On web1');
  await r.publish(routeKey('noded'), 'register');
  await waitFor(() => rt.get('noded')?.backends.length === 1, 3000, 'routed');
  const rebuilds = rt.rebuilds;
  for (let i = 0; i < 5; i++) await renew(600);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(rt.rebuilds, rebuilds, 'five renewals of a live node: no rebuild');
  const ms = await waitFor(() => rt.get('noded')?.backends.length === 0, 3000, 'the node lease to run out');
  t.comment(`last renewal -> backends dropped: ${ms + 100} ms (lease 600 ms)`);
  t.equal(rt.get('noded')?.description, 'On web1', 'the tool stays known (503, not 404)');
  await renew(5000);
  await waitFor(() => rt.get('noded')?.backends.length === 1, 3000, 'back with the renewal');
});

t.test('while Redis cannot be heard nothing expires; after it returns, leases count again with a grace', async (t) => {
  const dir = workDir(t);
  const port = await freePort();
  let server = await redisAt(t, path.join(dir), port, false);
  const url = `redis://127.0.0.1:${port}`;
  const r = await redisClient(t, url);
  const rt = await table(t, url, { leaseGraceMs: 1500 });
  await new RouteStore(r).register('cutoff', 'a', 'http://127.0.0.1:9201', { leaseMs: 300 });
  await waitFor(() => rt.get('cutoff')?.backends.length === 1, 3000, 'routed');
  r.disconnect();
  server.signal('SIGKILL');
  await server.exited;
  await waitFor(() => rt.state === 'down', 3000, 'the table to notice');
  await new Promise((resolve) => setTimeout(resolve, 1200));
  t.equal(rt.get('cutoff')?.backends.length, 1, 'a lease that ran out while Redis was unreachable still counts');
  t.ok(rt.staleForMs() >= 1000, `stale for ${rt.staleForMs()} ms`);
  // the same Redis comes back empty (no persistence): the table keeps what it knew for the grace
  server = await redisAt(t, path.join(dir), port, false);
  await waitFor(() => rt.state === 'ready' && rt.staleForMs() === 0, 5000, 'reconnected');
  t.equal(rt.get('cutoff')?.backends.length, 1, 'kept through the grace after Redis came back empty');
  const gone = await waitFor(() => rt.get('cutoff') === undefined, 5000, 'the route to go after the grace');
  t.comment(`Redis back empty -> a route nobody wrote again dropped after ${gone} ms (grace 1500 ms)`);
});

t.test('an oversized route hash is refused inside Redis and reported; the tool keeps the route it had', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const rt = await table(t, redis.url);
  const problems: string[] = [];
  rt.on('problem', (p) => problems.push(`${p.tool}: ${p.reason}`));
  await r.hset(routeKey('bloated'), '.*', 'http://127.0.0.1:9301', 'description', 'fine');
  await r.publish(routeKey('bloated'), 'x');
  await waitFor(() => rt.get('bloated')?.backends.length === 1, 3000, 'routed');
  // written by another process, so that this one never holds the 20 MB itself
  const big = path.join(workDir(t), 'big');
  execFileSync('sh', ['-c', `head -c 20971520 /dev/zero | tr '\\0' x > ${big}`]);
  global.gc?.();
  const before = process.memoryUsage().rss;
  execFileSync('sh', ['-c', `redis-cli -p ${redis.port} -x HSET ${routeKey('bloated')} description < ${big} > /dev/null`]);
  await r.publish(routeKey('bloated'), 'x');
  await waitFor(() => problems.length > 0, 3000, 'the problem');
  t.match(problems[0], /^bloated: the route hash is too big: \d+ bytes \(at most 32768\)$/);
  t.equal(rt.get('bloated')?.description, 'fine', 'the route as it was');
  t.ok(process.memoryUsage().rss - before < 10 * 1024 * 1024, 'the 20 MB value never reached this process');
  const many: string[] = [];
  for (let i = 0; i < 100; i++) many.push(`f${i}`, 'v');
  await r.del(routeKey('crowded'));
  await r.hset(routeKey('crowded'), ...many);
  await r.publish(routeKey('crowded'), 'x');
  await waitFor(() => problems.some((p) => p.startsWith('crowded: the route hash is too big: 100 fields')), 3000, 'the field count refused');
  t.equal(rt.get('crowded'), undefined);
});
