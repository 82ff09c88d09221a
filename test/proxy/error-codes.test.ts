// The proxy's own answers are TH_ERR_PROXY_* codes of src/errors.ts (#14 item 7): each page
// carries its code in the page, in X-Toolhost-Error and in the access log line, with the status
// its definition in src/errors.ts gives.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import type { ProxyErrorCode } from '../../src/proxy/error-pages.js';
import { routeKey } from '../../src/routes/index.js';
import { ROOT, startEchoBackend, startProxyWithRoutes, waitFor } from '../helpers/index.js';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** node:http, which (unlike fetch) sends TRACE */
function request(url: string, method: string, userAgent: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'user-agent': userAgent } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('unknown tool 404, tool down 503, backend refused 502, too slow 504, TRACE 405: each page carries its TH_ERR code and status', async (t) => {
  const accessLog = path.join(t.testdir(), 'access.log');
  const { proxy, r, route } = await startProxyWithRoutes(t, { responseTimeoutMs: 300, accessLog: { file: accessLog } });
  // a route whose only backend's lease ran out: the tool exists, nothing serves it
  await r.hset(routeKey('sleepy'), 'backend:a', 'http://127.0.0.1:9', 'lease:a', String(Date.now() - 1000), 'description', 'x');
  await r.publish(routeKey('sleepy'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('sleepy') !== undefined, 3000, 'sleepy in the table');
  await route('refuser', `http://127.0.0.1:${await closedPort()}`);
  const slow = await startEchoBackend(t, 'slow', () => true /* never answers */);
  await route('slowpoke', slow.url);
  const live = await startEchoBackend(t, 'live');
  await route('live', live.url);

  const cases: { path: string; method?: string; code: ErrorCode; status: number }[] = [
    { path: '/nosuchtool/', code: 'TH_ERR_PROXY_TOOL_UNKNOWN', status: 404 },
    { path: '/sleepy/', code: 'TH_ERR_PROXY_TOOL_DOWN', status: 503 },
    { path: '/refuser/', code: 'TH_ERR_PROXY_BACKEND_FAILED', status: 502 },
    { path: '/slowpoke/', code: 'TH_ERR_PROXY_BACKEND_TIMEOUT', status: 504 },
    { path: '/live/', method: 'TRACE', code: 'TH_ERR_PROXY_METHOD_NOT_ALLOWED', status: 405 },
  ];
  for (const c of cases) {
    const res = await request(`${proxy.url}${c.path}`, c.method ?? 'GET', `codes/${c.code}`);
    const body = res.body;
    t.equal(res.status, c.status, `${c.path}: the status`);
    t.equal(ERRORS[c.code].status, c.status, `${c.code}: src/errors.ts gives that status`);
    t.equal(res.headers['x-toolhost-error'], c.code, `${c.path}: the code in X-Toolhost-Error`);
    t.match(body, `<code>${c.code}</code>`, `${c.path}: the code on the page`);
  }
  // the same code in the access log, on the line of that request
  await waitFor(() => readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).length >= cases.length, 5000, 'the access log lines');
  const lines = readFileSync(accessLog, 'utf8').split('\n');
  for (const c of cases) {
    const line = lines.find((l) => l.includes(`"codes/${c.code}"`));
    t.match(line, new RegExp(` ${c.status} .* error=${c.code}$`), `${c.code}: in the access log`);
  }
  // a tool's own answer has no code of the proxy's
  const ok = await fetch(`${proxy.url}/live/`);
  await ok.text();
  t.equal(ok.headers.get('x-toolhost-error'), null);
});

t.test('the JSON answer for a tool that is down names the same code as its page', async (t) => {
  const { proxy, r } = await startProxyWithRoutes(t);
  await r.hset(routeKey('napping'), 'backend:a', 'http://127.0.0.1:9', 'lease:a', String(Date.now() - 1000), 'description', 'x');
  await r.publish(routeKey('napping'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('napping') !== undefined, 3000, 'napping in the table');
  const res = await fetch(`${proxy.url}/napping/`, { headers: { accept: 'application/json' } });
  const json = (await res.json()) as { status: number; error: string };
  t.equal(res.status, 503);
  t.equal(res.headers.get('x-toolhost-error'), 'TH_ERR_PROXY_TOOL_DOWN');
  t.equal(json.error, 'TH_ERR_PROXY_TOOL_DOWN');
  t.equal(json.status, ERRORS.TH_ERR_PROXY_TOOL_DOWN.status);
});

/** one raw request on a fresh connection (left open after it with `end` false): the status line and the X-Toolhost-Error header */
function raw(port: number, text: string, end = true): Promise<{ status: number; code: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => (end ? socket.end(text) : socket.write(text)));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (got += c));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0), code: /\r\nx-toolhost-error: (\S+)\r\n/i.exec(got)?.[1] ?? null }));
  });
}

t.test('a target that is not a path is TH_ERR_PROXY_BAD_REQUEST 400, in an empty answer that carries its code', async (t) => {
  const { proxy } = await startProxyWithRoutes(t);
  const bad = await raw(proxy.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nConnection: close\r\n\r\n');
  t.same(bad, { status: ERRORS.TH_ERR_PROXY_BAD_REQUEST.status, code: 'TH_ERR_PROXY_BAD_REQUEST' });
});

t.test('every page the proxy has (TH_ERR_PROXY_INTERNAL among them) takes its status from src/errors.ts and shows its code', async (t) => {
  // module test: the pages as every lane renders them (a proxy failing on purpose is not a test to rely on)
  const { ErrorPages } = await import('../../src/proxy/error-pages.js');
  const { PageTemplate } = await import('../../src/proxy/html.js');
  const pages = new ErrorPages(PageTemplate.load(path.join(ROOT, 'templates', 'error-page.html')));
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => c.startsWith('TH_ERR_PROXY_'));
  t.ok(codes.includes('TH_ERR_PROXY_INTERNAL'));
  for (const code of codes as ProxyErrorCode[]) {
    const body = pages.render(code, 'sometool');
    t.equal(pages.status(code), ERRORS[code].status, `${code}: status`);
    t.equal(pages.headers(code, body)['x-toolhost-error'], code, `${code}: header`);
    t.match(body, `<code>${code}</code>`, `${code}: on the page`);
    t.match(body, `<title>${ERRORS[code].status} `, `${code}: the status in the title`);
  }
});

t.test('a head too large is TH_ERR_PROXY_HEADERS_TOO_LARGE 431; a head never finished is TH_ERR_PROXY_REQUEST_TIMEOUT 408: the empty answers carry their code', async (t) => {
  const { proxy } = await startProxyWithRoutes(t, { limits: { headersTimeoutMs: 300 } });
  const huge = await raw(proxy.port, `GET /x/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
  t.same(huge, { status: ERRORS.TH_ERR_PROXY_HEADERS_TOO_LARGE.status, code: 'TH_ERR_PROXY_HEADERS_TOO_LARGE' });
  // half a head, then nothing, on a connection left open
  const slow = await raw(proxy.port, 'GET /x/ HTTP/1.1\r\nHost: x\r\n', false);
  t.same(slow, { status: ERRORS.TH_ERR_PROXY_REQUEST_TIMEOUT.status, code: 'TH_ERR_PROXY_REQUEST_TIMEOUT' });
});
