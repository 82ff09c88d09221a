// The fast lane's readers: what they accept, what they hand to the slow path, and that the
// chunked scanner finds the same end however the bytes are split.
import fc from 'fast-check';
import t from 'tap';
import { CLIENT_IDENTITY, HOP_BY_HOP } from '../../src/proxy/header-policy.js';
import { ChunkedScanner } from '../../src/proxy/http1/chunked-scanner.js';
import { DROPPED_REQUEST_HEADERS, parseRequestHead, type RequestHead } from '../../src/proxy/http1/request-head.js';
import { parseResponseHead, type ResponseHead } from '../../src/proxy/http1/response-head.js';

const req = (text: string, max = 16384) => parseRequestHead(Buffer.from(text, 'latin1'), max);
const res = (text: string, head = false) => parseResponseHead(Buffer.from(text, 'latin1'), head, 65536);

t.test('a plain head is read; hop-by-hop, client-address and Connection-named headers stay behind', async (t) => {
  const text =
    'GET /tool/a?b=1 HTTP/1.1\r\nHost: example.org\r\nX-Forwarded-For: 10.0.0.1\r\nUser-Agent: bot/1\r\nConnection: keep-alive, X-Secret\r\n' +
    'X-Secret: s\r\nForwarded: for=1.2.3.4\r\nReferer: http://r/\r\nAccept: */*\r\nContent-Length: 3\r\n\r\nabc';
  const head = req(text) as RequestHead;
  t.equal(head.method, 'GET');
  t.equal(head.target, '/tool/a?b=1');
  t.equal(head.host, 'example.org');
  t.equal(head.contentLength, 3);
  t.equal(head.userAgent, 'bot/1');
  t.equal(head.referer, 'http://r/');
  t.equal(head.close, false);
  t.equal(head.forwardLines, 'Host: example.org\r\nUser-Agent: bot/1\r\nReferer: http://r/\r\nAccept: */*\r\nContent-Length: 3\r\n');
  t.equal(head.size, text.length - 3, 'size counts the whole head, not the body');
  t.equal((req('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') as RequestHead).close, true);
});

t.test('the fast lane drops exactly what the slow path drops', async (t) => {
  t.same([...DROPPED_REQUEST_HEADERS].sort(), [...new Set([...HOP_BY_HOP, ...CLIENT_IDENTITY, 'expect'])].sort());
});

t.test('anything unusual is handed to the slow path, an unfinished head waits', async (t) => {
  const delegated = [
    'GET /a HTTP/1.0\r\nHost: x\r\n\r\n',
    'get /a HTTP/1.1\r\nHost: x\r\n\r\n',
    'CONNECT a:443 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /a HTTP/1.1\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n  folded\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost : x\r\n\r\n',
    '\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const text of delegated) t.equal(req(text), 'delegate', JSON.stringify(text));
  t.equal(req('GET /a HTTP/1.1\r\nHost: x\r\n'), 'incomplete');
  t.equal(req(`GET /a HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(200)}`, 100), 'delegate', 'over the head limit before its end');
  t.equal(req(`GET /a HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(200)}\r\n\r\n`, 100), 'delegate', 'a complete head over the limit');
});

t.test('response heads: framing, reuse, hop-by-hop headers', async (t) => {
  const plain = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Tool: y\r\n\r\nhello') as ResponseHead;
  t.same(plain.framing, { kind: 'length', length: 5 });
  t.equal(plain.reusable, true);
  t.equal(plain.forwardLines, 'Content-Length: 5\r\nX-Tool: y\r\n');
  t.equal(plain.size, 49);

  const chunked = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n') as ResponseHead;
  t.same(chunked.framing, { kind: 'chunked' });
  t.equal(chunked.forwardLines, 'Transfer-Encoding: chunked\r\n', 'Content-Length under Transfer-Encoding, Keep-Alive and Connection-named headers dropped');

  const http10 = res('HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n') as ResponseHead;
  t.equal(http10.reusable, false, 'HTTP/1.0 without keep-alive');
  t.equal((res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n') as ResponseHead).reusable, true);
  t.equal((res('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n') as ResponseHead).reusable, false);

  const untilClose = res('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n') as ResponseHead;
  t.same(untilClose.framing, { kind: 'close' });
  t.equal(untilClose.reusable, false);

  t.same((res('HTTP/1.1 204 No Content\r\n\r\n') as ResponseHead).framing, { kind: 'none' });
  t.same((res('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n') as ResponseHead).framing, { kind: 'none' });
  t.same((res('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', true) as ResponseHead).framing, { kind: 'none' }, 'answer to HEAD');
  t.equal((res('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n') as ResponseHead).status, 103);
  t.equal((res('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n') as ResponseHead).reusable, true, 'equal repeated lengths are one length');

  for (const bad of [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n',
    'HTTP/1.1 200 OK\r\n folded\r\n\r\n',
    'garbage\r\n\r\n',
  ]) {
    t.equal(res(bad), 'invalid', JSON.stringify(bad));
  }
  t.equal(res('HTTP/1.1 200 OK\r\nX: y\r\n'), 'incomplete');
});

/** the chunked encoding of `parts`, with trailers and extensions */
function chunkedBody(parts: string[], trailers: string[], extension: boolean): Buffer {
  let out = '';
  for (const p of parts) out += `${Buffer.byteLength(p).toString(16)}${extension ? ';name=value' : ''}\r\n${p}\r\n`;
  out += '0\r\n';
  for (const tr of trailers) out += `${tr}\r\n`;
  return Buffer.from(`${out}\r\n`);
}

t.test('the chunked scanner finds the end however the bytes are split, and nothing past it', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 8 }),
      fc.array(fc.constantFrom('X-Sum: 1', 'Expires: never'), { maxLength: 2 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 30 }),
      (parts, trailers, extension, cuts) => {
        const body = chunkedBody(parts, trailers, extension);
        const stream = Buffer.concat([body, Buffer.from('HTTP/1.1 200 OK\r\n')]);
        const scanner = new ChunkedScanner();
        let at = 0;
        let consumed = 0;
        let i = 0;
        while (at < stream.length && !scanner.done) {
          const piece = stream.subarray(at, at + (cuts[i++ % cuts.length] as number));
          const n = scanner.feed(piece);
          if (n < 0) return false;
          consumed += n;
          at += piece.length;
        }
        return scanner.done && consumed === body.length;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random bodies and splits');
});

t.test('bad chunked framing is an error, not a guess', async (t) => {
  for (const bad of ['x\r\n', '5\r\nhello!!', '5\r\nhelloXY', '5\nhello\r\n', `${'f'.repeat(16)}\r\n`, '0\r\nTrailer\n\r\n']) {
    t.equal(new ChunkedScanner().feed(Buffer.from(bad)), -1, JSON.stringify(bad));
  }
});
