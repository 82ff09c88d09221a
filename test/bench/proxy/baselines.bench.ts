// The measurements behind two choices, side by side in one run against the same lighttpd:
//  - the forwarder: a bare node:http + keep-alive Agent proxy (what http-proxy does) vs a bare
//    undici Pool proxy, the toolhost proxy beside them;
//  - the 512-connection tail: a bare node:http hello-world and a raw net server answering fixed
//    bytes, vs nginx (1 worker), with no proxying at all.
// Each server runs pinned to core 0 as its own process; wrk and lighttpd are pinned to core 1.
// Knob: BENCH_SECONDS (default 5).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { RouteStore } from '../../../src/routes/index.js';
import { startRedisServer, tcpProbe } from '../../../src/supervisor/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-base-'));
const children: ChildProcess[] = [];

const BARE_NODE_HTTP = `
import http from 'node:http';
const [port, upstream] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
http.createServer((req, res) => {
  const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers, agent }, (ures) => {
    res.writeHead(ures.statusCode, ures.headers);
    ures.pipe(res);
  });
  up.on('error', () => { res.statusCode = 502; res.end(); });
  req.pipe(up);
}).listen({ port, host: '127.0.0.1', backlog: 4096 });
`;

const BARE_UNDICI = `
import http from 'node:http';
import { Pool } from ${JSON.stringify(path.join(ROOT, 'node_modules', 'undici', 'index.js'))};
const [port, upstream] = process.argv.slice(2).map(Number);
const pool = new Pool('http://127.0.0.1:' + upstream, { connections: 512, pipelining: 1, keepAliveTimeout: 4000 });
http.createServer((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: req.headers, body: null }, {
    onRequestStart() {},
    onResponseStart(c, status, headers) { res.writeHead(status, headers); },
    onResponseData(c, chunk) { if (!res.write(chunk)) { c.pause(); res.once('drain', () => c.resume()); } },
    onResponseEnd() { res.end(); },
    onResponseError() { if (!res.headersSent) res.statusCode = 502; res.end(); },
  });
}).listen({ port, host: '127.0.0.1', backlog: 4096 });
`;

const HELLO_HTTP = `
import http from 'node:http';
http.createServer((req, res) => res.end('hello')).listen({ port: Number(process.argv[2]), host: '127.0.0.1', backlog: 4096 });
`;

const HELLO_NET = `
import net from 'node:net';
const reply = Buffer.from('HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nConnection: keep-alive\\r\\n\\r\\nhello');
net.createServer((s) => { s.on('data', () => s.write(reply)); s.on('error', () => {}); }).listen({ port: Number(process.argv[2]), host: '127.0.0.1', backlog: 4096 });
`;

function pinned(core: number, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn('taskset', ['-c', String(core), cmd, ...args], { env, stdio: 'ignore' });
  children.push(child);
  return child;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await tcpProbe('127.0.0.1', port, 200)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Wrk {
  readonly rps: number;
  readonly p99: string;
  readonly errors: number;
}

function wrk(url: string, connections: number, seconds = SECONDS): Wrk {
  const out = spawnSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' }).stdout;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? 'n/a',
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** a Node script of this benchmark, run pinned to core 0 with its port (and the upstream's) */
async function nodeServer(name: string, source: string, upstream?: number): Promise<number> {
  const file = path.join(work, `${name}.mjs`);
  writeFileSync(file, source);
  const port = await getPort({ host: '127.0.0.1' });
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  pinned(0, process.execPath, ['--max-semi-space-size=32', file, String(port), ...(upstream ? [String(upstream)] : [])], env);
  await waitPort(port);
  return port;
}

async function main(): Promise<void> {
  const docroot = path.join(work, 'www');
  mkdirSync(path.join(docroot, 'bench'), { recursive: true });
  writeFileSync(path.join(docroot, 'bench', '1k.bin'), Buffer.alloc(1024, 97));
  writeFileSync(path.join(docroot, 'bench', '100k.bin'), Buffer.alloc(100 * 1024, 98));
  const lport = await getPort({ host: '127.0.0.1' });
  writeFileSync(
    path.join(work, 'lighttpd.conf'),
    `server.document-root = "${docroot}"\nserver.port = ${lport}\nserver.bind = "127.0.0.1"\nserver.max-keep-alive-requests = 1000000\nserver.max-connections = 8192\nserver.max-fds = 16384\nserver.errorlog = "${work}/lighttpd-error.log"\n`,
  );
  pinned(1, '/usr/sbin/lighttpd', ['-D', '-f', path.join(work, 'lighttpd.conf')]);
  await waitPort(lport);

  const nport = await getPort({ host: '127.0.0.1' });
  const nginxDir = path.join(work, 'nginx');
  mkdirSync(nginxDir);
  writeFileSync(
    path.join(nginxDir, 'nginx.conf'),
    `worker_processes 1;\nworker_rlimit_nofile 20000;\ndaemon off;\npid ${nginxDir}/nginx.pid;\nerror_log ${nginxDir}/error.log warn;\nevents { worker_connections 16000; }\nhttp {\n  access_log off;\n  client_body_temp_path ${nginxDir}/body; proxy_temp_path ${nginxDir}/proxy; fastcgi_temp_path ${nginxDir}/fcgi; uwsgi_temp_path ${nginxDir}/uwsgi; scgi_temp_path ${nginxDir}/scgi;\n  server {\n    listen 127.0.0.1:${nport} backlog=4096;\n    location / { return 200 "hello"; }\n  }\n}\n`,
  );
  pinned(0, '/usr/sbin/nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf')]);
  await waitPort(nport);

  const redisServer = await startRedisServer(path.join(work, 'redis'));
  children.push({ kill: () => void redisServer.stop() } as unknown as ChildProcess);
  const redis = new Redis(redisServer.url);
  await new RouteStore(redis).setDefault('bench', `http://127.0.0.1:${lport}`);
  redis.disconnect();
  const tport = await getPort({ host: '127.0.0.1' });
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  pinned(0, path.join(ROOT, 'bin', 'toolhost'), ['proxy', '--listen', `127.0.0.1:${tport}`, '--admin-listen', 'none', '--redis', redisServer.url, '--rate-limit', '0', '--max-connections-per-ip', '0'], env);
  await waitPort(tport);

  const forwarders: [string, number][] = [
    ['bare node:http + Agent (http-proxy\'s way)', await nodeServer('bare-node-http', BARE_NODE_HTTP, lport)],
    ['bare undici Pool', await nodeServer('bare-undici', BARE_UNDICI, lport)],
    ['toolhost proxy', tport],
  ];
  const lines = ['### Forwarder prototypes (1 process each, keep-alive, 32 connections)', '', '| forwarder | 1 KB req/s | 100 KB req/s | 1 KB p99 |', '| --- | --- | --- | --- |'];
  for (const [name, port] of forwarders) {
    wrk(`http://127.0.0.1:${port}/bench/1k.bin`, 32, 1);
    const small = wrk(`http://127.0.0.1:${port}/bench/1k.bin`, 32);
    const large = wrk(`http://127.0.0.1:${port}/bench/100k.bin`, 32);
    lines.push(`| ${name} | ${small.rps.toFixed(0)} | ${large.rps.toFixed(0)} | ${small.p99} |`);
  }

  const servers: [string, number][] = [
    ['nginx (1 worker), fixed answer', nport],
    ['bare node:http hello-world', await nodeServer('hello-http', HELLO_HTTP)],
    ['raw node:net, fixed bytes', await nodeServer('hello-net', HELLO_NET)],
  ];
  lines.push('', '### 512 connections without any proxying', '', '| server | req/s | p99 | wrk errors |', '| --- | --- | --- | --- |');
  for (const [name, port] of servers) {
    wrk(`http://127.0.0.1:${port}/`, 512, 1);
    const r = wrk(`http://127.0.0.1:${port}/`, 512);
    lines.push(`| ${name} | ${r.rps.toFixed(0)} | ${r.p99} | ${r.errors} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const c of children) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    process.exit();
  });
