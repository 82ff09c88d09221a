// Response-side differential fuzzing (#10), as undici fuzzes its own parser: random, split and
// mutated backend responses go through the fast lane, and the same bytes are read by llhttp
// (Node's own parser, strict, as its HTTP client and undici use it). Where a response ends and
// what the client receives must agree:
//   llhttp reads a complete response -> through the proxy: the same status and body, complete;
//   llhttp reads a head, then the body breaks -> the same status, then the connection is cut;
//   llhttp cannot read the head -> the proxy answers 502 (never a response of its own making).
// The only tolerated difference: the fast lane refuses (502) a few heads llhttp accepts
// (listed in STRICTER below), never the other way round.
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import type { Test } from 'tap';
import { startProxyWithRoutes } from '../helpers/index.js';


interface Outcome {
  /** 0: no response head */
  readonly status: number;
  readonly complete: boolean;
  readonly body: Buffer;
  readonly toolhostError: string | null;
}

/** Node's binding of llhttp (the module Node's HTTP client reads responses with) */
interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): Error | undefined;
  [callback: number]: (...args: never[]) => unknown;
}
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: { new (): LlhttpParser; RESPONSE: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number; kLenientNone: number };
};

/** llhttp's reading of the bytes as the answer to a GET: the first final response, whether it ends, its body */
function llhttpRead(bytes: Buffer): Outcome {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
  let status = 0;
  let complete = false;
  const parts: Buffer[] = [];
  parser[HTTPParser.kOnHeadersComplete] = ((_major: number, _minor: number, _headers: string[], _method: number, _url: string, statusCode: number) => {
    if (status === 0 && statusCode >= 200) status = statusCode;
    return 0;
  });
  parser[HTTPParser.kOnBody] = ((b: Buffer) => {
    if (status !== 0 && !complete) parts.push(Buffer.from(b));
  });
  parser[HTTPParser.kOnMessageComplete] = (() => {
    if (status !== 0) complete = true;
  });
  const r = parser.execute(bytes);
  // the end of the connection ends a body framed by it
  if (!(r instanceof Error) && !complete) parser.finish();
  return { status, complete, body: Buffer.concat(parts), toolhostError: null };
}

/** one scripted response per connection: bytes written in pieces, then the connection closes */
async function scriptedBackend(t: Test): Promise<{ port: number; next: (pieces: Buffer[]) => void }> {
  let pieces: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const mine = pieces;
    socket.once('data', async () => {
      for (const p of mine) {
        if (socket.destroyed) return;
        socket.write(p);
        await new Promise((r) => setTimeout(r, 1));
      }
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, next: (p) => (pieces = p) };
}

/** what Node's HTTP client (llhttp) makes of a GET to port */
function fetchOutcome(port: number, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: -1, complete: false, body: Buffer.alloc(0), toolhostError: 'timeout' });
    }, 5000);
    let partial: (() => Outcome) | null = null;
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      const result = (complete: boolean): Outcome => ({
        status: res.statusCode ?? 0,
        complete,
        body: Buffer.concat(parts),
        toolhostError: (res.headers['x-toolhost-error'] as string | undefined) ?? null,
      });
      partial = () => result(false);
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => done(result(true)));
      res.on('aborted', () => done(result(false)));
      res.on('error', () => done(result(false)));
      res.on('close', () => done(result(res.complete)));
    });
    // an error after the head was read cuts that response; before it, there is none
    req.on('error', () => done(partial !== null ? (partial)() : { status: 0, complete: false, body: Buffer.alloc(0), toolhostError: null }));
    req.end();
  });
}

const STATUS_LINES = [
  'HTTP/1.1 200 OK',
  'HTTP/1.1 404 Not Found',
  'HTTP/1.1 500 Internal Server Error',
  'HTTP/1.1 201 ',
  'HTTP/1.1 299 Whatever',
  'HTTP/1.0 200 OK',
  'HTTP/1.1 200',
  'HTTP/1.1  200 OK',
  'HTTP/1.1 2000 OK',
  'HTTP/2 200 OK',
  'HTTP/1.1 200 O\x01K',
  'HTTP/1.1 099 Low',
  'http/1.1 200 OK',
];
const EXTRA_HEADERS = ['X-Id: 7', 'Connection: keep-alive', 'Connection: close', 'Keep-Alive: timeout=5', 'Set-Cookie: a=1', 'X-Tab:\tv', 'X-Empty:', 'Bad Header: x', 'X-Fold: a\r\n b'];

type Framing = 'length' | 'short-length' | 'long-length' | 'chunked' | 'bad-chunked' | 'close' | 'two-lengths' | 'equal-lengths' | 'te-and-length' | 'gzip-te' | 'bad-length';

function chunk(body: Buffer, sizes: number[], extension: boolean, trailer: boolean): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < body.length) {
    const n = Math.max(1, Math.min(body.length - at, sizes[i++ % Math.max(1, sizes.length)] ?? 7));
    out.push(Buffer.from(`${n.toString(16)}${extension ? ';x=1' : ''}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from(`0\r\n${trailer ? 'X-Trailer: 1\r\n' : ''}\r\n`));
  return Buffer.concat(out);
}

function responseBytes(statusLine: string, framing: Framing, headers: string[], body: Buffer, sizes: number[], extension: boolean, trailer: boolean, tail: string): Buffer {
  const h = [...headers];
  let payload = body;
  switch (framing) {
    case 'length':
      h.push(`Content-Length: ${body.length}`);
      break;
    case 'short-length':
      h.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
      break;
    case 'long-length':
      h.push(`Content-Length: ${body.length + 5}`);
      break;
    case 'chunked':
      h.push('Transfer-Encoding: chunked');
      payload = chunk(body, sizes, extension, trailer);
      break;
    case 'bad-chunked':
      h.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${(body.length + 2).toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'close':
      break;
    case 'two-lengths':
      h.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      break;
    case 'equal-lengths':
      h.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length}`);
      break;
    case 'te-and-length':
      h.push('Transfer-Encoding: chunked', `Content-Length: ${body.length}`);
      payload = chunk(body, sizes, extension, trailer);
      break;
    case 'gzip-te':
      h.push('Transfer-Encoding: gzip');
      break;
    case 'bad-length':
      h.push(`Content-Length: ${body.length}x`);
      break;
  }
  return Buffer.concat([Buffer.from(`${statusLine}\r\n${h.join('\r\n')}${h.length ? '\r\n' : ''}\r\n`, 'latin1'), payload, Buffer.from(tail, 'latin1')]);
}

const responses = fc
  .record({
    statusLine: fc.constantFrom(...STATUS_LINES),
    framing: fc.constantFrom<Framing>('length', 'length', 'chunked', 'chunked', 'close', 'short-length', 'long-length', 'bad-chunked', 'two-lengths', 'equal-lengths', 'te-and-length', 'gzip-te', 'bad-length'),
    headers: fc.subarray(EXTRA_HEADERS, { maxLength: 3 }),
    body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    sizes: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 5 }),
    extension: fc.boolean(),
    trailer: fc.boolean(),
    interim: fc.boolean(),
    tail: fc.constantFrom('', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nsmuggled', 'garbage'),
    mutation: fc.option(fc.record({ at: fc.nat(), insert: fc.constantFrom('', '\r\n', '\n', ' ', '\x00', '0', ':'), remove: fc.integer({ min: 0, max: 2 }) }), { nil: null }),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  })
  .map((r) => {
    let bytes = responseBytes(r.statusLine, r.framing, r.headers, r.body, r.sizes, r.extension, r.trailer, r.tail);
    if (r.interim) bytes = Buffer.concat([Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'), bytes]);
    if (r.mutation) {
      const at = r.mutation.at % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(r.mutation.insert, 'latin1'), bytes.subarray(at + r.mutation.remove)]);
    }
    const cuts = [...new Set(r.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let last = 0;
    for (const c of [...cuts, bytes.length]) {
      if (c > last) pieces.push(bytes.subarray(last, c));
      last = c;
    }
    return { bytes, pieces };
  });

/** heads the fast lane refuses (502) although llhttp reads them: stricter, never looser */
const STRICTER: readonly [string, RegExp][] = [
  // RFC 9112 6.1: the framing of an HTTP/1.0 message with Transfer-Encoding is faulty
  // RFC 9110 15: a status code is 100 to 599; llhttp takes any three digits
  ['a status below 100', /^HTTP\/1\.[01] 0\d\d /],
  // RFC 9112 4: a reason phrase is HTAB, SP and visible characters; llhttp lets control characters by
  ['a control character in the reason phrase', /^(?:[^\r]*\r\n)*?HTTP\/1\.[01] \d{3} [^\r]*[\x00-\x08\x0a-\x1f\x7f]/],
  ['Transfer-Encoding on HTTP/1.0', /^(?:HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)*HTTP\/1\.0 [^\r]*\r\n(?:[^\r]+\r\n)*Transfer-Encoding:/i],
];

function describe(bytes: Buffer): string {
  return JSON.stringify(bytes.toString('latin1').slice(0, 300));
}

t.test('the fast lane reads backend responses as llhttp does: where they end, what the client gets (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const backend = await scriptedBackend(t);
  await route('fuzz', `http://127.0.0.1:${backend.port}`);
  const problems: string[] = [];
  const run = await fc.check(
    fc.asyncProperty(responses, async ({ bytes, pieces }) => {
      const direct = llhttpRead(bytes);
      backend.next(pieces);
      const proxied = await fetchOutcome(proxy.port, '/fuzz/');
      const problem = compare(direct, proxied, bytes);
      if (problem !== null) problems.push(`${problem}: ${describe(bytes)}`);
      return problem === null;
    }),
    { numRuns: 400, seed: 20261130, endOnFailure: true },
  );
  t.same(problems, [], `${run.numRuns} responses (seed ${run.seed})`);
});

function compare(direct: Outcome, proxied: Outcome, bytes: Buffer): string | null {
  if (direct.status <= 0) {
    if (proxied.status === 502 && proxied.toolhostError === 'TH_ERR_PROXY_BACKEND_FAILED') return null;
    return `llhttp read no head, the proxy answered ${proxied.status}`;
  }
  if (proxied.status === 502 && proxied.toolhostError === 'TH_ERR_PROXY_BACKEND_FAILED') {
    const head = bytes.toString('latin1');
    return STRICTER.some(([, re]) => re.test(head)) ? null : `llhttp read ${direct.status}, the proxy refused the head`;
  }
  if (proxied.status !== direct.status) return `status ${proxied.status} through the proxy, ${direct.status} read by llhttp`;
  if (direct.complete) {
    if (!proxied.complete) return 'complete for llhttp, cut through the proxy';
    if (!proxied.body.equals(direct.body)) return `body differs (${proxied.body.length} bytes through the proxy, ${direct.body.length} for llhttp)`;
    return null;
  }
  if (proxied.complete) return 'cut for llhttp, complete through the proxy';
  if (!direct.body.subarray(0, proxied.body.length).equals(proxied.body)) return 'the cut body is not a prefix of what llhttp read';
  return null;
}
