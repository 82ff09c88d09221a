import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  const proxy = await startProxy(t, redis.url, { accessLog: { file, maxBytes: 1500, keep: 2 } });
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

t.test(
  'a full disk: the access log says so (proxy log, healthz, metrics), and logs again by itself once space is freed, no signal needed (#11)',
  { skip: process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs' },
  async (t) => {
    // outside the test's own directory, which tap removes (and cannot while a file system is mounted on it)
    const mnt = mkdtempSync(path.join(tmpdir(), 'toolhost-small-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt]);
    t.teardown(() => {
      execFileSync('umount', ['-l', mnt]);
      rmdirSync(mnt);
    });
    const file = path.join(mnt, 'access.log');
    const redis = await startRedis(t);
    const r = await redisClient(t, redis.url);
    const logs: string[] = [];
    const proxy = await startProxy(t, redis.url, { accessLog: { file }, log: (line) => logs.push(line) });
    const backend = await startEchoBackend(t, 'disk');
    await r.hset(routeKey('disk'), '.*', backend.url);
    await waitFor(() => proxy.proxy.routeTable.get('disk') !== undefined);
    const get = async (p: string): Promise<void> => void (await (await fetch(`${proxy.url}/disk/${p}`)).text());
    const logText = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    const health = async (): Promise<string> => (await fetch(`${proxy.url}/.well-known/healthz`)).text();
    const writable = async (): Promise<string | undefined> => /^toolhost_proxy_access_log_writable (\d)/m.exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1];

    await get('before');
    await waitFor(() => logText().includes('/disk/before'), 3000, 'the first line');
    t.equal(await health(), 'ok\n');

    // fill the disk
    const filler = path.join(mnt, 'filler');
    try {
      for (;;) appendFileSync(filler, Buffer.alloc(4096, 1));
    } catch (err) {
      t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the disk is full');
    }
    // the log's last page still has room for a few lines: log until it has none
    for (let i = 0; i < 200 && !logs.some((l) => l.includes('TH_ERR_ACCESS_LOG_UNWRITABLE')); i++) await get(`full${i}`);
    await waitFor(() => logs.some((l) => l.includes('TH_ERR_ACCESS_LOG_UNWRITABLE')), 3000, 'the failure in the proxy log');
    t.match(logs.join('\n'), new RegExp(`cannot write the access log ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOSPC; .*\\[TH_ERR_ACCESS_LOG_UNWRITABLE\\]`));
    t.match(await health(), /^degraded\ncannot write the access log .*ENOSPC.*\[TH_ERR_ACCESS_LOG_UNWRITABLE\]\n$/, 'healthz says it (still 200: the proxy serves)');
    t.equal(await writable(), '0', 'metrics say it');

    // free the space: no SIGHUP, no restart
    unlinkSync(filler);
    await get('after');
    await waitFor(() => logText().includes('/disk/after'), 5000, 'lines logged again');
    await waitFor(async () => (await health()) === 'ok\n', 3000, 'healthz ok again');
    t.equal(await writable(), '1');
    t.match(logs.join('\n'), /access log: writing to .*access\.log again \(\d+ lines lost while it could not be written\)/);
    t.match(logText(), /^- - - \[[^\]]+\] "GET \/disk\/after HTTP\/1\.1" 200 /m, 'a whole line, after whatever was cut');
  },
);
