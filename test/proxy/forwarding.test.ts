import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { startEchoBackend, startProxyWithRoutes, waitFor } from '../helpers/index.js';

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const setup = startProxyWithRoutes;

t.test('a hand-written HSET prefix:<tool> .* URL routes /<tool>/ there, path unchanged', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await startEchoBackend(t, 'one');
  await route('mytool', backend.url);
  const res = await get(`${proxy.url}/mytool/a/b%20c?x=1&y=%2F`);
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body).url, '/mytool/a/b%20c?x=1&y=%2F');
  const redirect = await get(`${proxy.url}/mytool?q=1`);
  t.equal(redirect.status, 301);
  t.equal(redirect.headers.get('location'), '/mytool/?q=1');
});

t.test('unknown tool: 404 page; tool without live backend: 503 page saying what the maintainer can do', async (t) => {
  const { proxy, r } = await setup(t);
  const unknown = await get(`${proxy.url}/nosuchtool/`);
  t.equal(unknown.status, 404);
  t.match(unknown.body, /There is no tool named <b>nosuchtool<\/b>/);
  await r.hset(routeKey('sleepy'), 'backend:a', 'http://127.0.0.1:9', 'lease:a', String(Date.now() - 1000), 'description', 'x');
  await r.publish(routeKey('sleepy'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('sleepy') !== undefined);
  const down = await get(`${proxy.url}/sleepy/`);
  t.equal(down.status, 503);
  t.match(down.body, /webservice is not running/);
  t.match(down.body, /webservice start/);
});

t.test('refused connection: 502; no answer in time: 504 (our own timer tells them apart)', async (t) => {
  const { proxy, route } = await setup(t, { responseTimeoutMs: 300 });
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await route('refuser', `http://127.0.0.1:${deadPort}`);
  const refused = await get(`${proxy.url}/refuser/`);
  t.equal(refused.status, 502);
  t.equal(refused.headers.get('x-toolhost-error'), 'TH_ERR_PROXY_BACKEND_FAILED');

  const slow = await startEchoBackend(t, 'slow', () => true /* never answers */);
  await route('slowpoke', slow.url);
  const started = Date.now();
  const timedOut = await get(`${proxy.url}/slowpoke/`);
  t.equal(timedOut.status, 504);
  t.ok(Date.now() - started >= 290);

  const resetter = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => resetter.close());
  await route('resetter', `http://127.0.0.1:${(resetter.address() as net.AddressInfo).port}`);
  t.equal((await get(`${proxy.url}/resetter/`, { method: 'POST', body: 'x' })).status, 502);
});

t.test('a tool\'s own responses, errors included, pass through untouched', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await startEchoBackend(t, 'own', (req, res) => {
    const code = Number(req.url?.split('/')[2]);
    res.writeHead(code, { 'content-type': 'text/plain', 'x-tool': 'yes', 'set-cookie': ['a=1', 'b=2'] });
    res.end(`tool says ${code}`);
    return true;
  });
  await route('errs', backend.url);
  for (const code of [404, 403, 500, 502, 503]) {
    const res = await get(`${proxy.url}/errs/${code}`);
    t.equal(res.status, code);
    t.equal(res.body, `tool says ${code}`);
    t.equal(res.headers.get('x-tool'), 'yes');
    t.equal(res.headers.get('x-toolhost-error'), null);
    t.same(res.headers.getSetCookie(), ['a=1', 'b=2']);
  }
});

t.test('host routing: <tool>.<domain> goes to the tool with the path unchanged, alongside path routing', async (t) => {
  const { proxy, route } = await setup(t, { domain: 'tools.test' });
  const backend = await startEchoBackend(t, 'h');
  await route('hosted', backend.url);
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxy.port, path: '/x/y?z', headers: { host: 'Hosted.Tools.Test:1234' } }, (r) => {
      let b = '';
      r.on('data', (c) => (b += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: b }));
    }).on('error', reject);
  });
  t.equal(res.status, 200);
  t.equal(JSON.parse(res.body).url, '/x/y?z');
  t.equal(JSON.parse((await get(`${proxy.url}/hosted/p`)).body).url, '/hosted/p');
});

t.test('bodies stream both ways: a 20 MB upload and a 50 MB download arrive whole', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await startEchoBackend(t, 'big', (req, res) => {
    if (req.method === 'POST') {
      const h = createHash('sha256');
      req.on('data', (c: Buffer) => h.update(c));
      req.on('end', () => res.end(h.digest('hex')));
      return true;
    }
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let sent = 0;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = (): void => {
      while (sent < 50) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return true;
  });
  await route('big', backend.url);
  const upload = Buffer.alloc(20 * 1024 * 1024, 3);
  const res = await get(`${proxy.url}/big/up`, { method: 'POST', body: upload });
  t.equal(res.body, createHash('sha256').update(upload).digest('hex'));
  const down = await fetch(`${proxy.url}/big/down`);
  const buf = Buffer.from(await down.arrayBuffer());
  t.equal(buf.length, 50 * 1024 * 1024);
});

t.test('a client that aborts a large download leaves no upstream socket open', async (t) => {
  const { proxy, route } = await setup(t);
  let backendClosed = 0;
  const backend = await startEchoBackend(t, 'stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 1);
    res.on('close', () => {
      clearInterval(timer);
      backendClosed++;
    });
    return true;
  });
  await route('stream', backend.url);
  const openUpstream = async (): Promise<number> => {
    const m = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
    return Number(/^toolhost_proxy_open_upstream_sockets (\d+)/m.exec(m)?.[1]);
  };
  const baseline = await openUpstream();
  for (let i = 0; i < 5; i++) {
    const ac = new AbortController();
    const res = await fetch(`${proxy.url}/stream/`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
  }
  await waitFor(() => backendClosed === 5, 5000, 'the backend to see every abort');
  await waitFor(async () => (await openUpstream()) <= baseline, 5000, 'upstream sockets back to baseline');
  t.pass('upstream sockets back to baseline');
});

t.test('several backends: round robin; one that refuses is skipped and a GET is retried on the next', async (t) => {
  const { proxy, r } = await setup(t);
  const a = await startEchoBackend(t, 'a');
  const b = await startEchoBackend(t, 'b');
  await r.hset(routeKey('multi'), 'backend:a', a.url, 'backend:b', b.url, 'backend:c', 'http://127.0.0.1:9');
  await r.publish(routeKey('multi'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('multi')?.backends.length === 3);
  const names: string[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await get(`${proxy.url}/multi/`);
    t.equal(res.status, 200);
    names.push(JSON.parse(res.body).backend);
  }
  t.ok(names.includes('a') && names.includes('b'), 'both live backends served');
  const m = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  t.match(m, /toolhost_proxy_retries_total [1-9]/);
});

t.test('connections to a backend are reused (keep-alive pool)', async (t) => {
  const { proxy, route } = await setup(t);
  const connections = new Set<unknown>();
  const backend = await startEchoBackend(t, 'ka');
  backend.server.on('connection', (s) => connections.add(s));
  await route('ka', backend.url);
  for (let i = 0; i < 20; i++) await get(`${proxy.url}/ka/`);
  t.ok(connections.size <= 2, `${connections.size} upstream connections for 20 sequential requests`);
});

t.test('health check on the public listener; metrics and the route list on the admin listener', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await startEchoBackend(t, 'm');
  await route('metered', backend.url);
  await get(`${proxy.url}/metered/`);
  const health = await get(`${proxy.url}/.well-known/healthz`);
  t.same([health.status, health.body], [200, 'ok\n']);
  const metrics = (await get(`${proxy.adminUrl}/metrics`)).body;
  t.match(metrics, /toolhost_proxy_requests_total\{tool="metered",status_class="2xx"\} 1/);
  t.match(metrics, /toolhost_proxy_request_duration_seconds_bucket/);
  t.match(metrics, /toolhost_proxy_open_client_sockets \d+/);
  t.match(metrics, /toolhost_proxy_routes 1/);
  t.match(metrics, /toolhost_proxy_redis_up 1/);
  t.not((await get(`${proxy.url}/metrics`)).status, 200, 'metrics are not public');
  t.equal((await get(`${proxy.url}/metrics/`)).status, 404);
  const routes = JSON.parse((await get(`${proxy.adminUrl}/routes`)).body);
  t.equal(routes.routes[0].tool, 'metered');
});
