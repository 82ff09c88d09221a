// Slow bodies do not reach tools (#10): a request body up to the buffering limit is held by the
// proxy until it is complete, and only then is a backend chosen and connected, as nginx does.
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { startProxyWithRoutes, waitFor, workDir } from '../helpers/index.js';


interface CountingBackend {
  readonly url: string;
  /** connections accepted so far */
  connections: number;
  /** sha256 and length of each request body received */
  readonly bodies: { sha: string; length: number }[];
  /** how each body was framed: its Content-Length, or "chunked" */
  readonly framing: string[];
}

async function countingBackend(t: Test, options: { maxConnections?: number } = {}): Promise<CountingBackend> {
  const state = { url: '', connections: 0, bodies: [] as { sha: string; length: number }[], framing: [] as string[] };
  const server = http.createServer((req, res) => {
    state.framing.push(req.headers['transfer-encoding'] ?? `length ${req.headers['content-length']}`);
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => {
      state.bodies.push({ sha: hash.digest('hex'), length });
      res.end('ok');
    });
  });
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return state;
}

/** a client connection that sends when told, and collects what comes back */
function client(port: number, localAddress = '127.0.0.1'): { socket: net.Socket; answer: Promise<string> } {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  const answer = new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('close', () => resolve(got));
  });
  return { socket, answer };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

t.test('a body is held by the proxy until it is complete; only then is the backend connected (both lanes)', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await countingBackend(t);
  await route('held', backend.url);
  const body = 'x'.repeat(2000);
  // the fast lane: a Content-Length body, sent in two halves
  const fast = client(proxy.port);
  fast.socket.write(`POST /held/ HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 1000)}`);
  await pause(300);
  t.equal(backend.connections, 0, 'fast lane: no backend connection while the body is incomplete');
  fast.socket.write(body.slice(1000));
  t.match(await fast.answer, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
  // Node's server: a chunked body
  const node = client(proxy.port);
  node.socket.write(`POST /held/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n${body.slice(0, 1000)}\r\n`);
  await pause(300);
  t.equal(backend.connections, 1, 'Node lane: no new backend connection while the body is incomplete');
  node.socket.write(`3e8\r\n${body.slice(1000)}\r\n0\r\n\r\n`);
  t.match(await node.answer, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n(2\r\n)?ok/);
  t.same(backend.bodies, [{ sha: sha(body), length: 2000 }, { sha: sha(body), length: 2000 }], 'both bodies arrived whole');
});

t.test('a body that stalls gets 408 and never holds a backend connection (both lanes)', async (t) => {
  const { proxy, route } = await setup(t, { limits: { requestTimeoutMs: 600, headersTimeoutMs: 600 } });
  const backend = await countingBackend(t);
  await route('stall', backend.url);
  const fast = client(proxy.port);
  fast.socket.write('POST /stall/ HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly a part');
  const node = client(proxy.port);
  node.socket.write('POST /stall/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly a part');
  t.match(await fast.answer, /^HTTP\/1\.1 408 /, 'fast lane: 408');
  t.match(await node.answer, /^HTTP\/1\.1 408 /, 'Node lane: 408');
  t.equal(backend.connections, 0, 'the backend never saw a connection');
});

t.test('a body larger than the buffering limit streams to the backend as it comes', async (t) => {
  const { proxy, route } = await setup(t, { limits: { bufferBodyBytes: 1024 } });
  const backend = await countingBackend(t);
  await route('big', backend.url);
  const body = Buffer.alloc(4096, 7);
  const c = client(proxy.port);
  c.socket.write(`POST /big/ HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  c.socket.write(body.subarray(0, 100));
  await waitFor(() => backend.connections === 1, 3000, 'the backend connected before the body is complete');
  c.socket.write(body.subarray(100));
  t.match(await c.answer, /\r\n\r\nok$/);
  t.same(backend.bodies, [{ sha: sha(body), length: body.length }]);
});

t.test('past 64 KB a held body goes to a temp file that is unlinked at once, and arrives whole', async (t) => {
  const tempDir = workDir(t);
  const { proxy, route } = await setup(t, { bodyTempDir: tempDir });
  const backend = await countingBackend(t);
  await route('spill', backend.url);
  const body = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 13) % 251;
  const heldFiles = (): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(`${tempDir}/toolhost-body-`) ? [target] : [];
      } catch {
        return [];
      }
    });
  const c = client(proxy.port);
  c.socket.write(`PUT /spill/f HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  c.socket.write(body.subarray(0, 512 * 1024));
  await waitFor(() => heldFiles().length === 1, 3000, 'the temp file');
  t.match(heldFiles()[0], / \(deleted\)$/, 'already unlinked: nothing is left behind, even by a crash');
  t.same(readdirSync(tempDir).filter((f) => f.startsWith('toolhost-body-')), [], 'no file in the directory');
  t.equal(backend.connections, 0);
  c.socket.write(body.subarray(512 * 1024));
  t.match(await c.answer, /\r\n\r\nok$/);
  t.same(backend.bodies, [{ sha: sha(body), length: body.length }]);
  await waitFor(() => heldFiles().length === 0, 3000, 'the temp file closed');

  // sent chunked, it is whole once held: it goes on with its length, as nginx sends it (uWSGI reads no chunked body)
  const chunked = client(proxy.port);
  chunked.socket.write(`PUT /spill/g HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
  for (let at = 0; at < body.length; at += 256 * 1024) chunked.socket.write(`40000\r\n${body.subarray(at, at + 256 * 1024).toString('latin1')}\r\n`, 'latin1');
  chunked.socket.write('0\r\n\r\n');
  t.match(await chunked.answer, /\r\n\r\n(2\r\n)?ok/);
  t.same(backend.bodies[1], { sha: sha(body), length: body.length });
  t.same(backend.framing, [`length ${body.length}`, `length ${body.length}`], 'both bodies reached the backend with their Content-Length');
});

t.test('a tool with 100 workers stays reachable while 400 slow POSTs come from 4 addresses (#10)', async (t) => {
  const { proxy, route } = await setup(t);
  // a server that takes 100 connections at a time, as a tool with 100 workers
  const backend = await countingBackend(t, { maxConnections: 100 });
  await route('busy', backend.url);
  const slow: ReturnType<typeof client>[] = [];
  t.teardown(() => slow.forEach((c) => c.socket.destroy()));
  for (let i = 0; i < 400; i++) {
    const c = client(proxy.port, `127.0.0.${2 + (i % 4)}`);
    c.socket.write(`POST /busy/ HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n${'s'.repeat(10)}`);
    slow.push(c);
  }
  // the slow clients keep trickling their bodies
  const trickle = setInterval(() => slow.forEach((c) => c.socket.write('s')), 100);
  t.teardown(() => clearInterval(trickle));
  await waitFor(() => proxy.proxy.metrics !== undefined, 10, 'the proxy');
  await pause(500);
  const visitors: number[] = [];
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${proxy.url}/busy/`, { headers: { connection: 'close' } });
    visitors.push(res.status);
    await res.text();
  }
  t.same(visitors, Array(20).fill(200), 'every visitor got the tool');
  t.ok(backend.connections <= 20, `the slow POSTs took no backend connection (${backend.connections} connections, all the visitors')`);
});

async function setup(t: Test, overrides: Parameters<typeof startProxyWithRoutes>[1] = {}) {
  return startProxyWithRoutes(t, overrides);
}
