import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { formatAccessLine } from '../../src/proxy/index.js';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';

t.test('an access log line is combined format with no client address, plus tool and duration', async (t) => {
  const line = formatAccessLine({ time: new Date(Date.UTC(2026, 10, 21, 13, 5, 9)), method: 'GET', url: '/t/a "b"', httpVersion: '1.1', status: 200, bytes: 12, referer: undefined, userAgent: 'UA\nx', tool: 't', durationMs: 1.234 });
  t.equal(line, '- - - [21/Nov/2026:13:05:09 +0000] "GET /t/a \\"b\\" HTTP/1.1" 200 12 "-" "UA\\x0ax" tool=t ms=1.2\n');
});

t.test('the proxy logs every request without the client address, and rotates the log by size', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'access.log');
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { accessLog: { file, maxBytes: 2000, keep: 2 } });
  const backend = await startEchoBackend(t, 'logged');
  await r.hset(routeKey('logged'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('logged') !== undefined);
  for (let i = 0; i < 40; i++) await (await fetch(`${proxy.url}/logged/page${i}`, { headers: { 'user-agent': 'tester', 'x-forwarded-for': '9.9.9.9' } })).text();
  await (await fetch(`${proxy.url}/nosuch/`)).text();
  await waitFor(() => readdirSync(dir).includes('access.log.2'), 3000, 'two rotations');
  // right after a rotation the new file exists only once its stream has opened it
  const current = (): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  await waitFor(() => current().includes('/nosuch/'), 3000, 'the last line');
  const all = readdirSync(dir).filter((f) => f.startsWith('access.log')).sort();
  t.same(all, ['access.log', 'access.log.1', 'access.log.2'], 'keeps 2 old generations');
  const text = all.map((f) => readFileSync(path.join(dir, f), 'utf8')).join('');
  t.notMatch(text, /127\.0\.0\.1|9\.9\.9\.9/, 'no address in the log');
  t.match(text, /^- - - \[[^\]]+\] "GET \/nosuch\/ HTTP\/1\.1" 404 \d+ "-" "[^"]*" tool=nosuch ms=/m);
  t.match(readFileSync(path.join(dir, 'access.log.1'), 'utf8'), /"GET \/logged\/page\d+ HTTP\/1\.1" 200 \d+ "-" "tester" tool=logged ms=\d/);
});
