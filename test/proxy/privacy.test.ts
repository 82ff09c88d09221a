// What a tool sees of its visitors: never their address. An echo backend reports the headers.
import http from 'node:http';
import t from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';

function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      })
      .on('error', reject);
  });
}

t.test('tools never receive the client address, and X-Forwarded-* come from the proxy alone', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'priv');
  await r.hset(routeKey('priv'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('priv') !== undefined);
  const res = await rawGet(proxy.port, '/priv/', {
    host: 'tools.example',
    'x-forwarded-for': '6.6.6.6',
    'x-real-ip': '6.6.6.6',
    forwarded: 'for=6.6.6.6',
    'x-forwarded-proto': 'gopher',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-port': '1',
    'true-client-ip': '6.6.6.6',
    'cf-connecting-ip': '6.6.6.6',
    proxy: 'http://evil:1',
    'proxy-authorization': 'Basic eA==',
    te: 'trailers',
    'keep-alive': 'timeout=5',
    connection: 'keep-alive, x-secret-hop',
    'x-secret-hop': 'must not pass',
    'user-agent': 'test-agent',
    cookie: 'session=abc',
  });
  t.equal(res.status, 200);
  const seen = JSON.parse(res.body).headers as Record<string, string>;
  for (const h of ['x-forwarded-for', 'x-real-ip', 'forwarded', 'true-client-ip', 'cf-connecting-ip', 'proxy', 'proxy-authorization', 'te', 'keep-alive', 'x-secret-hop']) {
    t.equal(seen[h], undefined, `${h} is not forwarded`);
  }
  t.equal(seen['x-forwarded-proto'], 'http');
  t.equal(seen['x-forwarded-host'], 'tools.example');
  t.equal(seen['x-forwarded-port'], String(proxy.port));
  t.equal(seen.host, 'tools.example');
  t.equal(seen['user-agent'], 'test-agent', 'end-to-end headers pass');
  t.equal(seen.cookie, 'session=abc');
  t.notMatch(JSON.stringify(seen), /6\.6\.6\.6|127\.0\.0\.1(?!:)/, 'no address anywhere in what the tool got');
});

t.test('hop-by-hop response headers stay on the backend hop', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'hop', (_req, res) => {
    res.writeHead(200, { connection: 'x-internal', 'x-internal': 'secret', 'keep-alive': 'timeout=1', 'x-public': 'yes' });
    res.end('ok');
    return true;
  });
  await r.hset(routeKey('hop'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('hop') !== undefined);
  const res = await fetch(`${proxy.url}/hop/`);
  t.equal(res.headers.get('x-internal'), null);
  t.equal(res.headers.get('x-public'), 'yes');
});
