// The node registrar with real Redis, real listening sockets (some owned by other users), the
// real executable and the real proxy: it routes a port only when the kernel says the tool
// listens on it, drops it when that stops, heals what Redis lost, survives its own restart, and
// shrugs off hostile input on its sockets.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { listeningSockets, parseProcNet, withRegistrar } from '../../src/registrar/index.js';
import { ToolhostError } from '../../src/errors.js';
import { killProcessesOf, redisClient, runBin, startEchoBackend, startProxy, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';

const asRoot = process.getuid?.() === 0;

/** a TCP listener in its own process, as uid (for "another user's port") */
async function listenerAs(t: Test, uid: number, host = '127.0.0.1'): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', `const s=require('net').createServer(c=>c.end()).listen(0,'${host}',()=>console.log(s.address().port))`], { uid, gid: uid, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = (): void => {
    child.kill('SIGKILL');
  };
  t.teardown(stop);
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { port, stop };
}

/** a TCP listener in this process (the test's uid) */
async function listener(t: Test, host = '127.0.0.1'): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((c) => c.end());
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  t.teardown(close);
  return { port: (server.address() as net.AddressInfo).port, close };
}

async function node(t: Test, tools: string[], leaseSeconds = 15) {
  killProcessesOf(t);
  const homes = path.join(workDir(t), 'homes');
  for (const tool of tools) mkdirSync(path.join(homes, tool), { recursive: true });
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const registrar = await startRegistrar(t, redis.url, homes, { leaseSeconds });
  return { homes, redis, r, registrar };
}

t.test('the kernel\'s socket tables are read as they are: LISTEN sockets only, IPv4, IPv6 and IPv4-mapped, with their uid', async (t) => {
  const v4 = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 4242 1 0 100 0 0 10 0',
    '   1: 0100007F:1F91 0100007F:C000 01 00000000:00000000 00:00000000 00000000  1001        0 4243 1 0 100 0 0 10 0',
    '   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4244 1 0 100 0 0 10 0',
  ].join('\n');
  t.same(parseProcNet(v4), [
    { address: '127.0.0.1', port: 8080, uid: 1001, inode: 4242 },
    { address: '0.0.0.0', port: 80, uid: 0, inode: 4244 },
  ]);
  const v6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 5 1 0 100 0 0 10 0',
    '   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 6 1 0 100 0 0 10 0',
    '   2: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0',
  ].join('\n');
  t.same(parseProcNet(v6).map((s) => [s.address, s.port, s.uid]), [
    ['::1', 8080, 1002],
    ['127.0.0.1', 8081, 1003],
    ['::', 22, 0],
  ]);
  const live = await listener(t);
  const found = (await listeningSockets()).find((s) => s.port === live.port);
  t.same(found && { address: found.address, uid: found.uid }, { address: '127.0.0.1', uid: process.getuid?.() }, 'a socket of this process, as the kernel lists it');
});

t.test('a port is routed only when a process of the tool\'s uid listens on it at the node\'s address', { skip: asRoot ? false : 'needs root to listen as another user' }, async (t) => {
  const { r, registrar } = await node(t, ['owner']);
  const own = await listener(t);
  const b = await withRegistrar(registrar.dir, 'owner', (c) => c.register(own.port, 'The owner tool'));
  t.match(b, { id: `${registrar.node}-${own.port}`, url: `http://127.0.0.1:${own.port}`, stored: true });
  const hash = await r.hgetall('prefix:owner');
  t.same(hash, { [`backend:${b.id}`]: b.url, [`node:${b.id}`]: registrar.node, description: 'The owner tool' });
  t.ok(Number(await r.hget('toolhost:nodes', registrar.node)) > Date.now(), 'the node\'s lease');

  const refusals: [string, number, RegExp][] = [];
  const nobody = await listenerAs(t, 65534);
  refusals.push(['another user\'s port', nobody.port, /the kernel says: uid 65534, not owner \(uid 0\)/]);
  const free = await listener(t);
  await free.close();
  refusals.push(['a port nobody listens on', free.port, /the kernel says: nothing/]);
  const elsewhere = await listener(t, '127.0.0.2');
  refusals.push(['a port on another address', elsewhere.port, /the kernel says: owner listens on 127\.0\.0\.2, which is not 127\.0\.0\.1 or 0\.0\.0\.0/]);
  // IPv6-only sockets of the tool: alone, and on a port whose IPv4 side is another user's (the
  // route would reach the other user's server)
  const v6only = async (): Promise<number> => {
    const v6 = net.createServer();
    await new Promise<void>((resolve) => v6.listen({ host: '::', port: 0, ipv6Only: true }, resolve));
    t.teardown(() => new Promise<void>((resolve) => v6.close(() => resolve())));
    return (v6.address() as net.AddressInfo).port;
  };
  refusals.push(['an IPv6-only socket', await v6only(), /the kernel says: owner listens on ::, which is not 127\.0\.0\.1 or 0\.0\.0\.0/]);
  const shared = await v6only();
  const theirs = spawn(process.execPath, ['-e', `require('net').createServer(c=>c.end()).listen(${shared},'127.0.0.1',()=>console.log('up'))`], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void theirs.kill('SIGKILL'));
  await new Promise((resolve) => theirs.stdout.once('data', resolve));
  refusals.push(['an IPv6-only socket on a port another user has on IPv4', shared, /the kernel says: uid 65534, not owner \(uid 0\)/]);
  for (const [what, port, message] of refusals) {
    const err = await withRegistrar(registrar.dir, 'owner', (c) => c.register(port)).catch((e: ToolhostError) => e);
    t.equal((err as ToolhostError).code, 'TH_ERR_REGISTRAR_NOT_OWNER', what);
    t.match((err as Error).message, message, what);
  }
  t.equal(Object.keys(await r.hgetall('prefix:owner')).filter((k) => k.startsWith('backend:')).length, 1, 'nothing else was written');

  // a tool has at most 16 backends on a node
  const many = await Promise.all(Array.from({ length: 16 }, () => listener(t)));
  const results = await withRegistrar(registrar.dir, 'owner', async (c) => Promise.all(many.map((l) => c.register(l.port).then(() => 'ok', (e: ToolhostError) => e.code))));
  t.same(results.filter((x) => x !== 'ok'), ['TH_ERR_REGISTRAR_TOO_MANY']);
});

t.test('a port that stops listening loses its route within about a second; the tool stays known (503, not 404)', async (t) => {
  const { r, redis, registrar } = await node(t, ['fleeting']);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'fleeting');
  await withRegistrar(registrar.dir, 'fleeting', (c) => c.register(backend.port));
  await waitFor(() => proxy.proxy.routeTable.get('fleeting')?.backends.length === 1, 3000, 'routed');
  t.equal((await fetch(`${proxy.url}/fleeting/`)).status, 200);
  backend.server.closeAllConnections();
  await new Promise<void>((resolve) => backend.server.close(() => resolve()));
  const ms = await waitFor(async () => !Object.keys(await r.hgetall('prefix:fleeting')).some((k) => k.startsWith('backend:')), 5000, 'the backend to go');
  t.comment(`server closed -> backend unregistered: ${ms} ms`);
  await waitFor(() => proxy.proxy.routeTable.get('fleeting')?.backends.length === 0, 3000, 'the proxy to see it');
  t.equal((await fetch(`${proxy.url}/fleeting/`)).status, 503, 'a tool that exists but is not running');
  t.match(registrar.log(), /fleeting: http:\/\/127\.0\.0\.1:\d+ stopped listening/);
});

t.test('a registration Redis lost (FLUSHALL) is written again in full within one renewal, and routed again (#11)', async (t) => {
  const { r, redis, registrar } = await node(t, ['healed'], 0.6);
  const proxy = await startProxy(t, redis.url, { resyncIntervalMs: 60_000 });
  const backend = await startEchoBackend(t, 'healed');
  await withRegistrar(registrar.dir, 'healed', (c) => c.register(backend.port, 'Healed'));
  await waitFor(() => proxy.proxy.routeTable.get('healed')?.backends.length === 1, 3000, 'routed');
  const before = await r.hgetall('prefix:healed');
  await r.flushall();
  const ms = await waitFor(async () => Object.keys(await r.hgetall('prefix:healed')).length === 3, 3000, 'the hash to be written again');
  t.same(await r.hgetall('prefix:healed'), before, 'backend, node and description, all of it');
  t.comment(`FLUSHALL -> registration complete again: ${ms} ms (renewal every 200 ms)`);
  t.equal((await fetch(`${proxy.url}/healed/`)).status, 200);
  // and a hash that lost only some fields
  await r.hdel('prefix:healed', 'description');
  await waitFor(async () => (await r.hget('prefix:healed', 'description')) === 'Healed', 3000, 'the description back');
});

t.test('renewals write nothing to the tools\' hashes: one node lease, announced once per renewal', async (t) => {
  const { r, redis, registrar } = await node(t, ['quiet', 'calm'], 0.6);
  const one = await startEchoBackend(t, 'quiet');
  const two = await startEchoBackend(t, 'calm');
  await withRegistrar(registrar.dir, 'quiet', (c) => c.register(one.port));
  await withRegistrar(registrar.dir, 'calm', (c) => c.register(two.port));
  const monitor = await redisClient(t, redis.url);
  const seen: string[] = [];
  monitor.on('message', (channel: string) => seen.push(channel));
  monitor.on('pmessage', (_p: string, channel: string) => seen.push(channel));
  await monitor.psubscribe('prefix:*');
  await monitor.subscribe('toolhost:nodes');
  const untilBefore = Number(await r.hget('toolhost:nodes', registrar.node));
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.same(seen.filter((c) => c.startsWith('prefix:')), [], 'no tool was announced');
  t.ok(seen.filter((c) => c === 'toolhost:nodes').length >= 3, 'the node lease was');
  t.ok(Number(await r.hget('toolhost:nodes', registrar.node)) > untilBefore, 'and moved on');
});

t.test('restarting the registrar, even with SIGKILL, takes no tool off the web (#11)', async (t) => {
  const { r, redis, homes, registrar } = await node(t, ['steady'], 8);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'steady');
  await withRegistrar(registrar.dir, 'steady', (c) => c.register(backend.port));
  await waitFor(() => proxy.proxy.routeTable.get('steady')?.backends.length === 1, 3000, 'routed');
  let failures = 0;
  let ok = 0;
  let running = true;
  const odd: string[] = [];
  const loop = (async () => {
    while (running) {
      const res = await fetch(`${proxy.url}/steady/`).catch((e: Error) => e);
      if (res instanceof Error) {
        failures++;
        if (odd.length < 3) odd.push(`${res.message} ${(res.cause as Error | undefined)?.message}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      await res.text();
      if (res.status === 200) ok++;
      else {
        failures++;
        if (odd.length < 3) odd.push(`HTTP ${res.status}`);
      }
    }
  })();
  registrar.process.signal('SIGKILL');
  await registrar.process.exited;
  const leaseBefore = Number(await r.hget('toolhost:nodes', registrar.node));
  // a new registrar on the same node and directory, as a service manager restarts it: within the
  // node's lease (one down for longer takes its node's tools off the proxies: nobody vouches for them)
  const { startProcess } = await import('../../src/supervisor/index.js');
  const { BIN, userEnv } = await import('../helpers/index.js');
  let log = '';
  const again = await startProcess({
    diesWithParent: true,
    command: 'env',
    args: ['-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'registrar', '--redis', redis.url, '--home-root', homes, '--socket-dir', registrar.dir, '--node', registrar.node, '--lease', '8'],
    env: userEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
    onStart: (c) => c.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d)),
    ready: async () => log.includes(' serving '),
  });
  t.teardown(() => again.stop(2000));
  // the new registrar renews the node's lease as soon as it reaches Redis
  await waitFor(async () => Number(await r.hget('toolhost:nodes', registrar.node)) > leaseBefore, 10_000, 'the node lease renewed');
  await new Promise((resolve) => setTimeout(resolve, 300));
  running = false;
  await loop;
  t.equal(failures, 0, `${ok} requests while the registrar was killed and started again, none failed ${odd.join('; ')}`);
  t.match(log, /restored 1 registration\(s\) from the last run/);
  t.equal(Object.keys(await r.hgetall('prefix:steady')).filter((k) => k.startsWith('backend:')).length, 1);
});

t.test('on start, a backend Redis says this node holds but it does not is removed', async (t) => {
  const homes = path.join(workDir(t), 'homes');
  mkdirSync(path.join(homes, 'ghost'), { recursive: true });
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  await r.hset('prefix:ghost', 'backend:stale-node-9', 'http://127.0.0.1:9', 'node:stale-node-9', 'stale-node', 'backend:other-1', 'http://127.0.0.1:1', 'node:other-1', 'other-node');
  await startRegistrar(t, redis.url, homes, { node: 'stale-node' });
  await waitFor(async () => (await r.hget('prefix:ghost', 'backend:stale-node-9')) === null, 5000, 'the stale backend to go');
  t.equal(await r.hget('prefix:ghost', 'backend:other-1'), 'http://127.0.0.1:1', 'another node\'s backend is not this registrar\'s business');
});

t.test('hostile input on a tool\'s socket gets a coded refusal or a closed connection; the registrar goes on', async (t) => {
  const { registrar } = await node(t, ['poker']);
  const talk = (payload: string, lines: number): Promise<string[]> =>
    new Promise((resolve) => {
      const s = net.connect(path.join(registrar.dir, 'poker.sock'));
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        got += d;
        if (got.split('\n').length > lines) s.end();
      });
      s.on('close', () => resolve(got.split('\n').filter(Boolean)));
      s.on('error', () => resolve(got.split('\n').filter(Boolean)));
      s.write(payload);
    });
  const replies = await talk('not json\n{"n":1,"op":"format-disk"}\n{"n":2,"op":"register","port":70000}\n{"n":3,"op":"list"}\n', 4);
  t.match(JSON.parse(replies[0] as string), { hello: { tool: 'poker', version: 1 } });
  t.match(JSON.parse(replies[1] as string), { ok: false, code: 'TH_ERR_REGISTRAR_PROTOCOL', message: /not JSON/ });
  t.match(JSON.parse(replies[2] as string), { ok: false, code: 'TH_ERR_REGISTRAR_PROTOCOL', message: /unknown op "format-disk"/ });
  t.match(JSON.parse(replies[3] as string), { ok: false, code: 'TH_ERR_REGISTRAR_PROTOCOL', message: /register needs a port/ });
  t.match(JSON.parse(replies[4] as string), { n: 3, ok: true, listing: { backends: [] } });
  const flood = await talk('x'.repeat(100_000), 99);
  t.equal(flood.length, 1, 'a line that never ends closes the connection after the greeting');
  t.same((await withRegistrar(registrar.dir, 'poker', (c) => c.list())).backends, [], 'and the registrar still answers');
  // a peer error this version does not know stays one line with a code
  const unknown = ToolhostError.withMessage('TH_ERR_FROM_A_NEWER_VERSION', 'something new');
  t.equal(unknown.code, 'TH_ERR_PEER_FAILED');
  t.match(unknown.message, /another toolhost process reported an error: something new/);
});

t.test('a client that writes requests without reading the answers cannot grow the registrar', async (t) => {
  const { registrar } = await node(t, ['flooder']);
  const pid = registrar.process.pid as number;
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
  const before = rss();
  const closed = await new Promise<boolean>((resolve) => {
    const s = net.connect(path.join(registrar.dir, 'flooder.sock'));
    s.on('close', () => resolve(true));
    s.on('error', () => {});
    // never read; write as fast as the socket takes it
    const line = `${JSON.stringify({ n: 1, op: 'register', port: 1 })}\n`.repeat(2000);
    const pump = (): void => {
      for (let i = 0; i < 200 && s.writable; i++) if (!s.write(line)) return void s.once('drain', pump);
    };
    s.on('connect', pump);
    setTimeout(() => resolve(false), 5000).unref();
  });
  t.ok(closed, 'the connection was closed');
  t.ok(rss() - before < 50 * 1024 * 1024, `the registrar grew by ${Math.round((rss() - before) / 1e6)} MB`);
  t.same((await withRegistrar(registrar.dir, 'flooder', (c) => c.list())).backends, [], 'and still answers');
});

t.test('a Redis password is never taken from the command line; a secret file must be its owner\'s alone', async (t) => {
  const redis = await startRedis(t);
  const dir = workDir(t);
  const onLine = await runBin(t, 'toolhost', ['registrar', '--redis', 'redis://toolhost-registrar:s3cret@127.0.0.1:6379', '--home-root', dir, '--socket-dir', '/tmp/th-none']);
  t.equal(onLine.code, 2);
  t.match(onLine.stderr, /the Redis URL redis:\/\/toolhost-registrar:\*\*\*@127\.0\.0\.1:6379\/? carries a password on the command line.*\[TH_ERR_SECRET_ON_COMMAND_LINE\]\n$/);
  t.notMatch(onLine.stderr, /s3cret/);
  const file = path.join(dir, 'registrar.url');
  writeFileSync(file, `${redis.url}\n`, { mode: 0o644 });
  chmodSync(file, 0o644);
  const open = await runBin(t, 'toolhost', ['routes', '--redis-file', file, 'list']);
  t.equal(open.code, 2);
  t.match(open.stderr, /the secret file .*registrar\.url may be read by others .*mode 644.*\[TH_ERR_SECRET_FILE_OPEN\]/);
  chmodSync(file, 0o600);
  const ok = await runBin(t, 'toolhost', ['routes', '--redis-file', file, 'list']);
  t.equal(ok.code, 0, ok.stderr);
});

t.test('a socket directory too long for unix sockets, or one others may write, is refused at start', async (t) => {
  const redis = await startRedis(t);
  const long = path.join(workDir(t), 'x'.repeat(80));
  const tooLong = await runBin(t, 'toolhost', ['registrar', '--redis', redis.url, '--home-root', workDir(t), '--socket-dir', long]);
  t.equal(tooLong.code, 2);
  t.match(tooLong.stderr, /the registrar socket directory .* is too long: .* unix sockets allow 107.*\[TH_ERR_REGISTRAR_DIR_TOO_LONG\]\n$/);
  if (!asRoot) return;
  const open = mkdtempSync('/tmp/threg-open-');
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o777);
  const unsafe = await runBin(t, 'toolhost', ['registrar', '--redis', redis.url, '--home-root', workDir(t), '--socket-dir', open]);
  t.equal(unsafe.code, 1);
  t.match(unsafe.stderr, /is not safe for root to create files in \(owned by uid 0, mode 777\).*\[TH_ERR_UNSAFE_DIRECTORY\]\n$/);
});
