// Hostile clients cannot harm the proxy or reach the wrong tool; garbage in the route table
// cannot point it anywhere it should not go.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';


async function setup(t: Test, limits = {}) {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const logs: string[] = [];
  const proxy = await startProxy(t, redis.url, { limits, log: (l) => logs.push(l) });
  const victim = await startEchoBackend(t, 'victim');
  const other = await startEchoBackend(t, 'other');
  await r.hset(routeKey('victim'), '.*', victim.url);
  await r.hset(routeKey('other'), '.*', other.url);
  await waitFor(() => proxy.proxy.routeTable.size === 2);
  return { redis, r, proxy, victim, other, logs };
}

/** raw bytes to the proxy; resolves with everything it answered before closing (or timeout) */
function raw(port: number, data: string, waitMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(data));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

t.test('request smuggling: conflicting and obfuscated framing is refused, nothing reaches another tool', async (t) => {
  const { proxy, other } = await setup(t);
  const smuggled = 'GET /other/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases = [
    `POST /victim/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /victim/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /victim/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    `POST /victim/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n12345${smuggled}`,
    `POST /victim/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
  ];
  for (const c of cases) {
    const answer = await raw(proxy.port, c);
    t.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(c.split('\r\n').slice(2, 4)));
  }
  t.equal(other.seen.length, 0, 'the other tool saw no smuggled request');
});

t.test('encoded traversal in the tool segment never reaches another tool', async (t) => {
  const { proxy, other } = await setup(t);
  for (const p of ['/%2e%2e/other/', '/victim%2f..%2fother/', '//other/', '/./other/', '/%6fther/']) {
    const answer = await raw(proxy.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(answer, /^HTTP\/1\.1 (404|400) /, p);
  }
  t.equal(other.seen.length, 0);
});

t.test('oversized headers get 431, oversized bodies 413 (by length and while streaming)', async (t) => {
  // bodies over 512 bytes stream to the tool instead of being held: the cap is then applied on the way
  const { proxy, r } = await setup(t, { maxBodyBytes: 1024, bufferBodyBytes: 512 });
  const received: { method: string; bytes: number }[] = [];
  const counter = await startEchoBackend(t, 'counter', (req, res) => {
    const seen = { method: req.method ?? '', bytes: 0 };
    received.push(seen);
    req.on('data', (c: Buffer) => (seen.bytes += c.length));
    req.on('end', () => res.end('ok'));
    return true;
  });
  await r.hset(routeKey('counter'), '.*', counter.url);
  await waitFor(() => proxy.proxy.routeTable.get('counter') !== undefined);
  const big = await raw(proxy.port, `GET /counter/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(big, /^HTTP\/1\.1 431 /);
  const byLength = await fetch(`${proxy.url}/counter/`, { method: 'POST', body: 'x'.repeat(2000) });
  t.equal(byLength.status, 413);
  t.match(await byLength.text(), /Request too large/);
  t.same(received, [], 'a body too large by its length never reaches the tool');
  const chunked = await raw(proxy.port, `POST /counter/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'y'.repeat(2048)}\r\n0\r\n\r\n`);
  t.match(chunked, /^HTTP\/1\.1 413 /);
  t.ok(received.length <= 1 && received.every((x) => x.method === 'POST' && x.bytes <= 1024), `the streamed body was cut at the cap: ${JSON.stringify(received)}`);
});

t.test('slow clients are cut off after the header timeout (408)', async (t) => {
  const { proxy } = await setup(t, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
  const started = Date.now();
  const answer = await raw(proxy.port, 'GET /victim/ HTTP/1.1\r\nHost: x\r\nX-Slow: ', 5000);
  t.match(answer, /^HTTP\/1\.1 408 /);
  t.ok(Date.now() - started < 3000, `cut off after ${Date.now() - started} ms`);
});

t.test('a client whose body stops coming gets 408 after the request timeout, and the backend connection is dropped', async (t) => {
  const { proxy } = await setup(t, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
  const started = Date.now();
  const answer = await raw(proxy.port, 'POST /victim/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part', 5000);
  t.match(answer, /^HTTP\/1\.1 408 /);
  const took = Date.now() - started;
  t.ok(took >= 550 && took < 3000, `cut off after ${took} ms`);
});

t.test('too many connections from one address are refused', async (t) => {
  const { proxy } = await setup(t, { maxConnectionsPerIp: 3 });
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  for (let i = 0; i < 3; i++) {
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    sockets.push(s);
    await new Promise((r) => s.once('connect', r));
  }
  const fourth = await raw(proxy.port, 'GET /victim/ HTTP/1.1\r\nHost: x\r\n\r\n', 1000);
  t.equal(fourth, '', 'the fourth connection is closed without an answer');
  sockets.pop()?.destroy();
  await waitFor(async () => (await raw(proxy.port, 'GET /victim/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 1000)).startsWith('HTTP/1.1 200'), 3000, 'a free slot');
});

t.test('a client over its request rate gets the 429 page', async (t) => {
  const { proxy } = await setup(t, { ratePerSecond: 5, burst: 5 });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await fetch(`${proxy.url}/victim/`)).status);
  t.same(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  t.ok(statuses.includes(429));
  const limited = await fetch(`${proxy.url}/victim/`);
  t.equal(limited.status, 429);
  t.equal(limited.headers.get('retry-after'), '1');
  t.match(await limited.text(), /You are trying to access this service too fast/);
  t.equal((await fetch(`${proxy.url}/.well-known/healthz`)).status, 200, 'health checks are not limited');
});

t.test('an empty User-Agent is refused when the policy says so', async (t) => {
  const { proxy } = await setup(t, { emptyUserAgent: 'deny' });
  const answer = await raw(proxy.port, 'GET /victim/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(answer, /^HTTP\/1\.1 403 [\s\S]*Requests must have a user agent/);
  const withUa = await raw(proxy.port, 'GET /victim/ HTTP/1.1\r\nHost: x\r\nUser-Agent: me\r\nConnection: close\r\n\r\n');
  t.match(withUa, /^HTTP\/1\.1 200 /);
});

t.test('garbage or dangerous backend URLs in Redis: 502 and a log line, never a crash or a request there', async (t) => {
  const { proxy, r, redis, logs } = await setup(t);
  const entries: [string, string][] = [
    ['garbage', 'not a url at all'],
    ['internet', 'http://93.184.216.34:80'],
    ['private', 'http://10.1.2.3:8080'],
    ['named', 'http://example.org:80'],
    ['redis', `http://127.0.0.1:${redis.port}`],
    ['itself', `http://127.0.0.1:${proxy.port}`],
  ];
  for (const [tool, url] of entries) await r.hset(routeKey(tool), '.*', url);
  await r.publish(routeKey('garbage'), 'x');
  await waitFor(() => entries.every(([tool]) => proxy.proxy.routeTable.get(tool) !== undefined), 5000, 'the routes');
  for (const [tool] of entries) {
    const res = await fetch(`${proxy.url}/${tool}/`);
    t.equal(res.status, 502, tool);
    t.equal(res.headers.get('x-toolhost-error'), 'TH_ERR_PROXY_BACKEND_FAILED');
  }
  const log = logs.join('\n');
  t.match(log, /route garbage: ignoring \.\* = "not a url at all": not a URL.*\[TH_ERR_ROUTE_ENTRY_IGNORED\]/);
  t.match(log, /route internet: ignoring .*outside the backend networks/);
  t.match(log, /route named: ignoring .*is not an IP address/);
  t.match(log, /route redis: ignoring .*the proxy itself or its Redis/);
  t.match(log, /route itself: ignoring .*the proxy itself or its Redis/);
  t.equal((await fetch(`${proxy.url}/.well-known/healthz`)).status, 200, 'the proxy is fine');
});
