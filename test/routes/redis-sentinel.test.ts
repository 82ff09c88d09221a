// Redis high availability (#15): a master, a replica and three real sentinels started from the
// guide's files; the real registrar and two proxies reach Redis through the sentinels. The
// master is SIGKILLed under a request loop while registrations renew. The figures this prints
// (t.comment) are in docs/reliability.md:
//   npx tap test/routes/redis-sentinel.test.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { withRegistrar } from '../../src/registrar/index.js';
import { createRedis, parseRedisConnection, routeKey } from '../../src/routes/index.js';
import { killProcessesOf, runBin, startEchoBackend, startProxy, startRegistrar, waitFor, workDir, type RunningProxy } from '../helpers/index.js';
import { startSentinelSet } from '../helpers/sentinel.js';

/** requests through the proxies, round robin over tools and proxies, until stopped; `expect` is what each tool's page holds */
function requestLoop(proxies: readonly RunningProxy[], tools: () => readonly string[], expect: (tool: string) => string) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loops = proxies.map(async (p, i) => {
    let n = i;
    while (running) {
      const list = tools();
      const tool = list[n++ % list.length] as string;
      try {
        const res = await fetch(`${p.url}/${tool}/`, { signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        if (res.status === 200 && body.includes(expect(tool))) ok++;
        else failures.push(`proxy ${i} /${tool}/: HTTP ${res.status}`);
      } catch (err) {
        failures.push(`proxy ${i} /${tool}/: ${(err as Error).message}`);
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

t.test('the master SIGKILLed under requests through two proxies while supervisors renew: no request fails, every route is on the new master at the first renewal, a later route change reaches both proxies', async (t) => {
  killProcessesOf(t);
  const ha = await startSentinelSet(t);
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', ...args], { env: { TOOLHOST_REDIS_URL: ha.adminUrl } });
  const registrarUrl = (await admin('registrar-user')).stdout.trim();
  const proxyUrl = (await admin('proxy-user')).stdout.trim();
  t.match(proxyUrl, /^redis-sentinel:\/\/toolhost-proxy:[0-9a-f]+@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/toolhost\?sentinelUsername=toolhost-client&sentinelPassword=\w+$/, 'the service users\' URLs name the sentinels, their client login and the master');
  const [master, replica] = ha.nodes as [(typeof ha.nodes)[0], (typeof ha.nodes)[0]];
  t.same(await (await ha.node(replica.port)).call('ACL', 'USERS'), await (await ha.node(master.port)).call('ACL', 'USERS'), 'the users exist on the replica too');

  const homes = path.join(workDir(t), 'homes');
  // echo servers registered directly, and one lighttpd tool under its real webservice supervisor
  const echoes = Array.from({ length: 11 }, (_, i) => `ha${i}`);
  const web = 'haweb';
  const tools = [...echoes, web];
  for (const tool of echoes) mkdirSync(path.join(homes, tool), { recursive: true });
  mkdirSync(path.join(homes, web, 'public_html'), { recursive: true });
  writeFileSync(path.join(homes, web, 'public_html', 'index.html'), `${web} page`);
  mkdirSync(path.join(homes, 'late'), { recursive: true });
  const expect = (tool: string): string => (tool === web ? `${web} page` : `"backend":"${tool}"`);
  const leaseSeconds = 1.5;
  const registrar = await startRegistrar(t, registrarUrl, homes, { leaseSeconds, node: 'web1' });
  t.teardown(() => {
    if (t.passing()) return;
    t.comment(`registrar: ${registrar.log()}`);
  });
  const proxies = [await startProxy(t, proxyUrl), await startProxy(t, proxyUrl)];
  for (const tool of echoes) {
    const b = await startEchoBackend(t, tool);
    await withRegistrar(registrar.dir, tool, (c) => c.register(b.port, `The ${tool} tool`));
  }
  const wsEnv = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: path.join(workDir(t), 'run') };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', web, '--home', path.join(homes, web), ...args], { env: wsEnv });
  t.teardown(() => ws('stop'));
  const started = await ws('start');
  t.equal(started.code, 0, `webservice start: ${started.stderr}`);
  const routed = (p: RunningProxy, tool: string): boolean => (p.proxy.routeTable.get(tool)?.backends.length ?? 0) > 0;
  await waitFor(() => proxies.every((p) => tools.every((tool) => routed(p, tool))), 10_000, 'every route on both proxies');

  // a route leaving a proxy at any moment counts as lost
  const dropped: string[] = [];
  for (const [i, p] of proxies.entries()) {
    p.proxy.routeTable.on('change', (tool, route) => {
      if (tools.includes(tool) && (route === null || route.backends.length === 0)) dropped.push(`proxy ${i}: ${tool}`);
    });
  }
  // writes through the sentinels, every 10 ms, to see how long nothing could be written
  const writer = createRedis(parseRedisConnection(ha.adminUrl), { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 20 });
  writer.on('error', () => {});
  t.teardown(() => writer.disconnect());
  const writes: number[] = [];
  let writing = true;
  const writeLoop = (async () => {
    while (writing) {
      try {
        await writer.set('toolhost:test-probe', String(Date.now()));
        writes.push(Date.now());
      } catch {
        // the master is gone: counted as time without writes
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const loop = requestLoop(proxies, () => tools, expect);
  await new Promise((r) => setTimeout(r, 500));

  const killedAt = Date.now();
  master.process.signal('SIGKILL');
  await master.process.exited;
  await waitFor(async () => (await ha.masterPort().catch(() => master.port)) !== master.port, 30_000, 'the sentinels to promote the replica');
  const promotedAt = Date.now();
  t.equal(await ha.masterPort(), replica.port, 'the replica is the master now');

  // the registrar's first renewal on the new master: the node lease written after the
  // promotion. Its script writes every missing registration and the lease at once, so what
  // the snapshot holds is what that one renewal left there.
  const fresh = await ha.node(replica.port);
  let snapshot: Record<string, string>[] = [];
  await waitFor(
    async () => {
      const m = fresh.multi().hget('toolhost:nodes', 'web1');
      for (const tool of tools) m.hgetall(routeKey(tool));
      const replies = (await m.exec()) ?? [];
      const until = Number(replies[0]?.[1]);
      if (!(until - leaseSeconds * 1000 >= promotedAt - 50)) return false;
      snapshot = replies.slice(1).map((r) => r[1] as Record<string, string>);
      return true;
    },
    20_000,
    'the registrar\'s first renewal on the new master',
  );
  const renewedAt = Date.now();
  const missing = tools.filter((_tool, i) => !Object.keys(snapshot[i] ?? {}).some((k) => k.startsWith('backend:')));
  t.same(missing, [], 'every route is on the new master at the registrar\'s first renewal there');
  // its log reaches the test through a pipe, a little after the write it announces
  const followed = new RegExp(`redis: connected to 127\\.0\\.0\\.1:${replica.port}`);
  await waitFor(() => followed.test(registrar.log()), 5000, 'the registrar to say it follows the master');
  t.match(registrar.log(), followed, 'the registrar followed the master');

  // a route changed after the failover reaches both proxies
  const late = await startEchoBackend(t, 'late');
  const changedAt = Date.now();
  await withRegistrar(registrar.dir, 'late', (c) => c.register(late.port, 'Late'));
  await waitFor(() => proxies.every((p) => routed(p, 'late')), 10_000, 'the new route on both proxies');
  const reachedIn = Date.now() - changedAt;
  for (const p of proxies) t.equal((await fetch(`${p.url}/late/`)).status, 200, 'the tool registered after the failover is served');

  await new Promise((r) => setTimeout(r, 500));
  const result = await loop.stop();
  writing = false;
  await writeLoop;
  // the longest stretch between two writes that succeeded, and the first one the new master took
  let gap = 0;
  for (let i = 1; i < writes.length; i++) gap = Math.max(gap, (writes[i] as number) - (writes[i - 1] as number));
  const firstOnNew = Math.min(...writes.filter((w) => w > killedAt + 100));
  t.comment(`Sentinel failover (down-after 1 s): replica promoted ${promotedAt - killedAt} ms after the SIGKILL; first write on the new master ${firstOnNew - killedAt} ms after it; longest time without a write ${gap} ms`);
  t.comment(`failed requests: ${result.failures.length} of ${result.ok + result.failures.length}; routes lost on the proxies: ${dropped.length}; routes missing on the new master at the first renewal: ${missing.length} of ${tools.length}`);
  t.comment(`registrar's first renewal on the new master ${renewedAt - promotedAt} ms after the promotion (lease ${leaseSeconds} s, renewal every ${(leaseSeconds / 3) * 1000} ms); a route registered afterwards reached both proxies in ${reachedIn} ms`);
  t.same(result.failures, [], 'no request failed');
  t.same(dropped, [], 'no proxy dropped a route');
  t.ok(result.ok > 100, `requests kept flowing (${result.ok})`);

  const listed = await runBin(t, 'toolhost', ['routes', 'list'], { env: { TOOLHOST_REDIS_URL: ha.adminUrl } });
  t.match(listed.stdout, /^late +http:\/\/127\.0\.0\.1:\d+ \(node web1/m, 'toolhost routes follows the master too');
});
