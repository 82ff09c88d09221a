// webservice start -> first 200 through the proxy, and lighttpd SIGKILL -> serving again, each
// the median over BENCH_RUNS runs (default 7). Targets (issue #4): both under 1 s.
// Baseline in the same run: a bare `lighttpd -D` start to its first 200, without toolhost.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { ProxyServer } from '../../../src/proxy/index.js';
import { Registrar } from '../../../src/registrar/index.js';
import { startRedisServer } from '../../../src/supervisor/index.js';
import { parseRedisConnection } from '../../../src/routes/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-ws-'));

async function until200(url: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`${url} never answered 200`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const redis = await startRedisServer(path.join(work, 'redis'));
  const port = await getPort({ host: '127.0.0.1' });
  const proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port }, adminListen: null, redis: parseRedisConnection(redis.url), domain: null, pathRouting: true, tls: null, accessLog: null,
    responseTimeoutMs: 10_000, websocketIdleTimeoutMs: 60_000, resyncIntervalMs: 30_000, homeTitle: 'bench', templatesDir: path.join(ROOT, 'templates'), limits: { ratePerSecond: 0 },
  });
  await proxy.start(5000);
  const home = path.join(work, 'homes', 'bench');
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  writeFileSync(path.join(home, 'public_html', 'index.html'), 'bench');
  const sockets = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-reg-'));
  const registrar = new Registrar({ redis: parseRedisConnection(redis.url), socketDir: sockets, homeRoot: path.dirname(home), node: 'bench', address: '127.0.0.1', log: () => {} });
  await registrar.start();
  const env: NodeJS.ProcessEnv = { ...process.env, TOOLHOST_REGISTRAR_DIR: sockets, TOOLHOST_RUNTIME_DIR: path.join(work, 'run') };
  delete env.NODE_OPTIONS;
  const ws = (...args: string[]): void => void execFileSync(path.join(ROOT, 'bin', 'webservice'), ['--tool', 'bench', '--home', home, ...args], { env, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/bench/`;
  const starts: number[] = [];
  const recoveries: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      ws('start');
      await until200(url);
      starts.push(performance.now() - t0);
      const state = JSON.parse(readFileSync(path.join(work, 'run', 'bench', 'state.json'), 'utf8')) as { serverPid: number };
      const t1 = performance.now();
      process.kill(state.serverPid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 1));
      await until200(url);
      recoveries.push(performance.now() - t1);
      ws('stop');
    }
    // baseline: lighttpd alone, same document root, no toolhost
    const bare: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const p = await getPort({ host: '127.0.0.1' });
      writeFileSync(path.join(work, 'bare.conf'), `server.document-root = "${home}/public_html"\nserver.port = ${p}\nserver.bind = "127.0.0.1"\nindex-file.names = ("index.html")\n`);
      const t0 = performance.now();
      const child = spawn('/usr/sbin/lighttpd', ['-D', '-f', path.join(work, 'bare.conf')], { stdio: 'ignore' });
      await until200(`http://127.0.0.1:${p}/`);
      bare.push(performance.now() - t0);
      child.kill('SIGKILL');
    }
    const ok = (ms: number): string => (ms < 1000 ? 'met' : 'MISSED');
    process.stdout.write(
      [
        `| what (median of ${RUNS}) | time | target < 1 s |`,
        '| --- | --- | --- |',
        `| webservice start -> first 200 through the proxy | ${median(starts).toFixed(0)} ms | ${ok(median(starts))} |`,
        `| lighttpd SIGKILL -> first 200 again through the proxy | ${median(recoveries).toFixed(0)} ms | ${ok(median(recoveries))} |`,
        `| baseline: bare lighttpd -D start -> first 200 | ${median(bare).toFixed(0)} ms | |`,
        '',
        `webservice start costs ${(median(starts) / median(bare)).toFixed(1)}× a bare lighttpd start (two Node processes start: the CLI and the supervisor).`,
      ].join('\n') + '\n',
    );
  } finally {
    try {
      ws('stop');
    } catch {
      // already stopped
    }
    await registrar.close();
    await proxy.close(1000);
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(sockets, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
