// What the proxy benchmarks share: a work directory and the processes they pin to cores (all
// stopped at the end), wrk runs, and the same lighttpd backend and nginx set-ups.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { tcpProbe } from '../../../src/supervisor/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

export interface WrkResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

export const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const pct = (a: number, b: number): string => (Number.isFinite(a / b) ? `${((a / b) * 100).toFixed(0)} %` : 'n/a');

/** the environment for a Node child: without the loaders a parent's NODE_OPTIONS may carry */
export function nodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/**
 * wrk pinned to core 1, one thread, keep-alive; latencies in ms, socket errors and non-2xx
 * counted. timeout: when wrk gives up on a request and counts an error (its own default is 2s).
 */
export function wrk(url: string, connections: number, seconds = SECONDS, timeout = '10s'): WrkResult {
  const out = spawnSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', timeout, url], { encoding: 'utf8' }).stdout;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    errors: (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx,
  };
}

export async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await tcpProbe('127.0.0.1', port, 200)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

export class Bench {
  readonly work: string;
  readonly #children: { kill(signal?: NodeJS.Signals): unknown }[] = [];
  #stopping = false;

  constructor(name: string) {
    this.work = mkdtempSync(path.join(os.tmpdir(), `toolhost-bench-${name}-`));
  }

  /** cmd pinned to a core; its stderr is shown if it exits with an error before the end */
  pinned(core: number, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('taskset', ['-c', String(core), cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      if (code && !this.#stopping) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
    });
    this.#children.push(child);
    return child;
  }

  /** something else to stop at the end (a Redis server, say) */
  onStop(stop: () => void): void {
    this.#children.push({ kill: stop });
  }

  /** lighttpd on core 1 serving /bench/1k.bin and /bench/100k.bin, keep-alive; its port */
  async lighttpd(): Promise<number> {
    const docroot = path.join(this.work, 'www');
    mkdirSync(path.join(docroot, 'bench'), { recursive: true });
    writeFileSync(path.join(docroot, 'bench', '1k.bin'), Buffer.alloc(1024, 97));
    writeFileSync(path.join(docroot, 'bench', '100k.bin'), Buffer.alloc(100 * 1024, 98));
    const port = await getPort({ host: '127.0.0.1' });
    writeFileSync(
      path.join(this.work, 'lighttpd.conf'),
      `server.document-root = "${docroot}"\nserver.port = ${port}\nserver.bind = "127.0.0.1"\nserver.max-keep-alive-requests = 1000000\nserver.max-keep-alive-idle = 60\nserver.max-connections = 8192\nserver.max-fds = 16384\nserver.errorlog = "${this.work}/lighttpd-error.log"\n`,
    );
    this.pinned(1, '/usr/sbin/lighttpd', ['-D', '-f', path.join(this.work, 'lighttpd.conf')]);
    await waitPort(port);
    return port;
  }

  /**
   * nginx, 1 worker on core 0; `http` is what goes inside http { } besides the server, `location`
   * the body of location /. Its port.
   */
  async nginx(location: string, http = ''): Promise<number> {
    const port = await getPort({ host: '127.0.0.1' });
    const dir = path.join(this.work, 'nginx');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `worker_processes 1;\nworker_rlimit_nofile 20000;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 16000; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n${http}  server {\n    listen 127.0.0.1:${port} backlog=4096;\n    location / { ${location} }\n  }\n}\n`,
    );
    this.pinned(0, '/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    await waitPort(port);
    return port;
  }

  /** the toolhost proxy on core 0, limits off, routes from redisUrl (taskset execs it: same pid) */
  async toolhostProxy(redisUrl: string): Promise<{ port: number; child: ChildProcess }> {
    const port = await getPort({ host: '127.0.0.1' });
    const child = this.pinned(0, path.join(ROOT, 'bin', 'toolhost'), ['proxy', '--listen', `127.0.0.1:${port}`, '--admin-listen', 'none', '--redis', redisUrl, '--redis-wait', '30', '--rate-limit', '0', '--max-connections-per-ip', '0'], nodeEnv());
    await waitPort(port);
    return { port, child };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const c of this.#children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const c of this.#children) c.kill('SIGKILL');
    rmSync(this.work, { recursive: true, force: true });
  }

  /** run the benchmark's body, print its lines, stop everything, exit */
  run(body: () => Promise<string[]>): void {
    body()
      .then((lines) => process.stdout.write(`${lines.join('\n')}\n`))
      .catch((err: unknown) => {
        process.stderr.write(`${(err as Error).stack}\n`);
        process.exitCode = 1;
      })
      .finally(async () => {
        await this.stop();
        process.exit();
      });
  }
}
