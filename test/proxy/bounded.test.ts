// Bounded by construction (#10): what a stranger or a tool can make the proxy hold stays within
// fixed limits: metric series, a refused upgrade's body, answers a client does not read, the
// access log's queue.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { AccessLog } from '../../src/proxy/access-log.js';
import { routeKey } from '../../src/routes/index.js';
import { startEchoBackend, startProxyWithRoutes, waitFor } from '../helpers/index.js';

const metricsOf = async (adminUrl: string): Promise<string> => (await fetch(`${adminUrl}/metrics`)).text();

t.test('metric series exist only for tools in the route table; every other name is counted under tool="" (#10)', async (t) => {
  const { proxy, route, r } = await startProxyWithRoutes(t);
  const backend = await startEchoBackend(t, 'real');
  await route('real', backend.url);
  await (await fetch(`${proxy.url}/real/`)).text();
  for (let i = 0; i < 200; i++) await (await fetch(`${proxy.url}/nosuchtool${i}/`)).text();
  const m = await metricsOf(proxy.adminUrl);
  const tools = [...m.matchAll(/^toolhost_proxy_requests_total\{tool="([^"]*)"/gm)].map((x) => x[1]);
  t.same([...new Set(tools)].sort(), ['', 'real'], 'two tool labels after 200 made-up names');
  t.match(m, /^toolhost_proxy_requests_total\{tool="",status_class="4xx"\} 200$/m);
  // a tool that leaves the route table takes its series with it
  await r.del(routeKey('real'));
  await r.publish(routeKey('real'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('real') === undefined, 3000, 'the route to go');
  t.notMatch(await metricsOf(proxy.adminUrl), /tool="real"/);
});

t.test('a backend that refuses an upgrade with a huge body: the client gets 502, the body is not held (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const server = http.createServer((_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const pump = (): void => {
      while (sent < 200) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  await route('huge', `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  const answer = await new Promise<string>((resolve) => {
    const s = net.connect(proxy.port, '127.0.0.1', () =>
      s.write('GET /huge/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
    );
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
  t.match(answer, /^HTTP\/1\.1 502 /, '502 once the body passes the cap');
  t.ok(answer.length < 64 * 1024, `${answer.length} bytes relayed, not 12.5 MB`);
});

t.test('a client that sends requests and never reads the answers: the proxy stops reading it, and goes on once it reads (#10)', async (t) => {
  const { proxy } = await startProxyWithRoutes(t);
  const answered = async (): Promise<number> => Number(/^toolhost_proxy_requests_total\{tool="",status_class="4xx"\} (\d+)$/m.exec(await metricsOf(proxy.adminUrl))?.[1] ?? 0);
  const n = 50_000;
  const socket = net.connect(proxy.port, '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  socket.pause();
  await new Promise((resolve) => socket.once('connect', resolve));
  // each answer is an error page of about 1.5 KB: 75 MB if the proxy wrote them all out at once
  socket.write('GET /nosuch/ HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(n));
  let last = -1;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await answered();
    if (now === last) break;
    last = now;
  }
  t.ok(last < n / 2, `${last} of ${n} answered while the client reads nothing (the rest wait)`);
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  socket.resume();
  await waitFor(async () => (await answered()) === n, 30_000, 'every request answered once the client reads');
  t.ok(received > 0);
});

t.test('the access log holds at most 1 MB of lines while its file does not take them, and counts what it drops (#10)', async (t) => {
  const dir = t.testdir();
  const fifo = path.join(dir, 'access.log');
  // a named pipe nobody reads: writes to it wait, as on a disk that has stalled
  execFileSync('mkfifo', [fifo]);
  const log = new AccessLog({ file: fifo });
  const line = { time: new Date(), method: 'GET', url: `/t/${'a'.repeat(60)}`, httpVersion: '1.1', status: 200, bytes: 1, referer: undefined, userAgent: 'ua', tool: 't', durationMs: 1 };
  for (let i = 0; i < 30_000; i++) log.write(line);
  t.ok(log.status.linesLost > 15_000, `${log.status.linesLost} of 30000 lines dropped rather than held`);
  t.equal(log.status.writable, true, 'a slow file is not a failed one');
  // a reader comes: what was held is written
  let text = '';
  const reader = createReadStream(fifo, { encoding: 'utf8' });
  reader.on('data', (d) => (text += d.toString()));
  await log.close();
  await new Promise<void>((resolve) => reader.on('close', () => resolve()));
  const lines = text.split('\n').length - 1;
  t.equal(lines, 30_000 - log.status.linesLost, 'every line not counted as dropped was written');
  t.ok(text.length <= 1024 * 1024 + 200, `${text.length} bytes were held`);
});
