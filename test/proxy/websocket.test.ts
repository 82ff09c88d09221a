import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';

async function wsBackend(t: Test) {
  const server = http.createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ server });
  const seenHeaders: http.IncomingHttpHeaders[] = [];
  wss.on('connection', (ws, req) => {
    seenHeaders.push(req.headers);
    ws.on('message', (m: Buffer) => ws.send(`echo:${m.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, wss, seenHeaders };
}

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

t.test('websockets go through the same routing, both ways, without the client address', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const backend = await wsBackend(t);
  await r.hset(routeKey('chat'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('chat') !== undefined);
  const ws = await open(`ws://127.0.0.1:${proxy.port}/chat/socket`, { 'x-forwarded-for': '6.6.6.6' });
  const reply = await new Promise<string>((resolve) => {
    ws.once('message', (m: Buffer) => resolve(m.toString()));
    ws.send('hello');
  });
  t.equal(reply, 'echo:hello');
  t.equal(backend.seenHeaders[0]?.['x-forwarded-for'], undefined);
  t.equal(backend.seenHeaders[0]?.['x-forwarded-proto'], 'http');
  ws.close();
  const m = async () => Number(/^toolhost_proxy_open_upstream_sockets (\d+)/m.exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1]);
  await waitFor(async () => (await m()) === 0, 5000, 'the upstream websocket to close');
  t.pass('closing the client closes the upstream socket');
});

t.test('a backend that answers an upgrade without 101 has its answer relayed', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const backend = await startEchoBackend(t, 'nows', (_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('no websockets here');
    return true;
  });
  await r.hset(routeKey('nows'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('nows') !== undefined);
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/nows/`);
    ws.on('error', () => {});
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
  t.equal(status, 403);
});

t.test('websocket to an unknown tool is 404, to a refusing backend 502', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  await t.rejects(open(`ws://127.0.0.1:${proxy.port}/ghost/`), /HTTP 404/);
  await r.hset(routeKey('gone'), '.*', 'http://127.0.0.1:9');
  await waitFor(() => proxy.proxy.routeTable.get('gone') !== undefined);
  await t.rejects(open(`ws://127.0.0.1:${proxy.port}/gone/`), /HTTP 502/);
});

t.test('an idle websocket is closed after the idle timeout, on both sides', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { websocketIdleTimeoutMs: 300 });
  const backend = await wsBackend(t);
  await r.hset(routeKey('idle'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('idle') !== undefined);
  const ws = await open(`ws://127.0.0.1:${proxy.port}/idle/`);
  const closedAfter = await new Promise<number>((resolve) => {
    const started = Date.now();
    ws.once('close', () => resolve(Date.now() - started));
  });
  t.ok(closedAfter >= 250 && closedAfter < 3000, `closed after ${closedAfter} ms`);
  await waitFor(() => backend.wss.clients.size === 0, 3000, 'the backend side to close');
});
