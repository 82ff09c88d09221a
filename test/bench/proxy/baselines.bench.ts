// The measurements behind two choices, side by side in one run against the same lighttpd:
//  - the forwarder: a bare node:http + keep-alive Agent proxy (what http-proxy does) vs a bare
//    undici Pool proxy, the toolhost proxy beside them;
//  - the 512-connection tail: a bare node:http hello-world and a raw net server answering fixed
//    bytes, vs nginx (1 worker), with no proxying at all.
// Each server runs pinned to core 0 as its own process; wrk and lighttpd are pinned to core 1.
// Knob: BENCH_SECONDS (default 5).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { RouteStore } from '../../../src/routes/index.js';
import { startRedisServer } from '../../../src/supervisor/index.js';
import { Bench, fmt, nodeEnv, ROOT, SECONDS, waitPort, wrk } from './harness.js';

const bench = new Bench('base');

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

/** a Node script of this benchmark, run pinned to core 0 with its port (and the upstream's) */
async function nodeServer(name: string, source: string, upstream?: number): Promise<number> {
  const file = path.join(bench.work, `${name}.mjs`);
  writeFileSync(file, source);
  const port = await getPort({ host: '127.0.0.1' });
  bench.pinned(0, process.execPath, ['--max-semi-space-size=32', file, String(port), ...(upstream ? [String(upstream)] : [])], nodeEnv());
  await waitPort(port);
  return port;
}

async function main(): Promise<string[]> {
  const lport = await bench.lighttpd();
  const nport = await bench.nginx('return 200 "hello";');
  const redisServer = await startRedisServer(path.join(bench.work, 'redis'));
  bench.onStop(() => void redisServer.stop());
  const redis = new Redis(redisServer.url);
  await new RouteStore(redis).setDefault('bench', `http://127.0.0.1:${lport}`);
  redis.disconnect();
  const tport = (await bench.toolhostProxy(redisServer.url)).port;

  const forwarders: [string, number][] = [
    ['bare node:http + Agent (http-proxy\'s way)', await nodeServer('bare-node-http', BARE_NODE_HTTP, lport)],
    ['bare undici Pool', await nodeServer('bare-undici', BARE_UNDICI, lport)],
    ['toolhost proxy', tport],
  ];
  const lines = ['### Forwarder prototypes (1 process each, keep-alive, 32 connections)', '', '| forwarder | 1 KB req/s | 100 KB req/s | 1 KB p99 |', '| --- | --- | --- | --- |'];
  for (const [name, port] of forwarders) {
    wrk(`http://127.0.0.1:${port}/bench/1k.bin`, 32, 1, '2s');
    const small = wrk(`http://127.0.0.1:${port}/bench/1k.bin`, 32, SECONDS, '2s');
    const large = wrk(`http://127.0.0.1:${port}/bench/100k.bin`, 32, SECONDS, '2s');
    lines.push(`| ${name} | ${fmt(small.rps)} | ${fmt(large.rps)} | ${fmt(small.p99, 2)} ms |`);
  }

  const servers: [string, number][] = [
    ['nginx (1 worker), fixed answer', nport],
    ['bare node:http hello-world', await nodeServer('hello-http', HELLO_HTTP)],
    ['raw node:net, fixed bytes', await nodeServer('hello-net', HELLO_NET)],
  ];
  lines.push('', '### 512 connections without any proxying', '', '| server | req/s | p99 | wrk errors |', '| --- | --- | --- | --- |');
  for (const [name, port] of servers) {
    // wrk's default 2 s timeout, so a stalled accept queue shows as errors
    wrk(`http://127.0.0.1:${port}/`, 512, 1, '2s');
    const r = wrk(`http://127.0.0.1:${port}/`, 512, SECONDS, '2s');
    lines.push(`| ${name} | ${fmt(r.rps)} | ${fmt(r.p99, 2)} ms | ${r.errors} |`);
  }
  return lines;
}

bench.run(main);
