// The fast lane's readers: what they accept, what they hand to the slow path, and that the
// chunked scanner finds the same end however the bytes are split.
import fc from 'fast-check';
import t from 'tap';
import { upstreamRequestHeaders } from '../../src/proxy/header-policy.js';
import { ChunkedScanner } from '../../src/proxy/http1/chunked-scanner.js';
import { DROPPED_REQUEST_HEADERS, isRefusal, parseRequestHead, type RequestHead } from '../../src/proxy/http1/request-head.js';
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

t.test('both lanes keep the same headers off the backend hop: hop-by-hop, client-address, Proxy and Expect', async (t) => {
  // the documented list (docs/reference/proxy.md#privacy), written out: not recomputed from the constants under test
  const dropped = [
    'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
    'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-server', 'x-real-ip', 'x-client-ip',
    'x-cluster-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'forwarded', 'via', 'proxy', 'expect',
  ];
  const facts = { proto: 'http' as const, host: 'x', port: 80 };
  for (const name of dropped) {
    // the fast lane: a head with the header (and one to keep) relayed without it
    const head = req(`GET /t/ HTTP/1.1\r\nHost: x\r\n${name}: v\r\nX-Keep: k\r\n\r\n`);
    if (typeof head === 'object' && 'forwardLines' in head) {
      t.notMatch(head.forwardLines.toLowerCase(), new RegExp(`(^|\\r\\n)${name}:`), `fast lane drops ${name}`);
      t.match(head.forwardLines, /X-Keep: k/);
    } else t.ok(head === 'delegate' || (isRefusal(head) && name === 'transfer-encoding'), `${name}: not relayed by the fast lane (${JSON.stringify(head)})`);
    // the Node lane's header rule
    const out = upstreamRequestHeaders({ host: 'x', [name]: 'v', 'x-keep': 'k' }, facts, false);
    t.not(out[name], 'v', `Node lane drops ${name}`);
    t.equal(out['x-keep'], 'k');
  }
  t.equal(DROPPED_REQUEST_HEADERS.size, dropped.length, 'and nothing else is dropped');
});

t.test("valid requests the fast lane does not relay are handed to Node's server", async (t) => {
  const delegated = [
    'GET /a HTTP/1.0\r\nHost: x\r\n\r\n',
    'GET /a HTTP/1.0\r\n\r\n',
    'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n',
  ];
  for (const text of delegated) t.equal(req(text), 'delegate', JSON.stringify(text));
  t.equal(req('GET /a HTTP/1.1\r\nHost: x\r\n'), 'incomplete');
});

t.test('ambiguous or malformed heads are refused (400, or 431 when too large), never handed on (#10)', async (t) => {
  const refused: [string, number][] = [
    ['get /a HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['FOO /a HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['CONNECT a:443 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET  /a HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET /a  HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET /a\r\nHost: x\r\n\r\n', 400],
    ['GET /a HTTP/2.0\r\nHost: x\r\n\r\n', 400],
    ['GET /a HTTP/1.2\r\nHost: x\r\n\r\n', 400],
    ['GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET http://u@x/a HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x y\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 400],
    ['POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\n', 400],
    ['POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, transfer-encoding\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nConnection: Host\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n  folded\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\rX: y\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n', 400],
    ['GET /a HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ];
  for (const [text, status] of refused) {
    const r = req(text);
    t.equal(isRefusal(r) ? r.refuse : r, status, JSON.stringify(text));
  }
  const complete = req(`GET /a HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(200)}\r\n\r\n`, 100);
  t.equal(isRefusal(complete) ? complete.refuse : complete, 431, 'a complete head over the limit');
  const unfinished = req(`GET /a HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(200)}`, 100);
  t.equal(isRefusal(unfinished) ? unfinished.refuse : unfinished, 431, 'over the head limit before its end');
});

t.test('bytes that cannot start an HTTP/1.x request are refused as soon as that is certain (#10)', async (t) => {
  const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  for (const bytes of [clientHello, Buffer.from('GEX'), Buffer.from('GET /a\r'), Buffer.from('GET /a HTTP/2'), Buffer.from('GET /a HTTP/1.1X'), Buffer.from('\x00')]) {
    const r = parseRequestHead(bytes, 16384);
    t.equal(isRefusal(r) ? r.refuse : r, 400, JSON.stringify(bytes.toString('latin1')));
  }
  for (const prefix of ['G', 'GE', 'GET', 'GET ', 'GET /a', 'GET /a H', 'GET /a HTTP/1.', 'GET /a HTTP/1.1\r', 'M-SEA', '\r\n', '\r\nGET']) {
    t.equal(req(prefix), 'incomplete', `${JSON.stringify(prefix)} may still become a request`);
  }
  t.equal((req('\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n') as RequestHead).target, '/a', 'an empty line before the request line is ignored (RFC 9112 2.2)');
});

t.test('an absolute-form target is routed by its path, and its authority replaces Host (RFC 9112 3.2.2, #10)', async (t) => {
  const head = req('GET http://Tools.Example:8080/tool/x?y=1 HTTP/1.1\r\nHost: other\r\nAccept: */*\r\n\r\n') as RequestHead;
  t.equal(head.target, '/tool/x?y=1');
  t.equal(head.rawTarget, 'http://Tools.Example:8080/tool/x?y=1');
  t.equal(head.host, 'Tools.Example:8080');
  t.equal(head.forwardLines, "Host: Tools.Example:8080\r\nAccept: */*\r\n", "one Host, the target's");
  t.equal((req('GET https://h?q HTTP/1.1\r\nHost: h\r\n\r\n') as RequestHead).target, '/?q', 'an empty path is /');
});

t.test('response heads: framing, reuse, hop-by-hop headers', async (t) => {
  const plain = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Tool: y\r\n\r\nhello') as ResponseHead;
  t.same(plain.framing, { kind: 'length', length: 5 });
  t.equal(plain.reusable, true);
  t.equal(plain.forwardLines, 'Content-Length: 5\r\nX-Tool: y\r\n');
  t.equal(plain.size, 49);

  const chunked = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n') as ResponseHead;
  t.same(chunked.framing, { kind: 'chunked' });
  t.equal(chunked.forwardLines, 'Transfer-Encoding: chunked\r\n', 'Keep-Alive and Connection-named headers dropped');
  t.equal(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'), 'invalid', 'Transfer-Encoding with Content-Length: refused, as llhttp does (#10)');

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
  t.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n'), 'invalid', 'a list of lengths, even equal ones, is refused as llhttp refuses it (#10)');
  t.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'), 'invalid', 'and so are two equal lines');

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
