// webservice as a maintainer runs it, with real Redis, real lighttpd, the real proxy and the
// detached supervisor: start, crash recovery, supervisor death and the monitor, config edits,
// restarts under load, stop.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { isAlive, killProcessesOf, makeToolAccount, makeToolHome, redisClient, runBin, startProxy, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';
import { requestLoop } from '../helpers/webservice-tool.js';


interface Env {
  readonly env: Record<string, string>;
  readonly runtimeDir: string;
}

async function setup(t: Test, name: string, files: Record<string, string> = {}) {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const tool = makeToolHome(t, name, { 'public_html/index.html': `${name} index`, '.description': `The ${name} tool`, ...files });
  const registrar = await startRegistrar(t, redis.url, path.dirname(tool.home), { leaseSeconds: 1.5 });
  const runtimeRoot = path.join(workDir(t), 'runtime');
  const e: Env = {
    env: { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtimeRoot, TOOLHOST_LIVENESS_MS: '500' },
    runtimeDir: path.join(runtimeRoot, name),
  };
  envs.set(t, e.env);
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', name, '--home', tool.home, ...args], { env: e.env });
  // whatever a test leaves running goes, supervisor and servers (its process group) alike
  t.teardown(async () => {
    await ws('stop').catch(() => {});
    try {
      const state = JSON.parse(readFileSync(path.join(e.runtimeDir, 'state.json'), 'utf8')) as { supervisorPid: number; serverPid: number | null };
      for (const pid of [state.supervisorPid, state.serverPid]) {
        if (!pid) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    } catch {
      // never started
    }
  });
  const state = () => JSON.parse(readFileSync(path.join(e.runtimeDir, 'state.json'), 'utf8')) as { serverPid: number; supervisorPid: number; port: number; state: string; url: string };
  const page = async (p = '/') => {
    const res = await fetch(`${proxy.url}/${name}${p}`);
    return { status: res.status, body: await res.text() };
  };
  return { redis, r, proxy, tool, e, ws, state, page, registrar };
}

const envs = new WeakMap<object, Record<string, string>>();
async function envOf(t: Test): Promise<Record<string, string>> {
  return envs.get(t) ?? {};
}

t.test('webservice start registers the route and the page is served through the proxy; stop removes it and frees the port', async (t) => {
  const { r, proxy, ws, state, page } = await setup(t, 'starter');
  const started = Date.now();
  const start = await ws('start');
  t.equal(start.code, 0, start.stderr);
  t.match(start.stdout, /^Your webservice is running: http:\/\/127\.0\.0\.1:\d+ \(lighttpd, pid \d+\); the proxy routes \/starter\/ to it\.\n$/);
  t.comment(`webservice start -> running: ${Date.now() - started} ms`);
  const hash = await r.hgetall('prefix:starter');
  t.equal(hash.description, 'The starter tool', 'the description is carried into the route table');
  await waitFor(() => proxy.proxy.routeTable.get('starter')?.backends.length === 1);
  t.same(await page('/'), { status: 200, body: 'starter index' });
  const status = JSON.parse((await ws('status', '--json')).stdout);
  t.match(status, { tool: 'starter', type: 'lighttpd', state: 'running', routeRegistered: true, restarts: 0 });
  t.ok(status.uptimeSeconds >= 0);
  const again = await ws('start');
  t.equal(again.code, 0);
  t.match(again.stdout, /already running/);
  const port = state().port;
  const stop = await ws('stop');
  t.equal(stop.code, 0);
  t.equal(stop.stdout, 'Your webservice is stopped; its route is removed.\n');
  t.equal(Object.keys(await r.hgetall('prefix:starter')).filter((k) => k.startsWith('backend:')).length, 0);
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
  t.ok(refused, 'the port is free');
  t.equal((await ws('stop')).stdout, 'Your webservice is not running.\n', 'stop is idempotent');
  t.match((await ws('status')).stdout, /^Your webservice is not running\./);
});

t.test('a lighttpd killed with SIGKILL is serving again at once', async (t) => {
  const { ws, state, page } = await setup(t, 'phoenix');
  t.equal((await ws('start')).code, 0);
  const before = state();
  process.kill(before.serverPid, 'SIGKILL');
  const killedAt = Date.now();
  await waitFor(async () => (await page('/')).status === 200 && state().serverPid !== before.serverPid, 10_000, 'serving again');
  t.comment(`SIGKILL of lighttpd -> served again through the proxy: ${Date.now() - killedAt} ms`);
  const status = JSON.parse((await ws('status', '--json')).stdout);
  t.equal(status.restarts, 1);
  t.equal(status.lastExit, 'killed by SIGKILL');
  t.match(readFileSync(path.join(workDir(t), 'homes', 'phoenix', 'service.log'), 'utf8'), /the server stopped \(killed by SIGKILL\); restart 1 in 0 ms/);
});

t.test('a supervisor killed with SIGKILL: its server stays routed, toolhost monitor brings a new one and replaces the server with zero failed requests (#11)', async (t) => {
  const { ws, state, page, e, proxy } = await setup(t, 'orphan');
  t.equal((await ws('start')).code, 0);
  const first = state();
  const loop = requestLoop(`${proxy.url}/orphan/`);
  process.kill(first.supervisorPid, 'SIGKILL');
  // longer than the node lease: the registrar, not the dead supervisor, keeps the server routed
  await new Promise((r) => setTimeout(r, 2500));
  t.equal((await page('/')).status, 200, 'the orphaned server is still served');
  const mon = await runBin(t, 'toolhost', ['monitor', '--once', '--home-root', path.join(workDir(t), 'homes')], { env: e.env });
  t.equal(mon.code, 0, mon.stderr);
  t.match(mon.stdout, /^orphan\trestarted$/m);
  await waitFor(() => {
    try {
      return state().supervisorPid !== first.supervisorPid && state().state === 'running' && state().serverPid !== first.serverPid;
    } catch {
      return false;
    }
  }, 10_000, 'a new server');
  await waitFor(() => !isAlive(first.serverPid), 15_000, 'the orphaned server to be stopped');
  const result = await loop.stop();
  t.same(result.failures, [], `${result.ok} requests while the supervisor was dead and replaced, none failed`);
  t.ok(result.ok > 20);
  const again = await runBin(t, 'toolhost', ['monitor', '--once', '--home-root', path.join(workDir(t), 'homes')], { env: e.env });
  t.match(again.stdout, /^orphan\trunning$/m);
});

t.test('a broken ~/.lighttpd.conf edit leaves the old server serving; fixing it reloads without a failed request', async (t) => {
  const { ws, state, page, tool, proxy } = await setup(t, 'editor');
  t.equal((await ws('start')).code, 0);
  const first = state();
  const loop = requestLoop(`${proxy.url}/editor/`);
  writeFileSync(path.join(tool.home, '.lighttpd.conf'), '# my settings\nserver.tag = "a"\nserver.tag = "b"\n');
  await waitFor(async () => JSON.parse((await ws('status', '--json')).stdout).configError !== null, 10_000, 'the error to be seen');
  const status = await ws('status');
  t.match(status.stdout, /config {6}~\/\.lighttpd\.conf:3:1: error: server\.tag is already set/);
  t.equal(state().serverPid, first.serverPid, 'the running server is untouched');
  t.match(readFileSync(path.join(tool.home, 'error.log'), 'utf8'), /\(toolhost\) ~\/\.lighttpd\.conf:3:1: error/);
  t.match(readFileSync(path.join(tool.home, 'service.log'), 'utf8'), /configuration error \(the running server keeps its last good configuration\)/);
  writeFileSync(path.join(tool.home, '.lighttpd.conf'), '# my settings\nserver.tag = "fixed"\n');
  await waitFor(() => state().serverPid !== first.serverPid && state().state === 'running', 10_000, 'the reload');
  await waitFor(async () => JSON.parse((await ws('status', '--json')).stdout).configError === null, 5000, 'the error to clear');
  const result = await loop.stop();
  t.same(result.failures, [], `${result.ok} requests during the edit and the reload, none failed`);
  t.equal((await page('/')).status, 200);
});

t.test('webservice restart under a request loop: zero failed requests', async (t) => {
  const { ws, state, proxy } = await setup(t, 'restarter');
  t.equal((await ws('start')).code, 0);
  await waitFor(() => proxy.proxy.routeTable.get('restarter')?.backends.length === 1);
  const first = state();
  const loop = requestLoop(`${proxy.url}/restarter/`);
  for (let i = 0; i < 3; i++) {
    const r = await ws('restart');
    t.equal(r.code, 0, r.stderr);
  }
  const result = await loop.stop();
  t.not(state().serverPid, first.serverPid);
  t.same(result.failures, [], `${result.ok} requests across 3 restarts, none failed`);
  t.ok(result.ok > 20);
});

t.test('generic webservices: python3 -m http.server and a node server, the port appended and in PORT', async (t) => {
  const { ws, page, tool } = await setup(t, 'generic', {
    'server.cjs': "const p=Number(process.argv.at(-1));require('http').createServer((q,s)=>s.end('node on '+p+' PORT='+process.env.PORT+' '+q.url)).listen(p,'127.0.0.1')",
    'www/generic/hello.txt': 'python says hello',
  });
  const node = await ws('generic', 'start', '--', process.execPath, path.join(tool.home, 'server.cjs'));
  t.equal(node.code, 0, node.stderr);
  const body = (await page('/x?y')).body;
  t.match(body, /^node on (\d+) PORT=\1 \/generic\/x\?y$/);
  const py = await ws('generic', 'restart', '--', 'python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', path.join(tool.home, 'www'));
  t.equal(py.code, 0, py.stderr);
  t.same(await page('/hello.txt'), { status: 200, body: 'python says hello' });
  const status = JSON.parse((await ws('status', '--json')).stdout);
  t.equal(status.type, 'generic');
  const manifest = readFileSync(path.join(tool.home, 'service.manifest'), 'utf8');
  t.match(manifest, /web: generic/);
  t.match(manifest, /- python3/);
  const again = await ws('restart');
  t.equal(again.code, 0, 'a later restart needs no arguments: they come from ~/service.manifest');
  t.equal((await page('/hello.txt')).status, 200);
});

t.test('mismatches and missing commands explain themselves', async (t) => {
  const { ws } = await setup(t, 'mixed');
  t.equal((await ws('start')).code, 0);
  const mismatch = await ws('generic', 'start', '--', 'true');
  t.equal(mismatch.code, 2);
  t.match(mismatch.stderr, /your webservice is running as "lighttpd", not "generic"; run "webservice generic restart" to switch, or "webservice stop" first \[TH_ERR_WEBSERVICE_TYPE_MISMATCH\]/);
  await ws('stop');
  const nocmd = await ws('generic', 'start');
  t.equal(nocmd.code, 2);
  t.match(nocmd.stderr, /\[TH_ERR_WEBSERVICE_NO_COMMAND\]\n$/);
});

t.test('a server that never answers makes start give up with one line, and keeps being retried', async (t) => {
  const { ws, tool } = await setup(t, 'silent', { 'silent.cjs': 'setInterval(() => {}, 1000)' });
  const r = await runBin(t, 'webservice', ['--tool', 'silent', '--home', tool.home, 'generic', 'start', '--', process.execPath, path.join(tool.home, 'silent.cjs')], {
    env: { ...(await envOf(t)), TOOLHOST_START_TIMEOUT: '2' },
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /webservice: the webservice of silent did not start within 2 s; see ~\/service\.log and ~\/error\.log .*\[TH_ERR_SUPERVISOR_UNREACHABLE\]\n$/);
  t.match(JSON.parse((await ws('status', '--json')).stdout).state, /starting|crash-looping/);
});

t.test('a crashing generic server is reported as crash-looping with its last exit code', async (t) => {
  const { ws, tool } = await setup(t, 'crasher', {
    'crash.cjs': "const p=Number(process.argv.at(-1));require('http').createServer((q,s)=>s.end('up')).listen(p,'127.0.0.1');setTimeout(()=>process.exit(7),300)",
  });
  t.equal((await ws('generic', 'start', '--', process.execPath, path.join(tool.home, 'crash.cjs'))).code, 0);
  await waitFor(async () => JSON.parse((await ws('status', '--json')).stdout).state === 'crash-looping', 20_000, 'crash-looping');
  const s = JSON.parse((await ws('status', '--json')).stdout);
  t.equal(s.lastExit, 'exit code 7');
  t.ok(s.restarts >= 3);
  t.match(readFileSync(path.join(tool.home, 'service.log'), 'utf8'), /it keeps crashing: see ~\/error\.log/);
});

t.test('a server that stops answering its liveness probe is restarted', async (t) => {
  const { ws, tool, state } = await setup(t, 'hung', {
    'hang.cjs': "const p=Number(process.argv.at(-1));let n=0;require('http').createServer((q,s)=>{if(++n>3)return;s.end('ok')}).listen(p,'127.0.0.1')",
  });
  t.equal((await ws('generic', 'start', '--', process.execPath, path.join(tool.home, 'hang.cjs'))).code, 0);
  const first = state().serverPid;
  await waitFor(() => state().serverPid !== first && state().state === 'running', 20_000, 'the restart');
  t.match(readFileSync(path.join(tool.home, 'service.log'), 'utf8'), /failed 3 liveness checks in a row; restarting it/);
});

t.test('webservice logs shows ~/error.log; logs --access reviews ~/access.log without any address', async (t) => {
  const { ws, tool } = await setup(t, 'logger');
  writeFileSync(path.join(tool.home, 'error.log'), 'line one\nline two\nline three\n');
  const tail = await ws('logs', '-l', '2');
  t.equal(tail.stdout, 'line two\nline three\n');
  const lines = [
    '203.0.113.7 logger.example - [21/Nov/2026:10:05:00 +0000] "GET /logger/ HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
    '198.51.100.9 logger.example - [21/Nov/2026:10:45:00 +0000] "GET /logger/api?q=1 HTTP/1.1" 200 100 "https://ref.example/" "bot/1.0"',
    '2001:db8::1 logger.example - [21/Nov/2026:11:15:00 +0000] "GET /logger/missing HTTP/1.1" 404 0 "-" "Mozilla/5.0"',
    'garbage line',
  ];
  writeFileSync(path.join(tool.home, 'access.log'), `${lines.join('\n')}\n`);
  const review = await ws('logs', '--access');
  t.equal(review.code, 0, review.stderr);
  t.match(review.stdout, /^3 requests, 612 B, 2026-11-21T10:05:00\.000Z to 2026-11-21T11:15:00\.000Z/);
  t.match(review.stdout, /2026-11-21 10:00 {2}█+ 2\n {2}2026-11-21 11:00 {2}█+ 1\n/);
  t.match(review.stdout, /2xx {2}2\n {2}3xx {2}0\n {2}4xx {2}1/);
  t.match(review.stdout, /\s2 {2}Mozilla\/5\.0/);
  t.match(review.stdout, /\(1 lines not in combined format were skipped\)/);
  t.notMatch(review.stdout, /203\.0\.113|198\.51\.100|2001:db8/, 'no address is ever printed');
  const json = JSON.parse((await ws('logs', '--access', '--json', '--since', '2026-11-21T11:00:00Z')).stdout);
  t.equal(json.requests, 1);
  t.same(json.topPaths, [{ path: '/logger/missing', requests: 1 }]);
  const bad = await ws('logs', '--access', '--since', 'yesterday-ish');
  t.equal(bad.code, 2);
});

t.test('started by root for a tool with a unix account, supervisor and server run as the tool', { skip: process.getuid?.() === 0 ? false : 'needs root to create a unix user' }, async (t) => {
  const { chownSync, mkdirSync } = await import('node:fs');
  killProcessesOf(t);
  const { name, user, uid, home } = makeToolAccount(t, 'thw');
  const base = workDir(t);
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  writeFileSync(path.join(home, 'public_html', 'index.html'), 'as the tool');
  chownSync(path.join(home, 'public_html'), uid, uid);
  chownSync(path.join(home, 'public_html', 'index.html'), uid, uid);
  const redis = await startRedis(t);
  const registrar = await startRegistrar(t, redis.url, path.dirname(home));
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: path.join(base, 'runtime') };
  const start = await runBin(t, 'webservice', ['--tool', name, 'start'], { env });
  t.equal(start.code, 0, start.stderr);
  t.teardown(() => runBin(t, 'webservice', ['--tool', name, 'stop'], { env }));
  const state = JSON.parse(readFileSync(path.join(base, 'runtime', name, 'state.json'), 'utf8')) as { serverPid: number; supervisorPid: number; url: string };
  const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  t.equal(uidOf(state.serverPid), uid, 'lighttpd runs as the tool');
  t.equal(uidOf(state.supervisorPid), uid, 'the supervisor runs as the tool');
  t.equal(await (await fetch(`${state.url}/${name}/`)).text(), 'as the tool');
  const manifestOwner = (await import('node:fs')).statSync(path.join(home, 'service.manifest')).uid;
  t.equal(manifestOwner, uid, 'the manifest belongs to the tool, so the monitor trusts it');
  const environ = readFileSync(`/proc/${state.supervisorPid}/environ`, 'utf8').split('\0');
  t.notOk(environ.some((v) => v.startsWith('TOOLHOST_REDIS_URL=') || v.startsWith('TAP')), 'none of root\'s environment reaches the tool');
  t.ok(environ.includes(`HOME=${home}`) && environ.includes(`USER=${user}`), 'the tool\'s own HOME and USER');
  const stop = await runBin(t, 'webservice', ['--tool', name, 'stop'], { env });
  t.equal(stop.code, 0, stop.stderr);
});

t.test('webservice logs -f follows ~/error.log until interrupted', async (t) => {
  const { spawn } = await import('node:child_process');
  const { appendFileSync } = await import('node:fs');
  const { BIN, userEnv } = await import('../helpers/index.js');
  const tool = makeToolHome(t, 'follower', { 'error.log': 'old line\n' });
  const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, 'webservice'), '--tool', 'follower', '--home', tool.home, 'logs', '-f', '-l', '1'], { env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await waitFor(() => out === 'old line\n', 10_000, 'the last line');
  appendFileSync(path.join(tool.home, 'error.log'), 'new line\n');
  await waitFor(() => out.endsWith('new line\n'), 15_000, 'the new line');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  child.kill('SIGINT');
  t.equal(await exited, 0);
});

t.test('webservice stop does not wait for a start whose server never gets ready, and the start says it was stopped', async (t) => {
  const { ws, e, r, tool } = await setup(t, 'neverready');
  const homeOf = tool.home;
  // the server runs but never listens (sleep adds the port generic appends to its seconds): the start waits for it, a minute by default
  const argv = ['sleep', '599.37'];
  const starting = ws('generic', 'start', '--', ...argv);
  const server = (): number | null => {
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(argv.join('\0') + '\0') && isAlive(Number(pid))) return Number(pid);
      } catch {
        // gone meanwhile
      }
    }
    return null;
  };
  await waitFor(() => {
    try {
      return (JSON.parse(readFileSync(path.join(e.runtimeDir, 'state.json'), 'utf8')) as { state: string }).state === 'starting' && server() !== null;
    } catch {
      return false;
    }
  }, 15_000, 'the server to be starting');
  // runBin's own limit is well inside the server's readiness timeout: the stop must not wait for it
  const stop = await runBin(t, 'webservice', ['--tool', 'neverready', '--home', homeOf, 'stop'], { env: e.env, timeoutMs: 20_000 });
  t.equal(stop.code, 0, `stop: ${stop.stderr}`);
  const start = await starting;
  t.equal(start.code, 1, 'the start fails');
  t.match(start.stderr, /the webservice of neverready was stopped before its server was ready.*\[TH_ERR_WEBSERVICE_STOPPED_WHILE_STARTING\]/);
  t.equal(server(), null, 'the server that never got ready is gone');
  t.same(Object.keys(await r.hgetall('prefix:neverready')).filter((k) => k.startsWith('backend:')), [], 'no route');
});
