// The route table across processes and failures: pub/sub within milliseconds, several proxies
// agreeing, Redis down (last table served) and back, leases, and churn under load.
import t from 'tap';
import { RouteStore, routeKey } from '../../src/routes/index.js';
import { startRedisServer } from '../../src/supervisor/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';
import path from 'node:path';
import getPort from 'get-port';

t.test('a route change reaches every proxy within milliseconds (two proxies on one Redis)', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const one = await startProxy(t, redis.url);
  const two = await startProxy(t, redis.url);
  const a = await startEchoBackend(t, 'a');
  const b = await startEchoBackend(t, 'b');
  const store = new RouteStore(r);
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    const target = i % 2 ? b : a;
    const started = Date.now();
    await store.setDefault('shared', target.url);
    await waitFor(() => one.proxy.routeTable.get('shared')?.backends[0]?.url === target.url && two.proxy.routeTable.get('shared')?.backends[0]?.url === target.url, 2000, 'both proxies');
    delays.push(Date.now() - started);
  }
  const res1 = (await (await fetch(`${one.url}/shared/`)).json()) as { backend: string };
  const res2 = (await (await fetch(`${two.url}/shared/`)).json()) as { backend: string };
  t.equal(res1.backend, 'b');
  t.equal(res2.backend, 'b');
  delays.sort((x, y) => x - y);
  t.comment(`route change -> routed on both proxies: median ${delays[5]} ms, max ${delays[9]} ms`);
  t.ok((delays[9] ?? 1e9) < 1000, 'every change applied within a second');
});

t.test('Redis killed: existing routes still served; Redis back: new routes appear', async (t) => {
  const dir = t.testdir();
  let server = await startRedisServer(path.join(dir, 'r1'));
  t.teardown(() => server.stop());
  const port = server.port;
  const proxy = await startProxy(t, server.url, { resyncIntervalMs: 500 });
  const backend = await startEchoBackend(t, 'kept');
  const r = await redisClient(t, server.url);
  await r.hset(routeKey('kept'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('kept') !== undefined);
  r.disconnect();
  await server.stop();
  await waitFor(() => proxy.proxy.routeTable.state === 'down', 5000, 'the proxy to notice');
  const during = await fetch(`${proxy.url}/kept/`);
  t.equal(during.status, 200, 'served from the last known table while Redis is down');
  // the same port again, as a restarted Redis would be
  server = await startRedisServer(path.join(dir, 'r2'), { extraConfig: '' }).then(async (s) => {
    if (s.port === port) return s;
    await s.stop();
    const { startProcess, tcpProbe } = await import('../../src/supervisor/index.js');
    const proc = await startProcess({ command: 'redis-server', args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], ready: () => tcpProbe('127.0.0.1', port, 200), diesWithParent: true });
    return { port, url: `redis://127.0.0.1:${port}`, process: proc, stop: async () => void (await proc.stop(2000)) };
  });
  const r2 = await redisClient(t, server.url);
  const fresh = await startEchoBackend(t, 'fresh');
  await r2.hset(routeKey('fresh'), '.*', fresh.url);
  await r2.hset(routeKey('kept'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('fresh') !== undefined, 10_000, 'the new route after Redis came back');
  t.equal((await fetch(`${proxy.url}/fresh/`)).status, 200);
});

t.test('a backend whose lease runs out stops being routed; a renewed lease keeps it', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'leased');
  const store = new RouteStore(r);
  await store.register('leased', 'sup1', backend.url, { leaseMs: 400, description: 'A leased tool' });
  await store.register('renewed', 'sup1', backend.url, { leaseMs: 400 });
  await waitFor(() => proxy.proxy.routeTable.get('leased')?.backends.length === 1 && proxy.proxy.routeTable.get('renewed')?.backends.length === 1);
  const renewer = setInterval(() => void store.renew('renewed', 'sup1', 400), 100);
  t.teardown(() => clearInterval(renewer));
  await waitFor(() => proxy.proxy.routeTable.get('leased')?.backends.length === 0, 3000, 'the lease to run out');
  t.equal((await fetch(`${proxy.url}/leased/`)).status, 503);
  t.equal((await fetch(`${proxy.url}/renewed/`)).status, 200);
  t.equal(proxy.proxy.routeTable.get('leased')?.description, 'A leased tool');
});

t.test('routes added and removed in a loop under load: no request is routed to the wrong tool', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const store = new RouteStore(r);
  const tools = ['alpha', 'beta', 'gamma', 'delta'];
  const backends = await Promise.all(tools.map((name) => startEchoBackend(t, name)));
  let stop = false;
  const churn = (async () => {
    let i = 0;
    while (!stop) {
      const k = i++ % tools.length;
      const tool = tools[k] as string;
      if (i % 3 === 0) await store.removeTool(tool);
      else await store.setDefault(tool, (backends[k] as { url: string }).url);
    }
  })();
  let wrong = 0;
  let served = 0;
  const odd: string[] = [];
  const deadline = Date.now() + 2000;
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      while (Date.now() < deadline) {
        const tool = tools[w % tools.length] as string;
        const res = await fetch(`${proxy.url}/${tool}/`);
        const body = await res.text();
        if (res.status === 200) {
          served++;
          if (JSON.parse(body).backend !== tool) {
            wrong++;
            odd.push(`${tool} served by ${JSON.parse(body).backend}`);
          }
        } else if (res.status !== 404) {
          wrong++;
          odd.push(`${tool}: ${res.status} ${res.headers.get('x-toolhost-error')}`);
        }
      }
    }),
  );
  stop = true;
  await churn;
  t.equal(wrong, 0, `${served} requests served by their own tool, none by another ${odd.slice(0, 5).join('; ')}`);
  t.ok(served > 50);
});

t.test('the table is loaded with SCAN at start: 20 000 routes', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const p = r.pipeline();
  for (let i = 0; i < 20_000; i++) p.hset(routeKey(`tool${i}`), '.*', `http://127.0.0.1:${1024 + (i % 60000)}`);
  await p.exec();
  const proxy = await startProxy(t, redis.url);
  t.equal(proxy.proxy.routeTable.size, 20_000);
  void getPort;
});

t.test('a proxy cut off from Redis keeps serving and says so in healthz and metrics; lease renewals are not rebuilds (#11)', async (t) => {
  const dir = t.testdir();
  const server = await startRedisServer(path.join(dir, 'r'));
  t.teardown(() => server.stop());
  const proxy = await startProxy(t, server.url, { staleAfterMs: 300 });
  const backend = await startEchoBackend(t, 'kept');
  const r = await redisClient(t, server.url);
  const store = new RouteStore(r);
  await store.register('kept', 'a', backend.url, { leaseMs: 60_000 });
  await waitFor(() => proxy.proxy.routeTable.get('kept') !== undefined);
  const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1]);
  const rebuilds = await metric('toolhost_proxy_route_rebuilds_total');
  for (let i = 0; i < 5; i++) await store.renew('kept', 'a', 60_000 + i);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(await metric('toolhost_proxy_route_rebuilds_total'), rebuilds, 'five renewals, no rebuild');
  t.equal(await (await fetch(`${proxy.adminUrl}/.well-known/healthz`)).text(), 'ok\n');
  r.disconnect();
  server.process.signal('SIGKILL');
  await server.process.exited;
  await waitFor(async () => (await (await fetch(`${proxy.adminUrl}/.well-known/healthz`)).text()).startsWith('degraded'), 5000, 'healthz to say it');
  const health = await fetch(`${proxy.adminUrl}/.well-known/healthz`);
  t.equal(health.status, 200, 'still serving: a load balancer keeps it');
  t.match(await health.text(), /^degraded\nroute table not updated for \d+ s \(Redis unreachable\); serving the last one\n$/);
  await waitFor(async () => (await metric('toolhost_proxy_route_table_stale_seconds')) >= 1, 5000, 'the stale seconds');
  t.equal((await fetch(`${proxy.url}/kept/`)).status, 200, 'the last table is served');
});
