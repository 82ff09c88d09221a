// The test harness: real redis-server, real lighttpd, the real executables. Everything a
// helper starts is stopped by t.teardown on the line after it starts, even when a test fails.
import { execFileSync, spawn, spawnSync, type ChildProcessByStdio, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import rootTap, { type Test } from 'tap';
import { CgroupTree, detectCgroups } from '../../src/limits/index.js';
import { findLighttpd } from '../../src/lighttpd/index.js';
import { httpProbe, startProcess, startRedisServer, tcpProbe, type ManagedProcess, type RedisServer } from '../../src/supervisor/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin');

export function lighttpdBinary(): string {
  const b = findLighttpd();
  if (!b) throw new Error('lighttpd is not installed: run bin/setup (apt-get install lighttpd)');
  return b;
}

/** when this test process started: a test directory untouched since is a killed run's */
const STARTED = Date.now() - process.uptime() * 1000;

/** the test directories made by workDir in this process */
const made = new Set<string>();

/**
 * The test's own directory, made once per test (afresh when what is there is a killed run's:
 * a tool home found there would hold that run's files). It is removed when the whole file ends,
 * with retries, not at the test's own end: tap's fixture removal there met a process the test
 * started still writing (ENOTEMPTY), failed the test, and the file then hung to its timeout.
 */
export function workDir(t: Test): string {
  const dir = t.testdirName;
  if (made.has(dir)) return dir;
  made.add(dir);
  let stale = false;
  try {
    stale = statSync(dir).ctimeMs < STARTED;
  } catch {
    // not there yet
  }
  if (stale) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // every test's teardowns have run by then; a process that still writes there is retried past
  rootTap.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

export async function startRedis(t: Test): Promise<RedisServer> {
  const server = await startRedisServer(path.join(workDir(t), 'redis'));
  t.teardown(() => server.stop());
  return server;
}

export interface GuideRedis {
  readonly port: number;
  /** the administrator's URL (the user the guide tells operators to add) */
  readonly adminUrl: string;
  /** an anonymous client's URL */
  readonly url: string;
  readonly dir: string;
  readonly process: ManagedProcess;
}

/**
 * Redis started from the operator guide's own files (conf/redis/redis.conf and users.acl),
 * with only the port and paths changed, and the administrator added as the guide says.
 */
export async function startRedisFromGuide(t: Test, name = 'redis', on: { address: string; run: readonly string[] } | null = null): Promise<GuideRedis> {
  const host = on?.address ?? '127.0.0.1';
  const dir = path.join(workDir(t), name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const password = Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const acl = path.join(dir, 'users.acl');
  writeFileSync(acl, `${readFileSync(path.join(ROOT, 'conf', 'redis', 'users.acl'), 'utf8')}user toolhost-admin on >${password} ~* &* +@all\n`);
  const conf = readFileSync(path.join(ROOT, 'conf', 'redis', 'redis.conf'), 'utf8')
    .replace(/^port .*$/m, `port ${port}`)
    .replace(/^bind .*$/m, `bind ${host}`)
    .replace(/^dir .*$/m, `dir ${dir}`)
    .replace(/^logfile .*$/m, `logfile ${path.join(dir, 'redis.log')}`)
    .replace(/^aclfile .*$/m, `aclfile ${acl}`);
  writeFileSync(path.join(dir, 'redis.conf'), conf);
  // on another host (a network namespace of test/helpers/hosts.ts): run through its prefix
  const [command = 'redis-server', ...prefix] = [...(on?.run ?? []), 'redis-server'];
  const proc = await startProcess({ command, args: [...prefix, path.join(dir, 'redis.conf')], cwd: dir, ready: () => tcpProbe(host, port, 200), diesWithParent: true });
  t.teardown(() => proc.stop(2000));
  return { port, adminUrl: `redis://toolhost-admin:${password}@${host}:${port}`, url: `redis://${host}:${port}`, dir, process: proc };
}

/** lighttpd -D -f FILE, ready once http://127.0.0.1:PORT/ answers */
export async function startLighttpd(t: Test, configFile: string, port: number, env?: NodeJS.ProcessEnv): Promise<ManagedProcess> {
  const proc = await startProcess({
    command: lighttpdBinary(),
    args: ['-D', '-f', configFile],
    env: env ?? process.env,
    ready: () => httpProbe(`http://127.0.0.1:${port}/`, 500),
    stdio: ['ignore', 'ignore', 'pipe'],
    diesWithParent: true,
  });
  t.teardown(() => proc.stop(2000));
  return proc;
}

export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
}

export interface ToolHome {
  readonly name: string;
  readonly home: string;
  readonly runtimeDir: string;
}

/** a tool home in the test's own directory, with public_html/ and the given files */
export function makeToolHome(t: Test, name: string, files: Record<string, string> = {}): ToolHome {
  const base = workDir(t);
  const home = path.join(base, 'homes', name);
  const runtimeDir = path.join(base, 'run', name);
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  mkdirSync(runtimeDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(home, file)), { recursive: true });
    writeFileSync(path.join(home, file), text);
  }
  return { name, home, runtimeDir };
}

export interface ToolAccount {
  readonly name: string;
  /** the unix user: tools.NAME */
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/**
 * A real tool account (root only): user tools.NAME with its own group, its home under the
 * test's directory (made traversable), removed with every process it runs at the test's end
 */
export function makeToolAccount(t: Test, prefix: string): ToolAccount {
  const name = `${prefix}${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(0, 20);
  const user = `tools.${name}`;
  const base = workDir(t);
  chmodSync(base, 0o755);
  const home = path.join(base, 'accounts', name);
  mkdirSync(path.dirname(home), { recursive: true, mode: 0o755 });
  execFileSync('useradd', ['--system', '--user-group', '--home-dir', home, '--create-home', '--shell', '/bin/sh', user]);
  t.teardown(() => {
    spawnSync('pkill', ['-KILL', '-u', user]);
    // a process SIGKILLed is not yet gone: userdel refuses a user that still runs one
    for (let i = 0; i < 100 && spawnSync('pgrep', ['-u', user]).status === 0; i++) spawnSync('sleep', ['0.05']);
    execFileSync('userdel', [user]);
  });
  const id = (flag: string): number => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  return { name, user, uid: id('-u'), gid: id('-g'), home };
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** the environment a user's shell has: without the loaders tap puts into NODE_OPTIONS */
export function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAP')) delete env[k];
  return env;
}

export interface RunningRegistrar {
  /** its socket directory: TOOLHOST_REGISTRAR_DIR for webservice, portgrabber, supervisors */
  readonly dir: string;
  readonly node: string;
  readonly process: ManagedProcess;
  /** its directory in the cgroup hierarchies */
  readonly cgroupRoot: string;
  /** what it logged so far */
  log(): string;
}

/**
 * The real `toolhost registrar` for the tool homes under homeRoot, writing to Redis at
 * redisUrl. Its sockets live in a short directory under /tmp (a unix socket path has at most
 * 107 bytes; test directories are longer), removed at teardown.
 */
export async function startRegistrar(
  t: Test,
  redisUrl: string,
  homeRoot: string,
  options: { leaseSeconds?: number; node?: string; address?: string; stateDir?: string; run?: readonly string[]; socketDir?: string } = {},
): Promise<RunningRegistrar> {
  // `socketDir`: a directory of the caller's (Slurm's nodes find theirs by a pattern of node names)
  const dir = options.socketDir ?? mkdtempSync('/tmp/threg-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // a cgroup tree of its own (as root), so tests running side by side never see each other's units
  const cgroupRoot = `th-test-${path.basename(dir).slice(6)}`;
  t.teardown(async () => {
    const mounts = detectCgroups();
    if (mounts && process.getuid?.() === 0) await new CgroupTree(mounts, cgroupRoot).removeAll();
  });
  mkdirSync(homeRoot, { recursive: true });
  const node = options.node ?? `node-${path.basename(dir).slice(6)}`;
  let log = '';
  // `run`: on another host (a network namespace of test/helpers/hosts.ts), through its prefix
  const [command = 'env', ...prefix] = [...(options.run ?? []), 'env'];
  const proc = await startProcess({
    diesWithParent: true,
    command,
    args: [
      ...prefix,
      '-u',
      'NODE_OPTIONS',
      path.join(BIN, 'toolhost'),
      'registrar',
      '--home-root',
      homeRoot,
      '--socket-dir',
      dir,
      '--node',
      node,
      '--address',
      options.address ?? '127.0.0.1',
      '--lease',
      String(options.leaseSeconds ?? 15),
      '--scan-interval',
      '0.1',
      '--cgroup-root',
      cgroupRoot,
      '--state-dir',
      options.stateDir ?? path.join(dir, 'state'),
    ],
    // the URL may carry the registrar user's password: never on a command line
    env: userEnv({ TOOLHOST_REDIS_URL: redisUrl }),
    stdio: ['ignore', 'ignore', 'pipe'],
    ready: async () => log.includes(' serving '),
    onStart: (child) => child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d)),
    timeoutMs: 20_000,
  });
  t.teardown(() => proc.stop(5000));
  return { dir, node, process: proc, log: () => log, cgroupRoot };
}

/** one of bin/ as a user runs it */
export function runBin(
  t: Test,
  command: 'toolhost' | 'webservice' | 'portgrabber',
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<RunResult> {
  // the executable itself, through its #! line, as a user runs it; tap's process tracking
  // re-adds its loaders to NODE_OPTIONS of every child, so `env -u` takes them out again
  const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, command), ...args], {
    env: userEnv(options.env),
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  return outputOf(t, child, options.timeoutMs);
}

/** what a command run by a test printed and how it ended; killed at timeoutMs and at the test's end */
export function outputOf(t: Test, child: ChildProcessWithoutNullStreams | ChildProcessByStdio<null, Readable, Readable>, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const kill = (): void => void child.kill('SIGKILL');
    t.teardown(kill);
    const timer = setTimeout(kill, timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface EchoBackend {
  readonly port: number;
  readonly url: string;
  readonly server: import('node:http').Server;
  /** requests seen, newest last */
  readonly seen: { method: string; url: string; headers: import('node:http').IncomingHttpHeaders }[];
}

/**
 * A real HTTP backend that answers with JSON describing the request it got (method, url,
 * headers, body length), so a test can assert what a tool sees. `handler` may take over.
 */
export async function startEchoBackend(
  t: Test,
  name: string,
  handler?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | void,
): Promise<EchoBackend> {
  const http = await import('node:http');
  const seen: EchoBackend['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handler && handler(req, res) === true) return;
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { port, url: `http://127.0.0.1:${port}`, server, seen };
}

export interface RunningProxy {
  readonly proxy: import('../../src/proxy/index.js').ProxyServer;
  readonly url: string;
  readonly port: number;
  readonly adminUrl: string;
}

/** the real proxy, in this process, on free ports */
export async function startProxy(
  t: Test,
  redisUrl: string,
  overrides: Partial<import('../../src/proxy/index.js').ProxyOptions> = {},
): Promise<RunningProxy> {
  const { ProxyServer } = await import('../../src/proxy/index.js');
  const { parseRedisConnection } = await import('../../src/routes/index.js');
  const proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    redis: parseRedisConnection(redisUrl),
    domain: null,
    pathRouting: true,
    tls: null,
    accessLog: null,
    responseTimeoutMs: 5000,
    websocketIdleTimeoutMs: 60_000,
    resyncIntervalMs: 30_000,
    homeTitle: 'Tools',
    templatesDir: path.join(ROOT, 'templates'),
    // one accepting handle: forking the helper for more costs each test a Node start; the
    // listen-handles test sets its own
    acceptHandles: 1,
    ...overrides,
    // tests send many requests from one address; the limit tests set their own
    limits: { ratePerSecond: 0, maxConnectionsPerIp: 0, ...overrides.limits },
  });
  t.teardown(() => proxy.close(2000));
  await proxy.start(5000);
  const a = proxy.addresses();
  return { proxy, url: `http://127.0.0.1:${a.http.port}`, port: a.http.port, adminUrl: `http://127.0.0.1:${a.admin?.port}` };
}

/** Redis, a client on it, and the proxy; route(tool, url) writes a route and waits until it is live */
export async function startProxyWithRoutes(t: Test, overrides: Partial<import('../../src/proxy/index.js').ProxyOptions> = {}) {
  const { routeKey } = await import('../../src/routes/index.js');
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, overrides);
  const route = async (tool: string, url: string): Promise<void> => {
    await r.hset(routeKey(tool), '.*', url);
    await waitFor(() => proxy.proxy.routeTable.get(tool)?.backends[0]?.url === url, 3000, `route ${tool}`);
  };
  return { redis, r, proxy, route };
}

/** resolves when nothing accepts connections on the port any more */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

/** whether PID is a live process (a zombie waiting for its parent is not) */
export function isAlive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** poll until check() is true (no fixed sleeps); fails the test after timeoutMs */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** a Redis client for the test, closed at teardown */
export async function redisClient(t: Test, url: string): Promise<import('ioredis').Redis> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  await r.connect();
  t.teardown(() => r.disconnect());
  return r;
}

/**
 * Kill every process whose command line names this test's directory (supervisors, servers,
 * their children): the safety net for detached processes a failed test may leave behind.
 */
export function killProcessesOf(t: Test): void {
  const dir = workDir(t);
  t.teardown(async () => {
    const { spawnSync } = await import('node:child_process');
    spawnSync('pkill', ['-KILL', '-f', dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')]);
  });
}

/** a log's generations, oldest first: FILE.N … FILE.1, then FILE (the rotation's naming, read independently of src/logs) */
export function generations(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const older = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}.`) && /^\d+$/.test(f.slice(base.length + 1)))
    .sort((a, b) => Number(b.slice(base.length + 1)) - Number(a.slice(base.length + 1)));
  return [...older, base].map((f) => path.join(dir, f));
}
