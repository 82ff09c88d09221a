// The fast lane end to end: raw client sockets against the real proxy, and backends that send
// exactly the bytes a test scripts (chunked bodies, interim answers, bodies until close,
// garbage), so every framing case is seen on the wire. Plus the hand-over to Node's server.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { refusesConnections, startEchoBackend, startProxyWithRoutes, waitFor, workDir } from '../helpers/index.js';

type TapTest = Test;

const setup = startProxyWithRoutes;

interface ScriptedBackend {
  readonly url: string;
  /** request heads received, in order */
  readonly heads: string[];
  connections: number;
}

/** a backend that answers each request head with answer(head) (raw bytes), on keep-alive connections */
async function scriptedBackend(t: TapTest, answer: (head: string, socket: net.Socket) => string | Buffer | null): Promise<ScriptedBackend> {
  const state: ScriptedBackend = { url: '', heads: [], connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        buf = buf.subarray(end + 4 + len);
        state.heads.push(head);
        const out = answer(head, socket);
        if (out !== null) socket.write(out);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  Object.assign(state, { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` });
  return state;
}

/** send raw bytes to the proxy and collect everything until the proxy closes (or `until` matches) */
function exchange(port: number, chunks: (string | Buffer)[], until?: (got: string) => boolean, gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer; got ${JSON.stringify(got.slice(0, 400))}`));
    }, 5000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (until?.(got)) finish();
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.on('connect', async () => {
      for (const c of chunks) {
        socket.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

t.test('pipelined requests in one packet are answered in order, each forwarded with the proxy\'s own headers', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (head) => {
    const path = head.split(' ')[1] as string;
    return `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
  });
  await route('pipe', backend.url);
  const req = (p: string, extra = '') => `GET /pipe/${p} HTTP/1.1\r\nHost: h.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6${extra}\r\n\r\n`;
  const got = await exchange(proxy.port, [req('one') + req('two') + req('three', '\r\nConnection: close')]);
  const bodies = got.split('\r\n\r\n').slice(1).map((b) => b.split('HTTP/1.1')[0]);
  t.same(bodies, ['/pipe/one', '/pipe/two', '/pipe/three']);
  t.match(got, /connection: close\r\n\r\n\/pipe\/three$/, 'the last answer says the connection closes');
  t.equal(backend.heads.length, 3);
  for (const head of backend.heads) {
    t.notMatch(head, /6\.6\.6\.6/, 'no client address reaches the tool');
    t.match(head, /\r\nx-forwarded-proto: http\r\nx-forwarded-host: h\.example\r\nx-forwarded-port: \d+$/);
  }
  t.equal(backend.connections, 1, 'one keep-alive connection to the backend carried all three');
});

t.test('a head that arrives a few bytes at a time is still one request', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  await route('drip', backend.url);
  const text = 'GET /drip/ HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nConnection: close\r\n\r\n';
  const pieces = text.match(/.{1,3}/gs) as string[];
  const got = await exchange(proxy.port, pieces, undefined, 2);
  t.match(got, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
});

t.test('chunked bodies (extensions, trailers) pass through byte for byte; the connection stays usable', async (t) => {
  const { proxy, route } = await setup(t);
  const body = '5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n';
  const backend = await scriptedBackend(t, (head, socket) => {
    if (head.startsWith('GET /chunky/split')) {
      // the head and body in pieces, across packets
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Enc');
      setTimeout(() => socket.write('oding: chunked\r\n\r\n5\r\nhel'), 20);
      setTimeout(() => socket.write('lo\r\n0\r\n\r\n'), 40);
      return null;
    }
    return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n${body}`;
  });
  await route('chunky', backend.url);
  const got = await exchange(proxy.port, ['GET /chunky/ HTTP/1.1\r\nHost: x\r\n\r\nGET /chunky/split HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  const [first, second] = got.split(/(?=HTTP\/1\.1 200)/);
  t.ok(first?.endsWith(`\r\n\r\n${body}`), 'body unchanged, trailers included');
  t.notMatch(first ?? '', /\r\ntrailer:/i, 'the hop-by-hop Trailer header stays behind');
  t.match(second, /transfer-encoding: chunked\r\n[\s\S]*\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/i);
});

t.test('a body that runs until the backend closes reaches the client, who is told the connection closes', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome');
    setTimeout(() => socket.end(' more'), 30);
    return null;
  });
  await route('closer', backend.url);
  const got = await exchange(proxy.port, ['GET /closer/ HTTP/1.1\r\nHost: x\r\n\r\n']);
  t.match(got, /connection: close\r\n\r\nsome more$/);
});

t.test('HEAD, 204 and 304 have no body; interim 1xx answers are relayed to HTTP/1.1 clients (#10)', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (head) => {
    if (head.startsWith('HEAD')) return 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n';
    if (head.includes('/204')) return 'HTTP/1.1 204 No Content\r\n\r\n';
    if (head.includes('/304')) return 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n';
    return 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal';
  });
  await route('bodiless', backend.url);
  const got = await exchange(proxy.port, [
    'HEAD /bodiless/ HTTP/1.1\r\nHost: x\r\n\r\nGET /bodiless/204 HTTP/1.1\r\nHost: x\r\n\r\nGET /bodiless/304 HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /bodiless/hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ]);
  const statusLines = got.match(/^HTTP\/1\.1 \d{3}/gm);
  t.same(statusLines, ['HTTP/1.1 200', 'HTTP/1.1 204', 'HTTP/1.1 304', 'HTTP/1.1 103', 'HTTP/1.1 102', 'HTTP/1.1 200'], 'the interim answers come before the final one, in order');
  t.match(got, /^HTTP\/1\.1 200 OK\r\nContent-Length: 1000\r\ndate: [^\r]+\r\n\r\nHTTP\/1\.1 204 No Content\r\ndate: [^\r]+\r\n\r\nHTTP\/1\.1 304 Not Modified\r\n/);
  t.match(got, /HTTP\/1\.1 103 Early Hints\r\nLink: <\/s\.css>\r\n\r\nHTTP\/1\.1 102 Processing\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'the 103 keeps its Link header');
  t.ok(got.endsWith('\r\n\r\nfinal'));
});

t.test('a response without Date gets one; a response with its own Date keeps it, once (#10)', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (head) =>
    head.includes('/dated') ? 'HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nok' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  );
  await route('dates', backend.url);
  const got = await exchange(proxy.port, ['GET /dates/plain HTTP/1.1\r\nHost: x\r\n\r\nGET /dates/dated HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  const [first, second] = got.split(/(?=HTTP\/1\.1 200)/);
  const imfDate = /\r\ndate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n/i;
  t.match(first, imfDate, 'an IMF-fixdate was added');
  t.equal(count(second ?? '', 'ate: '), 1, 'one Date only');
  t.match(second, /\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\n/, "the backend's own Date is kept");
});

t.test('request bodies are streamed to the backend and large responses back, intact', async (t) => {
  const { proxy, route } = await setup(t);
  const big = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
  const backend = await startEchoBackend(t, 'bulk', (req, res) => {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    req.on('end', () => {
      if (req.url?.endsWith('/download')) {
        res.writeHead(200, { 'content-length': big.length });
        res.end(big);
        return;
      }
      res.end(JSON.stringify({ n, sha: hash.digest('hex') }));
    });
    return true;
  });
  await route('bulk', backend.url);
  const upload = await fetch(`${proxy.url}/bulk/upload`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
  t.same(await upload.json(), { n: big.length, sha: createHash('sha256').update(big).digest('hex') });
  const down = Buffer.from(await (await fetch(`${proxy.url}/bulk/download`)).arrayBuffer());
  t.equal(down.length, big.length);
  t.ok(down.equals(big), '8 MiB back unchanged');
});

t.test('a backend that closes a kept-alive connection just as it is reused costs the client nothing: the request is retried on a new connection', async (t) => {
  const { proxy, route } = await setup(t);
  // every second request on a connection finds it closed without an answer, as when the
  // backend's idle timer fires just as the proxy reuses the connection
  const served = new WeakMap<net.Socket, number>();
  const backend = await scriptedBackend(t, (_head, socket) => {
    const n = served.get(socket) ?? 0;
    served.set(socket, n + 1);
    if (n === 1) {
      socket.destroy();
      return null;
    }
    return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  });
  await route('brief', backend.url);
  const retries = async (): Promise<number> => Number(/^toolhost_proxy_retries_total (\d+)/m.exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1]);
  const before = await retries();
  for (let i = 0; i < 4; i++) {
    const got = await exchange(proxy.port, [`GET /brief/${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    t.match(got, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/, `request ${i} answered 200`);
  }
  // each request after the first reuses the connection the one before it left, and finds it closed
  t.equal((await retries()) - before, 3, 'the three requests that met a closed connection were retried');
  t.equal(backend.connections, 4, 'each retry went on a new connection');
});

t.test('a backend that answers garbage or conflicting lengths: 502 page, and the client connection goes on', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (head) =>
    head.includes('/garbage') ? 'SPDY/3 whatever\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc',
  );
  await route('broken', backend.url);
  const got = await exchange(proxy.port, ['GET /broken/garbage HTTP/1.1\r\nHost: x\r\n\r\nGET /broken/lengths HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  t.equal(count(got, 'HTTP/1.1 502 Bad Gateway'), 2);
  t.equal(count(got, 'x-toolhost-error: TH_ERR_PROXY_BACKEND_FAILED'), 2);
});

t.test("what the fast lane does not take is answered by Node's server, which then closes that connection (#10)", async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await startEchoBackend(t, 'slowlane');
  await route('slowlane', backend.url);
  // a fast request first, then a chunked upload (handed over), then another request behind it
  const got = await exchange(proxy.port, [
    'GET /slowlane/a HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST /slowlane/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
      'GET /slowlane/c HTTP/1.1\r\nHost: x\r\n\r\n',
  ]);
  t.equal(count(got, 'HTTP/1.1 200 OK'), 2, 'the fast request and the upload are answered');
  t.match(got, /"url":"\/slowlane\/a"[\s\S]*Connection: close\r\n[\s\S]*"url":"\/slowlane\/b","headers":\{[^}]*\},"bodyBytes":3\}\r\n0\r\n\r\n$/, 'the upload is answered whole, with Connection: close');
  t.same(
    backend.seen.map((s) => s.url),
    ['/slowlane/a', '/slowlane/b'],
    'the request pipelined behind the hand-over was not read by the fast lane, so it was not forwarded',
  );
  const http10 = await exchange(proxy.port, ['GET /slowlane/d HTTP/1.0\r\nHost: x\r\n\r\n']);
  t.match(http10, /^HTTP\/1\.1 200 OK/);
  const expect = await exchange(proxy.port, ['PUT /slowlane/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n'], (g) => g.includes('100 Continue'));
  t.match(expect, /^HTTP\/1\.1 100 Continue/);
});

t.test('the client going away mid-response frees the backend connection; the access log says 499 if nothing was sent', async (t) => {
  const accessLog = path.join(workDir(t), 'access.log');
  const { proxy, route } = await setup(t, { accessLog: { file: accessLog } });
  let held: net.Socket | null = null;
  const backend = await scriptedBackend(t, (_head, socket) => {
    held = socket;
    return null; // never answers
  });
  await route('hang', backend.url);
  const client = net.connect(proxy.port, '127.0.0.1');
  client.on('error', () => {});
  client.write('GET /hang/ HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => held !== null, 3000, 'the request to reach the backend');
  const closed = new Promise<void>((resolve) => (held as unknown as net.Socket).on('close', () => resolve()));
  client.destroy();
  await closed;
  t.pass('the backend connection was closed when the client left');
  await waitFor(() => existsSync(accessLog) && readFileSync(accessLog, 'utf8').includes('"GET /hang/ HTTP/1.1" 499 0'), 3000, 'the 499 line');
  t.match(await (await fetch(`${proxy.adminUrl}/metrics`)).text(), /toolhost_proxy_requests_total\{tool="hang",status_class="4xx"\} 1/, 'counted as a 4xx');
});

t.test('closing the proxy lets a request in flight finish, closes idle connections, takes no new ones', async (t) => {
  const { proxy, route } = await setup(t);
  const backend = await scriptedBackend(t, (head, socket) => {
    if (head.includes('/slow')) setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone'), 300);
    else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    return null;
  });
  await route('closing', backend.url);
  // an idle keep-alive client, after one answer
  const idle = net.connect(proxy.port, '127.0.0.1');
  idle.on('error', () => {});
  const idleClosed = new Promise<void>((resolve) => idle.on('close', () => resolve()));
  await new Promise<void>((resolve) => {
    idle.once('data', () => resolve());
    idle.write('GET /closing/quick HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  const inFlight = exchange(proxy.port, ['GET /closing/slow HTTP/1.1\r\nHost: x\r\n\r\n']);
  await waitFor(() => backend.heads.some((h) => h.includes('/slow')), 3000, 'the slow request to reach the backend');
  const closing = proxy.proxy.close(5000);
  await idleClosed;
  t.pass('the idle keep-alive connection was closed at once');
  const answer = await inFlight;
  t.match(answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n\r\ndone$/, 'the request in flight got its answer, with Connection: close');
  await closing;
  t.ok(await refusesConnections(proxy.port), 'no new connections after close');
});

t.test('extra accepting handles on the listening socket: a burst of clients is served through all of them', async (t) => {
  const { proxy, route } = await setup(t, { acceptHandles: 16 });
  const backend = await scriptedBackend(t, () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  await route('burst', backend.url);
  const answers = await Promise.all(
    Array.from({ length: 300 }, () => exchange(proxy.port, ['GET /burst/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'])),
  );
  t.equal(answers.filter((a) => /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/.test(a)).length, 300, 'every client answered');
  const { execFileSync } = await import('node:child_process');
  const helpers = (() => {
    try {
      return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'listen-handles-helper'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  })();
  t.equal(helpers, '', 'the helper that made the handles is gone');
  await proxy.proxy.close(2000);
  t.ok(await refusesConnections(proxy.port), 'no handle keeps listening after close');
});

t.test('a client that reads slowly gets every byte intact (the relay reuses its read buffers only when no write holds them)', async (t) => {
  const { proxy, route } = await setup(t);
  const body = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 13)) % 256;
  const backend = await scriptedBackend(t, (_head, socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    // uneven pieces, so reads and writes never line up
    let at = 0;
    const step = (): void => {
      while (at < body.length) {
        const n = 1000 + ((at / 997) % 60_000);
        const ok = socket.write(body.subarray(at, at + n));
        at += n;
        if (!ok) {
          socket.once('drain', step);
          return;
        }
      }
    };
    step();
    return null;
  });
  await route('slowreader', backend.url);
  const got = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect(proxy.port, '127.0.0.1');
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      parts.push(d);
      // stop reading now and then, so the proxy's writes back up
      if (parts.length % 5 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 50);
      }
    });
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
    s.write('GET /slowreader/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  const at = got.indexOf('\r\n\r\n');
  const received = got.subarray(at + 4);
  t.equal(received.length, body.length);
  t.equal(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(body).digest('hex'), 'same bytes');
});
