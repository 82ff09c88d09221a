// One admission policy on every path (#10): each policy case is sent through the fast lane, through
// Node's server (the same request with Expect: 100-continue, which the fast lane hands over) and
// as a websocket upgrade, and must get the same answer on all three, be logged and be counted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { WebSocketServer } from 'ws';
import { directoryKey, routeKey } from '../../src/routes/index.js';
import { redisClient, startProxy, startRedis, waitFor, workDir } from '../helpers/index.js';

type Path = 'fast lane' | 'Node lane' | 'upgrade';
const PATHS: readonly Path[] = ['fast lane', 'Node lane', 'upgrade'];

interface Answer {
  /** the final status, or 0 when the connection closed without one */
  readonly status: number;
  readonly error: string | null;
  readonly location: string | null;
  readonly retryAfter: string | null;
}

/** a backend that serves plain HTTP and websockets */
async function wsBackend(t: Test): Promise<string> {
  const server = http.createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

let nextAddress = 1;
/** a loopback address of its own for each request, so each starts with a full rate bucket */
function freshAddress(): string {
  const n = nextAddress++;
  return `127.10.${n >> 8}.${n & 255}`;
}

function send(port: number, from: string, text: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    let got = '';
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('connect', () => s.write(text));
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // a 101 keeps the connection open: the answer is complete with its head
      if (/^HTTP\/1\.1 101 /.test(got) && got.includes('\r\n\r\n')) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function finalAnswer(raw: string): Answer {
  // interim answers (100 Continue) come first
  const heads = raw.split(/(?=HTTP\/1\.1 \d{3} )/).filter((h) => !/^HTTP\/1\.1 1(?!01)\d\d /.test(h));
  const head = (heads[0] ?? '').split('\r\n\r\n')[0] ?? '';
  const header = (name: string): string | null => new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i').exec(head)?.[1] ?? null;
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), error: header('x-toolhost-error'), location: header('location'), retryAfter: header('retry-after') };
}

function request(pathName: Path, line: string, headers: string[]): string {
  const extra =
    pathName === 'Node lane'
      ? ['Expect: 100-continue']
      : pathName === 'upgrade'
        ? ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']
        : [];
  const close = pathName === 'upgrade' ? [] : ['Connection: close'];
  return `${line}\r\n${[...headers, ...extra, ...close].join('\r\n')}\r\n\r\n`;
}

interface PolicyCase {
  readonly name: string;
  readonly line: string;
  readonly headers?: string[];
  readonly body?: string;
  /** requests sent first from the same address (on the fast lane) */
  readonly before?: number;
  /** idle connections opened first from the same address */
  readonly holdConnections?: number;
  readonly want: Answer | ((p: Path) => Answer);
}

const ok = (status: number, extra: Partial<Answer> = {}): Answer => ({ status, error: null, location: null, retryAfter: null, ...extra });
const err = (status: number, error: string, extra: Partial<Answer> = {}): Answer => ({ status, error, location: null, retryAfter: null, ...extra });
const UA = 'User-Agent: table/1';

const CASES: readonly PolicyCase[] = [
  { name: 'a live tool is forwarded', line: 'GET /live/ HTTP/1.1', want: (p) => ok(p === 'upgrade' ? 101 : 200) },
  { name: 'an unknown tool', line: 'GET /nosuch/ HTTP/1.1', want: err(404, 'TH_ERR_PROXY_TOOL_UNKNOWN') },
  { name: 'a tool without a live backend', line: 'GET /down/ HTTP/1.1', want: err(503, 'TH_ERR_PROXY_TOOL_DOWN') },
  { name: 'a tool in the tool directory without a route (#14)', line: 'GET /idle/ HTTP/1.1', want: err(503, 'TH_ERR_PROXY_TOOL_DOWN') },
  { name: 'a tool with only unusable backend entries', line: 'GET /bad/ HTTP/1.1', want: err(502, 'TH_ERR_PROXY_BACKEND_FAILED') },
  { name: 'a tool named without its slash', line: 'GET /live?x=1 HTTP/1.1', want: ok(301, { location: '/live/?x=1' }) },
  { name: 'the home page', line: 'GET / HTTP/1.1', want: ok(200) },
  { name: 'the health check', line: 'GET /.well-known/healthz HTTP/1.1', before: 3, want: ok(200) },
  { name: 'an address over its rate', line: 'GET /live/ HTTP/1.1', before: 2, want: err(429, 'TH_ERR_PROXY_RATE_LIMITED', { retryAfter: '1' }) },
  { name: 'no User-Agent under --empty-user-agent deny', line: 'GET /live/ HTTP/1.1', headers: [], want: err(403, 'TH_ERR_PROXY_NO_USER_AGENT') },
  { name: 'TRACE', line: 'TRACE /live/ HTTP/1.1', want: err(405, 'TH_ERR_PROXY_METHOD_NOT_ALLOWED') },
  { name: 'a body over the limit', line: 'POST /live/ HTTP/1.1', headers: [UA, 'Content-Length: 2000'], want: err(413, 'TH_ERR_PROXY_BODY_TOO_LARGE') },
  { name: 'an address over its connection cap', line: 'GET /live/ HTTP/1.1', holdConnections: 2, want: { status: 0, error: null, location: null, retryAfter: null } },
];

t.test('every policy case gets the same answer on the fast lane, the Node lane and an upgrade (#10)', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const accessLog = path.join(workDir(t), 'access.log');
  const proxy = await startProxy(t, redis.url, {
    accessLog: { file: accessLog },
    limits: { ratePerSecond: 0.01, burst: 2, maxConnectionsPerIp: 2, emptyUserAgent: 'deny', maxBodyBytes: 1024 },
  });
  const live = await wsBackend(t);
  await r.hset(routeKey('live'), '.*', live);
  await r.hset(routeKey('down'), 'backend:a', 'http://127.0.0.1:9', 'lease:a', String(Date.now() - 1000));
  await r.hset(routeKey('bad'), '.*', 'http://10.1.2.3:8080');
  await r.hset(directoryKey('idle'), 'maintainers', 'alice');
  await r.publish(routeKey('live'), 'x');
  await waitFor(() => ['live', 'down', 'bad'].every((tool) => proxy.proxy.routeTable.get(tool) !== undefined) && proxy.proxy.routeTable.tool('idle') !== undefined, 5000, 'the routes');

  const held: net.Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (const c of CASES) {
    for (const p of PATHS) {
      const from = freshAddress();
      for (let i = 0; i < (c.before ?? 0); i++) await send(proxy.port, from, request('fast lane', 'GET /live/ HTTP/1.1', [`Host: h`, UA]));
      for (let i = 0; i < (c.holdConnections ?? 0); i++) {
        const s = net.connect({ host: '127.0.0.1', port: proxy.port, localAddress: from });
        s.on('error', () => {});
        held.push(s);
        await new Promise((resolve) => s.once('connect', resolve));
      }
      const headers = ['Host: h', ...(c.headers ?? [UA])];
      const got = finalAnswer(await send(proxy.port, from, request(p, c.line, headers)));
      t.same(got, typeof c.want === 'function' ? c.want(p) : c.want, `${c.name}: ${p}`);
    }
  }

  // every admitted request of every path is in the access log and the metrics
  await waitFor(() => readFileSync(accessLog, 'utf8').split('"GET /nosuch/ HTTP/1.1" 404').length - 1 === 3, 3000, 'three 404 lines');
  const log = readFileSync(accessLog, 'utf8');
  t.match(log, /"GET \/live\/ HTTP\/1\.1" 101 0 "-" "table\/1" tool=live /, 'the upgrade is logged');
  t.equal(log.split('"TRACE /live/ HTTP/1.1" 405').length - 1, 3, 'TRACE refused and logged on each path');
  const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  t.match(metrics, /toolhost_proxy_requests_total\{tool="live",status_class="1xx"\} 1\n/, 'the upgrade is counted');
  t.match(metrics, /toolhost_proxy_requests_total\{tool="live",status_class="4xx"\} \d+/);
});

t.test('with TLS on, plain HTTP is redirected to HTTPS on every path, upgrades included (#10)', async (t) => {
  const dir = workDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tools.test'], { stdio: 'ignore' });
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { tls: { listen: { host: '127.0.0.1', port: 0 }, certFile: cert, keyFile: key } });
  const httpsPort = proxy.proxy.addresses().https?.port;
  const live = await wsBackend(t);
  await r.hset(routeKey('live'), '.*', live);
  await waitFor(() => proxy.proxy.routeTable.get('live') !== undefined);
  for (const p of PATHS) {
    const got = finalAnswer(await send(proxy.port, freshAddress(), request(p, 'GET /live/x?y HTTP/1.1', ['Host: tools.test', UA])));
    t.same(got, ok(301, { location: `https://tools.test:${httpsPort}/live/x?y` }), p);
  }
});
