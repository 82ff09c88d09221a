// One request relayed to a backend by the fast lane (after a refusal or a timeout, perhaps to the
// next backend), as a state machine whose timers belong to its states (as in undici's client-h1):
//
//   receiving-body ──► connecting ──► awaiting-response ──► relaying ──► done
//   (body buffered,     (connect         (request sent;        (response
//    no backend yet)     timeout)         response timeout;     body, idle
//                          │  ▲           1xx relayed)          timeout)
//                          └──┘ retry ◄────────┘
//
// A body up to the buffering limit is held by the proxy (request-body.ts) before a backend is
// chosen, so a slow client never holds one of the tool's workers; a larger body streams as it
// comes, the backend connected at once. Failures are read by upstream-failure.ts, as on the Node
// lane. The response is relayed as it comes, its framing followed only to know where it ends.
import type { CompiledRoute, LiveBackend } from '../backend-pool.js';
import { proxyStatus, type ProxyErrorCode } from '../error-pages.js';
import { answerBytes } from '../proxy-answers.js';
import type { BufferedBody } from '../request-body.js';
import { classifyUpstreamError, failureOutcome, isIdempotent } from '../upstream-failure.js';
import { closingAnswer } from './answers.js';
import { ChunkedScanner } from './chunked-scanner.js';
import { dateLine } from './http-date.js';
import { IN_FLIGHT_LIMIT, type ExchangeClient, type LaneContext } from './lane-context.js';
import type { RequestHead } from './request-head.js';
import { parseResponseHead, type ResponseHead } from './response-head.js';
import type { ReadChunk, UpstreamConnection, UpstreamUser } from './upstream-sockets.js';

const MAX_RESPONSE_HEAD = 64 * 1024;
const EMPTY = Buffer.alloc(0);

type Phase = 'receiving-body' | 'connecting' | 'awaiting-response' | 'relaying' | 'done';

const NEXT: Readonly<Record<Phase, readonly Phase[]>> = {
  'receiving-body': ['connecting', 'done'],
  connecting: ['awaiting-response', 'connecting', 'done'],
  'awaiting-response': ['relaying', 'connecting', 'done'],
  relaying: ['done'],
  done: [],
};

export interface ForwardRoute {
  readonly tool: string;
  readonly compiled: CompiledRoute;
}

export class Exchange implements UpstreamUser {
  readonly #ctx: LaneContext;
  readonly #client: ExchangeClient;
  readonly #head: RequestHead;
  readonly #route: ForwardRoute;
  #phase: Phase;
  /** when the current phase gives up (0: no limit); set on entering the phase */
  #deadline = 0;
  /** when the client's body must be in (0: no body outstanding) */
  #bodyDeadline = 0;
  #upstream: UpstreamConnection | null = null;
  #backend: LiveBackend | null = null;
  #triesLeft: number;
  readonly #started = performance.now();
  readonly #requestHead: string;
  /** request body bytes the client has yet to send */
  #bodyLeft: number;
  /** the body held until complete; null: no body, or one that streams */
  #body: BufferedBody | null = null;
  #responseBuffer: Buffer = EMPTY;
  #response: ResponseHead | null = null;
  #lengthLeft = 0;
  #scanner: ChunkedScanner | null = null;
  #bytes = 0;
  #status = 0;
  /** the code of the error page the proxy answered with, if it did */
  #error: ProxyErrorCode | undefined;
  #closeClient = false;

  constructor(ctx: LaneContext, client: ExchangeClient, head: RequestHead, route: ForwardRoute) {
    this.#ctx = ctx;
    this.#client = client;
    this.#head = head;
    this.#route = route;
    this.#bodyLeft = Math.max(0, head.contentLength);
    this.#triesLeft = Math.max(1, route.compiled.backends.length);
    this.#requestHead =
      `${head.method} ${head.target} HTTP/1.1\r\n${head.forwardLines}` +
      `x-forwarded-proto: ${client.proto}\r\nx-forwarded-host: ${head.host}\r\nx-forwarded-port: ${client.localPort}\r\n\r\n`;
    const now = Date.now();
    if (this.#bodyLeft > 0) {
      this.#bodyDeadline = now + ctx.options.requestTimeoutMs;
      this.#body = ctx.host.bodies.create(this.#bodyLeft);
    }
    this.#phase = this.#body !== null ? 'receiving-body' : 'connecting';
  }

  #to(next: Phase, deadline: number): void {
    if (!NEXT[this.#phase].includes(next)) throw new Error(`fast lane exchange: ${this.#phase} -> ${next}`);
    this.#phase = next;
    this.#deadline = deadline;
  }

  /** begin: connect now, unless the body is to be buffered first */
  start(): void {
    if (this.#phase === 'connecting') {
      const backend = this.#ctx.host.pick(this.#route.compiled, Date.now(), null);
      if (backend === null) {
        this.#fail('TH_ERR_PROXY_TOOL_DOWN');
        return;
      }
      this.#connect(backend);
    }
  }

  /** in the connecting phase: a connection to `backend`, the request written on it */
  #connect(backend: LiveBackend): void {
    if (this.#phase !== 'connecting') throw new Error(`fast lane exchange: connect in ${this.#phase}`);
    // the connect timeout belongs to this phase; a reused connection leaves it at once
    this.#deadline = Date.now() + this.#ctx.options.connectTimeoutMs;
    this.#backend = backend;
    this.#responseBuffer = EMPTY;
    const up = this.#ctx.upstream.acquire(backend.backend.host, backend.backend.port, this);
    this.#upstream = up;
    const socket = up.socket;
    const body = this.#body;
    if (body === null) socket.write(this.#requestHead, 'latin1');
    else if (body.inMemory) {
      socket.cork();
      socket.write(this.#requestHead, 'latin1');
      body.writeTo(socket, () => {});
      socket.uncork();
    } else {
      socket.write(this.#requestHead, 'latin1');
      body.writeTo(socket, (err) => {
        // the temp file could not be read back (a closed backend connection is told apart by onUpstreamGone)
        if (err !== null && this.#upstream === up) this.#fail('TH_ERR_PROXY_INTERNAL');
      });
    }
    if (up.connected) this.onUpstreamConnect();
  }

  onUpstreamConnect(): void {
    if (this.#phase !== 'connecting') return;
    // the backend's time to answer runs from when it has the whole request
    this.#to('awaiting-response', this.#bodyLeft > 0 ? 0 : Date.now() + this.#ctx.options.responseTimeoutMs);
  }

  /** bytes from the client while this exchange is on: the body, then (returned) whatever follows */
  requestBody(chunk: Buffer): Buffer | null {
    if (this.#bodyLeft === 0) return chunk;
    const take = Math.min(this.#bodyLeft, chunk.length);
    this.#bodyLeft -= take;
    const part = take === chunk.length ? chunk : chunk.subarray(0, take);
    if (this.#phase === 'receiving-body') this.#buffer(part);
    else if (this.#phase !== 'done') this.#stream(part);
    if (take === chunk.length) return null;
    return chunk.subarray(take);
  }

  #buffer(part: Buffer): void {
    const body = this.#body as BufferedBody;
    if (!body.append(part)) {
      this.#client.pauseReading();
      body.onDrain(() => this.#client.resumeReading());
    }
    if (this.#bodyLeft > 0) return;
    this.#bodyDeadline = 0;
    body.finish((err) => {
      if (this.#phase !== 'receiving-body') return;
      if (err) {
        this.#fail('TH_ERR_PROXY_INTERNAL');
        return;
      }
      const backend = this.#ctx.host.pick(this.#route.compiled, Date.now(), null);
      if (backend === null) this.#fail('TH_ERR_PROXY_TOOL_DOWN');
      else {
        this.#to('connecting', 0);
        this.#connect(backend);
      }
    });
  }

  #stream(part: Buffer): void {
    const up = this.#upstream;
    if (up !== null) {
      up.socket.write(part);
      if (up.socket.writableLength > IN_FLIGHT_LIMIT) this.#client.pauseReading();
    }
    if (this.#bodyLeft === 0) {
      this.#bodyDeadline = 0;
      if (this.#phase === 'awaiting-response') this.#deadline = Date.now() + this.#ctx.options.responseTimeoutMs;
    }
  }

  onUpstreamDrain(): void {
    if (this.#bodyLeft > 0 && this.#body === null) this.#client.resumeReading();
  }

  onClientDrain(): void {
    const up = this.#upstream;
    if (up && up.socket.isPaused()) up.socket.resume();
  }

  onUpstreamData(chunk: ReadChunk): void {
    if (this.#phase === 'connecting') this.onUpstreamConnect();
    if (this.#phase === 'relaying') {
      this.#deadline = Date.now() + this.#ctx.options.responseTimeoutMs;
      this.#relay(chunk);
      return;
    }
    if (this.#phase !== 'awaiting-response') return;
    const buf = this.#responseBuffer.length === 0 ? chunk.peek() : Buffer.concat([this.#responseBuffer, chunk.peek()]);
    let offset = 0;
    for (;;) {
      const view = offset === 0 ? buf : buf.subarray(offset);
      const r = parseResponseHead(view, this.#head.method === 'HEAD', MAX_RESPONSE_HEAD);
      if (r === 'incomplete') {
        // a chunk's bytes live in the connection's read buffer, which the next read overwrites
        this.#responseBuffer = this.#responseBuffer.length === 0 ? chunk.slice(offset).copy() : view;
        return;
      }
      if (r === 'invalid' || r.status === 101) {
        this.#upstreamFailed('TH_BAD_RESPONSE');
        return;
      }
      offset += r.size;
      if (r.status >= 200) {
        const fromChunk = this.#responseBuffer.length === 0;
        this.#responseBuffer = EMPTY;
        // the bytes after the head: still the connection's read buffer when they came in this read
        const rest = fromChunk ? chunk.slice(offset) : null;
        const restCopy = fromChunk ? null : buf.subarray(offset);
        this.#begin(r, rest, restCopy);
        return;
      }
      // RFC 9110 15.2: a proxy forwards 1xx answers (all but 101, which only follows an Upgrade)
      this.#deadline = Date.now() + this.#ctx.options.responseTimeoutMs;
      this.#client.socket.write(`HTTP/1.1 ${r.status} ${r.reason}\r\n${r.forwardLines}\r\n`, 'latin1');
    }
  }

  #begin(r: ResponseHead, rest: ReadChunk | null, restOwned: Buffer | null): void {
    this.#response = r;
    this.#status = r.status;
    this.#to('relaying', Date.now() + this.#ctx.options.responseTimeoutMs);
    // a backend that answers before the body is all in (a 413, say) ends the connection
    this.#closeClient = this.#bodyLeft > 0 || r.framing.kind === 'close' || this.#ctx.closing();
    const rewrite = this.#client.proto === 'https' ? this.#ctx.host.rewriteLocation : null;
    const lines = rewrite === null ? r.forwardLines : rewrite(r.forwardLines, this.#head.host);
    const headText =
      `HTTP/1.1 ${r.status} ${r.reason}\r\n${lines}${r.hasDate ? '' : dateLine()}` +
      `${this.#ctx.hstsLine(this.#client.proto)}${this.#closeClient || this.#head.close ? 'connection: close\r\n' : ''}\r\n`;
    const socket = this.#client.socket;
    socket.cork();
    socket.write(headText, 'latin1');
    if (r.framing.kind === 'length') this.#lengthLeft = r.framing.length;
    else if (r.framing.kind === 'chunked') this.#scanner = new ChunkedScanner();
    const restLength = rest?.length ?? restOwned?.length ?? 0;
    if (r.framing.kind === 'none' || (r.framing.kind === 'length' && this.#lengthLeft === 0)) {
      socket.uncork();
      this.#complete(restLength === 0);
      return;
    }
    if (rest !== null && rest.length > 0) this.#relay(rest);
    else if (restOwned !== null && restOwned.length > 0) this.#relayOwned(restOwned);
    socket.uncork();
  }

  /** body bytes of the current read: written through the chunk, so the connection knows who holds its buffer */
  #relay(chunk: ReadChunk): void {
    const n = this.#bodyPart(chunk.peek());
    if (n < 0) return;
    const part = n === chunk.length ? chunk : chunk.slice(0, n);
    this.#bytes += part.length;
    part.writeTo(this.#client.socket);
    this.#afterRelay(n, chunk.length);
  }

  /** body bytes that came with a head spread over several reads (already a buffer of their own) */
  #relayOwned(bytes: Buffer): void {
    const n = this.#bodyPart(bytes);
    if (n < 0) return;
    this.#bytes += n;
    this.#client.socket.write(n === bytes.length ? bytes : bytes.subarray(0, n));
    this.#afterRelay(n, bytes.length);
  }

  #ended = false;

  /** how many of these bytes belong to the response body (-1: bad framing, relay aborted) */
  #bodyPart(bytes: Buffer): number {
    const r = this.#response as ResponseHead;
    this.#ended = false;
    if (r.framing.kind === 'length') {
      const n = Math.min(bytes.length, this.#lengthLeft);
      this.#lengthLeft -= n;
      this.#ended = this.#lengthLeft === 0;
      return n;
    }
    if (r.framing.kind === 'chunked') {
      const scanner = this.#scanner as ChunkedScanner;
      const n = scanner.feed(bytes);
      if (n < 0) {
        this.#abort();
        return -1;
      }
      this.#ended = scanner.done;
      return n;
    }
    return bytes.length;
  }

  #afterRelay(used: number, got: number): void {
    if (this.#ended) this.#complete(used === got);
    else if (this.#client.socket.writableLength > IN_FLIGHT_LIMIT) this.#upstream?.socket.pause();
  }

  /** the response is all relayed; clean: the backend sent nothing past its end */
  #complete(clean: boolean): void {
    if (this.#phase === 'done') return;
    this.#to('done', 0);
    const up = this.#upstream;
    this.#upstream = null;
    const reusable = clean && this.#bodyLeft === 0 && (this.#response?.reusable ?? false);
    if (up) {
      if (reusable) this.#ctx.upstream.release(up, Date.now());
      else this.#ctx.upstream.discard(up);
    }
    this.#finish();
    this.#client.exchangeDone(this.#closeClient);
  }

  onUpstreamGone(err: NodeJS.ErrnoException | null): void {
    this.#upstream = null;
    if (this.#phase === 'done') return;
    if (this.#phase === 'relaying') {
      if (err === null && this.#response?.framing.kind === 'close') {
        this.#closeClient = true;
        this.#complete(false);
      } else this.#abort();
      return;
    }
    this.#upstreamFailed(err?.code ?? 'ECONNRESET');
  }

  /** no response head yet, and the backend failed: retry, or answer for it (upstream-failure.ts) */
  #upstreamFailed(code: string): void {
    this.#discardUpstream();
    const now = Date.now();
    const backend = this.#backend as LiveBackend;
    const outcome = failureOutcome(classifyUpstreamError(code), {
      idempotent: isIdempotent(this.#head.method),
      replayable: this.#head.contentLength <= 0 || (this.#body !== null && this.#bodyLeft === 0),
    });
    if (outcome.markDown) this.#ctx.host.markDown(backend, now);
    if (outcome.retry !== null && this.#triesLeft-- > 0) {
      const next = outcome.retry === 'another-backend' ? this.#ctx.host.pick(this.#route.compiled, now, backend) : backend;
      if (next !== null) {
        this.#ctx.host.onRetry();
        this.#to('connecting', 0);
        this.#connect(next);
        return;
      }
    }
    this.#fail(outcome.answer);
  }

  /** an error page instead of the backend's answer */
  #fail(kind: ProxyErrorCode): void {
    if (this.#phase === 'done') return;
    if (this.#phase === 'relaying') {
      this.#abort();
      return;
    }
    this.#to('done', 0);
    this.#discardUpstream();
    const close = this.#bodyLeft > 0 || this.#head.close;
    const page = this.#ctx.host.render({ kind: 'error', error: kind, tool: this.#route.tool });
    this.#status = page.status;
    this.#error = kind;
    this.#client.socket.write(answerBytes(page, { headOnly: this.#head.method === 'HEAD', close, hstsLine: this.#ctx.hstsLine(this.#client.proto) }));
    this.#finish();
    this.#client.exchangeDone(close);
  }

  #requestTimedOut(): void {
    this.#to('done', 0);
    this.#discardUpstream();
    this.#status = proxyStatus('TH_ERR_PROXY_REQUEST_TIMEOUT');
    this.#error = 'TH_ERR_PROXY_REQUEST_TIMEOUT';
    this.#client.socket.write(closingAnswer('TH_ERR_PROXY_REQUEST_TIMEOUT'));
    this.#finish();
    this.#client.exchangeDone(true);
  }

  /**
   * The response broke after its head went out. What was relayed is sent, then the connection
   * ends: the client sees a chunked or length-framed body cut short. A body framed by the
   * connection's end would look complete that way, so that connection is reset instead.
   */
  #abort(): void {
    if (this.#phase === 'done') return;
    this.#to('done', 0);
    this.#discardUpstream();
    this.#finish();
    this.#client.responseBroken(this.#response?.framing.kind === 'close');
  }

  #discardUpstream(): void {
    const up = this.#upstream;
    this.#upstream = null;
    if (up) this.#ctx.upstream.discard(up);
  }

  onClientGone(): void {
    if (this.#phase === 'done') return;
    this.#to('done', 0);
    this.#discardUpstream();
    // nginx's 499: the client closed the connection before the response was complete
    if (this.#status === 0) this.#status = 499;
    this.#finish();
  }

  /** the lane's sweep: act on a deadline that has passed */
  checkTimers(now: number): void {
    if (this.#phase === 'done') return;
    if (this.#bodyDeadline !== 0 && now >= this.#bodyDeadline) {
      // the client's body is late, not the backend: 408, as Node's server answers
      if (this.#phase === 'relaying') this.#abort();
      else this.#requestTimedOut();
      return;
    }
    if (this.#deadline === 0 || now < this.#deadline) return;
    switch (this.#phase) {
      case 'connecting':
        this.#upstreamFailed('TH_CONNECT_TIMEOUT');
        return;
      case 'awaiting-response':
        this.#upstreamFailed('TH_RESPONSE_TIMEOUT');
        return;
      case 'relaying':
        // a client that does not read is not the backend's fault: only a silent backend times out
        if (this.#upstream?.socket.isPaused()) this.#deadline = now + this.#ctx.options.responseTimeoutMs;
        else this.#abort();
        return;
      default:
        return;
    }
  }

  #finish(): void {
    this.#body?.release();
    this.#body = null;
    const h = this.#head;
    this.#ctx.host.record({
      method: h.method,
      target: h.rawTarget,
      httpVersion: '1.1',
      referer: h.referer,
      userAgent: h.userAgent,
      tool: this.#route.tool,
      status: this.#status,
      bytes: this.#bytes,
      durationMs: performance.now() - this.#started,
      error: this.#error,
    });
  }
}
