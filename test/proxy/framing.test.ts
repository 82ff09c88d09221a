// Framing is decided once and strictly (#10). Every request-line and header anomaly below is sent
// on both lanes (as it is, which the fast lane reads, and with Expect: 100-continue, which would
// hand it to Node's server) to a raw backend that records exactly the bytes it receives: each
// must be refused, and the backend must receive nothing. A valid request must arrive as exactly
// one request. One request in, at most one request out.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { startProxyWithRoutes } from '../helpers/index.js';


interface RawBackend {
  readonly url: string;
  /** every byte received, all connections in order */
  received(): string;
}

/** answers every head it sees with 200 "ok", and keeps every byte it was sent */
async function rawBackend(t: Test): Promise<RawBackend> {
  let bytes = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (d: Buffer) => {
      bytes += d.toString('latin1');
      pending += d.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, received: () => bytes };
}

function send(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

/** request lines at the start of a line in what the backend received: what it could take for requests */
function requestLines(received: string): string[] {
  return received.match(/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/gm) ?? [];
}

const smuggled = 'GET /T/SMUGGLED HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n\r\n';

/** [name, the head lines up to the blank line (without it), body, expected status] */
const ANOMALIES: readonly [string, string, string, number][] = [
  ['Connection: Content-Length (the issue\'s smuggling)', `POST /T/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\nConnection: Content-Length`, smuggled, 400],
  ['Connection: Transfer-Encoding', 'POST /T/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Transfer-Encoding', `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`, 400],
  ['Connection: Host', 'GET /T/ HTTP/1.1\r\nHost: x\r\nConnection: Host', '', 400],
  ['two Host headers', 'GET /T/ HTTP/1.1\r\nHost: x\r\nHost: y', '', 400],
  ['no Host on HTTP/1.1', 'GET /T/ HTTP/1.1\r\nUser-Agent: a', '', 400],
  ['a request line without a version', 'GET /T/\r\nHost: x', '', 400],
  ['HTTP/2.0 on an HTTP/1.1 request line', 'GET /T/ HTTP/2.0\r\nHost: x', '', 400],
  ['a doubled space before the target', 'GET  /T/ HTTP/1.1\r\nHost: x', '', 400],
  ['a doubled space after the target', 'GET /T/  HTTP/1.1\r\nHost: x', '', 400],
  ['Transfer-Encoding on HTTP/1.0', 'POST /T/ HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked', '3\r\nabc\r\n0\r\n\r\n', 400],
  ['Content-Length with Transfer-Encoding', 'POST /T/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked', `0\r\n\r\n${smuggled}`, 400],
  ['Transfer-Encoding: xchunked', 'POST /T/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked', `0\r\n\r\n${smuggled}`, 400],
  ['Transfer-Encoding: chunked, identity', 'POST /T/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity', `0\r\n\r\n${smuggled}`, 400],
  ['two Content-Lengths', `POST /T/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: ${5 + smuggled.length}`, `12345${smuggled}`, 400],
  ['a space before the colon', 'POST /T/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked', `0\r\n\r\n${smuggled}`, 400],
  ['obs-fold', 'GET /T/ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b', '', 400],
  ['a bare LF', 'GET /T/ HTTP/1.1\r\nHost: x\nX-A: a', '', 400],
  ['TRACE (refused by default)', 'TRACE /T/ HTTP/1.1\r\nHost: x\r\nConnection: close', '', 405],
];

const LANES = {
  'fast lane': (head: string) => head,
  'Node lane': (head: string) => `${head}\r\nExpect: 100-continue`,
} as const;

t.test('every anomaly is refused on both lanes and nothing reaches the backend (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const backend = await rawBackend(t);
  // the requests name /T/, which is no tool name: they go to /tee/
  await route('tee', backend.url);
  for (const [name, head, body, status] of ANOMALIES) {
    for (const [lane, variant] of Object.entries(LANES)) {
      const text = `${variant(head.replace('/T/', '/tee/'))}\r\n\r\n${body}`;
      const answer = await send(proxy.port, text);
      t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `${name} (${lane}): ${status}`);
    }
  }
  t.equal(backend.received(), '', 'the backend received no byte at all');
});

t.test('a valid request arrives as exactly one request, on both lanes (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const backend = await rawBackend(t);
  await route('tee', backend.url);
  for (const [lane, variant] of Object.entries(LANES)) {
    const before = backend.received().length;
    const answer = await send(proxy.port, `${variant('POST /tee/up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close')}\r\n\r\nhello world`);
    t.match(answer, /\r\n\r\nok$/, `${lane}: answered`);
    const got = backend.received().slice(before);
    t.same(requestLines(got), ['POST /tee/up HTTP/1.1\r\n'], `${lane}: one request line`);
    t.match(got, /\r\ncontent-length: 11\r\n(?:[^\r]+\r\n)*\r\nhello world$/i, `${lane}: framed by its length, body whole, nothing after it`);
    t.notMatch(got, /6\.6\.6\.6|expect:/i, `${lane}: client address and Expect stay behind`);
  }
});
