// A bounded fuzz run (loopback only, stops by itself): random and mutated HTTP thrown at the
// proxy. Oracle: no crash, no unhandled rejection (tap fails the file on one), the proxy
// still answers, and open client sockets come back to zero.
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import t from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'PATCH', 'G\0T', ''];
const PATHS = ['/fz/', '/fz', '/', '/%2e%2e/fz/', '//', '/fz/%00', '*', 'http://evil/', '/fz/' + 'a'.repeat(9000), '/.well-known/healthz', '/nope/'];
const HEADERS = [
  'Host: x', 'Host:', 'Content-Length: 5', 'Content-Length: -1', 'Content-Length: 99999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked',
  'Connection: upgrade', 'Upgrade: websocket', 'Expect: 100-continue', 'X-Forwarded-For: 1.2.3.4', 'Proxy: x', 'TE: trailers', 'Trailer: X', ': empty name',
  'Bad Header', 'X: \x01\x7f', 'Cookie: ' + 'c'.repeat(3000),
];

function request(): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(...METHODS),
      fc.constantFrom(...PATHS),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', ''),
      fc.array(fc.constantFrom(...HEADERS), { maxLength: 6 }),
      fc.constantFrom('', '0\r\n\r\n', 'hello', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n'),
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 3, unit: 'binary' })), { maxLength: 3 }),
    )
    .map(([m, p, v, hs, body, edits]) => {
      let s = `${m} ${p} ${v}\r\n${hs.join('\r\n')}${hs.length ? '\r\n' : ''}\r\n${body}`;
      for (const [pos, ins] of edits) {
        const at = pos % (s.length + 1);
        s = s.slice(0, at) + ins + s.slice(at);
      }
      return s;
    });
}

function send(port: number, data: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('data', () => {});
    s.on('error', () => {});
    const timer = setTimeout(() => s.destroy(), 300);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

t.test('random and mutated HTTP never takes the proxy down or leaks sockets', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { limits: { maxBodyBytes: 1024, headersTimeoutMs: 500, requestTimeoutMs: 1000 } });
  const backend = await startEchoBackend(t, 'fz');
  await r.hset(routeKey('fz'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('fz') !== undefined);
  const openSockets = async (): Promise<number> =>
    Number(/^toolhost_proxy_open_client_sockets (\d+)/m.exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1]);
  // a heap figure means something only right after a full collection, and after a first
  // round has paid for what is allocated once (compiled code, parser instances, pools)
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const samples = fc.sample(request(), { numRuns: 800, seed: 1234 });
  const round = async (list: string[]): Promise<void> => {
    for (let i = 0; i < list.length; i += 20) await Promise.all(list.slice(i, i + 20).map((s) => send(proxy.port, s)));
  };
  await round(samples.slice(0, 400));
  await waitFor(async () => (await openSockets()) === 0, 5000, 'client sockets back to zero after the first round');
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  await round(samples.slice(400));
  const health = await fetch(`${proxy.url}/.well-known/healthz`, { headers: { connection: 'close' } });
  t.equal(health.status, 200, 'still answering');
  await health.text();
  await waitFor(async () => (await openSockets()) === 0, 5000, 'client sockets back to zero');
  gc();
  const grew = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  t.ok(grew < 16, `heap grew ${grew.toFixed(1)} MiB over the ${samples.length - 400} hostile requests of the second round`);
  t.equal((await fetch(`${proxy.url}/fz/`)).status, 200, 'tools are still served');
});
