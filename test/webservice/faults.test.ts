// Routine faults, as an operator meets them (#11), with real redis-server, the real registrar,
// lighttpd under `webservice start`, the real proxy and monitor, and a request loop through the
// proxy counting every failure. The figures these print (t.comment) are in docs/reliability.md:
//   npx tap test/webservice/faults.test.ts
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { startProcess, tcpProbe, type ManagedProcess } from '../../src/supervisor/index.js';
import { BIN, freePort, isAlive, killProcessesOf, makeToolHome, redisClient, runBin, startProxy, startRegistrar, userEnv, waitFor, workDir } from '../helpers/index.js';
import { requestLoop } from '../helpers/webservice-tool.js';


/** a redis-server that can be killed and started again on the same port */
function restartableRedis(t: Test, aof: boolean) {
  const dir = path.join(workDir(t), 'redis');
  mkdirSync(dir, { recursive: true });
  let proc: ManagedProcess | null = null;
  let port = 0;
  const start = async (): Promise<void> => {
    port ||= await freePort();
    proc = await startProcess({
      diesWithParent: true,
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'always'],
      ready: () => tcpProbe('127.0.0.1', port, 200),
    });
  };
  t.teardown(() => proc?.stop(2000));
  return {
    start,
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    kill: async (): Promise<void> => {
      proc?.signal('SIGKILL');
      await proc?.exited;
    },
  };
}

/** Redis, the registrar, the proxy and a lighttpd tool started with `webservice start` */
async function stack(t: Test, options: { aof?: boolean; leaseSeconds?: number; name?: string } = {}) {
  killProcessesOf(t);
  const redis = restartableRedis(t, options.aof ?? false);
  await redis.start();
  const name = options.name ?? 'steady';
  const tool = makeToolHome(t, name, { 'public_html/index.html': `${name} page`, '.description': `The ${name} tool` });
  const homes = path.dirname(tool.home);
  const registrar = await startRegistrar(t, redis.url, homes, { leaseSeconds: options.leaseSeconds ?? 15 });
  const proxy = await startProxy(t, redis.url);
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: path.join(workDir(t), 'runtime') };
  const ws = (tool: string, home: string, ...args: string[]) => runBin(t, 'webservice', ['--tool', tool, '--home', home, ...args], { env });
  t.teardown(() => ws(name, tool.home, 'stop'));
  const started = await ws(name, tool.home, 'start');
  if (started.code !== 0) throw new Error(started.stderr);
  await waitFor(() => proxy.proxy.routeTable.get(name)?.backends.length === 1, 5000, 'routed');
  return { redis, registrar, proxy, tool, name, homes, env, ws };
}

t.test('Redis SIGKILLed and restarted empty: the tool keeps being served, and its registration is back within a second', async (t) => {
  const s = await stack(t, { aof: false });
  const loop = requestLoop(`${s.proxy.url}/${s.name}/`);
  await new Promise((r) => setTimeout(r, 300));
  await s.redis.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await s.redis.start();
  const back = Date.now();
  const r = await redisClient(t, s.redis.url);
  const ms = await waitFor(async () => Object.keys(await r.hgetall(`prefix:${s.name}`)).some((k) => k.startsWith('backend:')), 5000, 'the registration in Redis again');
  t.comment(`Redis restarted empty -> ${s.name} registered again ${ms} ms after Redis accepted connections`);
  t.ok(Date.now() - back < 2000, 'within 2 s (target: under 1 s)');
  await waitFor(() => s.proxy.proxy.routeTable.state === 'ready', 5000, 'the proxy reconnected');
  await new Promise((r) => setTimeout(r, 500));
  const result = await loop.stop();
  t.comment(`Redis restarted empty: ${result.failures.length} failed of ${result.ok + result.failures.length} requests`);
  t.same(result.failures, [], 'no request failed');
  t.equal(await r.hget(`prefix:${s.name}`, 'description'), `The ${s.name} tool`, 'the whole registration, description included');
});

t.test('Redis SIGKILLed and restarted with its data (AOF): zero failed requests', async (t) => {
  const s = await stack(t, { aof: true });
  const loop = requestLoop(`${s.proxy.url}/${s.name}/`);
  await new Promise((r) => setTimeout(r, 300));
  await s.redis.kill();
  await new Promise((r) => setTimeout(r, 1000));
  await s.redis.start();
  await waitFor(() => s.proxy.proxy.routeTable.state === 'ready', 5000, 'the proxy reconnected');
  await new Promise((r) => setTimeout(r, 500));
  const result = await loop.stop();
  t.comment(`Redis restarted with AOF: ${result.failures.length} failed of ${result.ok + result.failures.length} requests`);
  t.same(result.failures, []);
});

t.test('Redis down 30 s, twice the lease: zero failed requests; a tool started meanwhile is routed once Redis is back', async (t) => {
  const s = await stack(t, { leaseSeconds: 15 });
  const late = makeToolHome(t, 'latecomer', { 'public_html/index.html': 'late page' });
  const loop = requestLoop(`${s.proxy.url}/${s.name}/`);
  await s.redis.kill();
  const started = await s.ws('latecomer', late.home, 'start');
  t.equal(started.code, 0, `a webservice starts while Redis is down: ${started.stderr}`);
  t.match((await s.ws('latecomer', late.home, 'status')).stdout, /route {7}held by the registrar, waiting for Redis/);
  await new Promise((r) => setTimeout(r, 30_000));
  t.ok(s.proxy.proxy.routeTable.staleForMs() > 29_000, 'the proxy knows its table is stale');
  await s.redis.start();
  const back = Date.now();
  await waitFor(() => (s.proxy.proxy.routeTable.get('latecomer')?.backends.length ?? 0) === 1, 10_000, 'the new route');
  t.comment(`Redis back after 30 s: a webservice started during the outage routed ${Date.now() - back} ms later`);
  t.equal(await (await fetch(`${s.proxy.url}/latecomer/`)).text(), 'late page');
  await new Promise((r) => setTimeout(r, 500));
  const result = await loop.stop();
  t.comment(`Redis down 30 s: ${result.failures.length} failed of ${result.ok + result.failures.length} requests`);
  t.same(result.failures, []);
  await s.ws('latecomer', late.home, 'stop');
});

t.test('the proxy SIGKILLed and started again serves at once from a fresh load of the table', async (t) => {
  const s = await stack(t);
  const port = await freePort();
  const startProxyProcess = async (): Promise<{ proc: ManagedProcess; ms: number }> => {
    const began = Date.now();
    let stderr = '';
    const proc = await startProcess({
      diesWithParent: true,
      command: 'env',
      args: ['-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'proxy', '--listen', `127.0.0.1:${port}`, '--admin-listen', '127.0.0.1:0', '--redis', s.redis.url],
      env: userEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
      onStart: (c) => c.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d)),
      ready: async () => {
        const res = await fetch(`http://127.0.0.1:${port}/${s.name}/`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
        await res?.arrayBuffer().catch(() => {});
        return res?.status === 200;
      },
      timeoutMs: 20_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${stderr}`);
    });
    t.teardown(() => proc.stop(2000));
    return { proc, ms: Date.now() - began };
  };
  const first = await startProxyProcess();
  first.proc.signal('SIGKILL');
  await first.proc.exited;
  const killed = Date.now();
  // as a service manager does it: start again (systemd's RestartSec is 100 ms) until it runs
  let attempts = 0;
  let again: { proc: ManagedProcess; ms: number } | null = null;
  while (!again && attempts++ < 20) {
    again = await startProxyProcess().catch(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return null;
    });
  }
  t.ok(again, 'a new proxy runs');
  t.comment(`proxy SIGKILLed -> serving again ${Date.now() - killed} ms later (${attempts} start(s); the last took ${again?.ms} ms)`);
});

t.test('a supervisor SIGKILLed with the monitor running: zero failed requests', async (t) => {
  const s = await stack(t);
  const monitor = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'monitor', '--home-root', s.homes, '--interval', '1'], { env: userEnv(s.env), stdio: 'ignore' });
  t.teardown(() => {
    monitor.kill('SIGKILL');
  });
  const stateFile = path.join(workDir(t), 'runtime', s.name, 'state.json');
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as { supervisorPid: number; serverPid: number; state: string };
  const before = state();
  const loop = requestLoop(`${s.proxy.url}/${s.name}/`);
  process.kill(before.supervisorPid, 'SIGKILL');
  const killed = Date.now();
  await waitFor(() => {
    try {
      const now = state();
      return now.supervisorPid !== before.supervisorPid && now.state === 'running' && now.serverPid !== before.serverPid;
    } catch {
      return false;
    }
  }, 15_000, 'a new supervisor and server');
  t.comment(`supervisor SIGKILLed -> the monitor's new supervisor serving ${Date.now() - killed} ms later`);
  await waitFor(() => !isAlive(before.serverPid), 15_000, 'the old server stopped');
  const result = await loop.stop();
  t.comment(`supervisor SIGKILLed under the monitor: ${result.failures.length} failed of ${result.ok + result.failures.length} requests`);
  t.same(result.failures, []);
});
