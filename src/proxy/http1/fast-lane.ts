// The fast lane: plain HTTP/1.1 requests for a tool with a live backend are relayed over raw
// sockets, head rewritten and body bytes passed through unchanged, the way nginx does it.
// Measured on the benchmark machine, a relay like this served 3.5x the requests of the same
// proxy built on node:http + undici (npm run bench -- throughput). Everything else (the home
// page, error pages for unknown tools, redirects, websockets, chunked request bodies, Expect,
// HTTP/1.0, anything the strict head reader does not accept) is handed, with the bytes already
// read, to Node's HTTP server, which keeps the connection from then on.
import type { Duplex } from 'node:stream';
import type { CompiledRoute, LiveBackend } from '../backend-pool.js';
import type { ErrorPages, ProxyErrorKind } from '../error-pages.js';
import { ChunkedScanner } from './chunked-scanner.js';
import { parseRequestHead, type RequestHead } from './request-head.js';
import { closingAnswer, refuse, statusLine } from './answers.js';
import { parseResponseHead, type ResponseHead } from './response-head.js';
import { UpstreamSockets, type UpstreamConnection, type UpstreamUser } from './upstream-sockets.js';

export type Proto = 'http' | 'https';

export interface FastRoute {
  readonly tool: string;
  readonly compiled: CompiledRoute;
  readonly backend: LiveBackend;
}

export interface FastExchangeRecord {
  readonly tool: string;
  readonly head: RequestHead;
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly error: ProxyErrorKind | null;
}

/** what the fast lane needs from the proxy around it */
export interface FastLaneHost {
  /** the route for this request, or null to let the slow path answer it */
  fastRoute(head: RequestHead, proto: Proto, clientAddress: string): FastRoute | null;
  pick(compiled: CompiledRoute, now: number, exclude: LiveBackend): LiveBackend | null;
  markDown(backend: LiveBackend, now: number): void;
  /** give the connection to Node's HTTP server, bytes already read put back first */
  delegate(socket: Duplex, proto: Proto): void;
  record(entry: FastExchangeRecord): void;
  onRetry(): void;
}

export interface FastLaneOptions {
  readonly maxHeadBytes: number;
  readonly responseTimeoutMs: number;
  /** an idle keep-alive client is closed after this long */
  readonly keepAliveTimeoutMs: number;
  /** a client has this long to send a complete head (then 408) */
  readonly headersTimeoutMs: number;
  /** and this long for the whole request */
  readonly requestTimeoutMs: number;
  readonly upstreamKeepAliveMs: number;
  readonly hsts: string | null;
}

const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
const MAX_RESPONSE_HEAD = 64 * 1024;
/**
 * Bytes written to one side and not yet taken by it before the other side is paused. Pausing at
 * Node's 16 KB default stopped and restarted the backend socket several times per 100 KB
 * response (measured: 100 KB req/s x1.5 with this limit); nginx, too, buffers about this much.
 */
const IN_FLIGHT_LIMIT = 256 * 1024;

type SocketLike = Duplex & { remoteAddress?: string; localPort?: number };

export class FastLane {
  readonly #host: FastLaneHost;
  readonly #pages: ErrorPages;
  readonly o: FastLaneOptions;
  readonly upstream: UpstreamSockets;
  readonly #connections = new Set<ClientConnection>();
  readonly #sweeper: NodeJS.Timeout;
  #closing = false;

  constructor(host: FastLaneHost, pages: ErrorPages, options: FastLaneOptions) {
    this.#host = host;
    this.#pages = pages;
    this.o = options;
    this.upstream = new UpstreamSockets(options.upstreamKeepAliveMs);
    // one coarse timer for every connection's head and idle limits, like Node's own
    // connectionsCheckingInterval: a timer per request would cost more than the check
    const shortest = Math.min(options.headersTimeoutMs, options.responseTimeoutMs, options.requestTimeoutMs);
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.min(1000, shortest / 4)));
    this.#sweeper.unref();
  }

  get host(): FastLaneHost {
    return this.#host;
  }

  get connections(): number {
    return this.#connections.size;
  }

  accept(socket: SocketLike, proto: Proto): void {
    const conn = new ClientConnection(this, socket, proto);
    this.#connections.add(conn);
    conn.begin();
  }

  forget(conn: ClientConnection): void {
    this.#connections.delete(conn);
  }

  /** HSTS header line for a response on this kind of connection */
  hstsLine(proto: Proto): string {
    return proto === 'https' && this.o.hsts ? `strict-transport-security: ${this.o.hsts}\r\n` : '';
  }

  errorResponse(kind: ProxyErrorKind, tool: string, proto: Proto, close: boolean): { status: number; bytes: Buffer } {
    const status = this.#pages.status(kind);
    const body = this.#pages.render(kind, tool);
    const head =
      `${statusLine(status)}\r\n${Object.entries(this.#pages.headers(kind, body)).map(([name, value]) => `${name}: ${value}\r\n`).join('')}` +
      `${this.hstsLine(proto)}` +
      `${close ? 'connection: close\r\n' : ''}\r\n`;
    return { status, bytes: Buffer.from(head + body, 'utf8') };
  }

  /** stop taking requests: idle connections close now, busy ones after their response */
  close(): void {
    this.#closing = true;
    for (const c of [...this.#connections]) c.closeWhenIdle();
    this.upstream.destroyAll();
  }

  get closing(): boolean {
    return this.#closing;
  }

  destroy(): void {
    clearInterval(this.#sweeper);
    for (const c of [...this.#connections]) c.socket.destroy();
    this.upstream.destroyAll();
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.#connections) c.checkTimers(now);
    this.upstream.sweep(now);
  }
}

const EMPTY = Buffer.alloc(0);

class ClientConnection {
  readonly address: string;
  #buffer: Buffer = EMPTY;
  #exchange: Exchange | null = null;
  /** close after the exchange in progress (client asked, or the proxy is closing) */
  #closeAfter = false;
  #served = 0;
  /** when the connection became idle, or when the first byte of a pending head arrived */
  #waitingSince = Date.now();
  #headStarted = false;
  readonly #onData = (chunk: Buffer): void => this.#data(chunk);
  readonly #onEnd = (): void => this.#end();
  readonly #onDrain = (): void => this.#exchange?.onClientDrain();
  readonly #onClose = (): void => this.#closed();
  readonly #onError = (): void => {
    this.socket.destroy();
  };

  constructor(
    readonly lane: FastLane,
    readonly socket: SocketLike,
    readonly proto: Proto,
  ) {
    this.address = socket.remoteAddress ?? '';
  }

  /** the lane's listeners, attached at the start and all removed at a hand-over */
  #listeners(): [string, ((chunk: Buffer) => void) | (() => void)][] {
    return [
      ['data', this.#onData],
      ['end', this.#onEnd],
      ['drain', this.#onDrain],
      ['close', this.#onClose],
      ['error', this.#onError],
    ];
  }

  begin(): void {
    for (const [event, listener] of this.#listeners()) this.socket.on(event, listener);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  closeWhenIdle(): void {
    this.#closeAfter = true;
    if (!this.#exchange) this.socket.end();
  }

  #data(chunk: Buffer): void {
    if (this.#exchange) {
      const rest = this.#exchange.requestBody(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    // after a Connection: close (or a cut-short body), whatever else the client sends is dropped
    if (chunk.length === 0 || (this.#closeAfter && !this.#exchange)) return;
    if (this.#buffer.length === 0) {
      this.#buffer = chunk;
      if (!this.#headStarted) {
        this.#headStarted = true;
        this.#waitingSince = Date.now();
      }
    } else this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#exchange) {
      // a pipelined request waits its turn; beyond a head's worth, stop reading
      if (this.#buffer.length > this.lane.o.maxHeadBytes) this.socket.pause();
      return;
    }
    this.#next();
  }

  #next(): void {
    if (this.#closeAfter || this.#buffer.length === 0) return;
    const head = parseRequestHead(this.#buffer, this.lane.o.maxHeadBytes);
    if (head === 'incomplete') return;
    if (head === 'delegate') {
      this.#handOver();
      return;
    }
    const route = this.lane.host.fastRoute(head, this.proto, this.address);
    if (route === null) {
      this.#handOver();
      return;
    }
    this.#buffer = this.#buffer.length === head.size ? EMPTY : this.#buffer.subarray(head.size);
    this.#headStarted = false;
    this.#served++;
    if (head.close) this.#closeAfter = true;
    const exchange = new Exchange(this, head, route);
    this.#exchange = exchange;
    exchange.start(route.backend);
    if (this.#buffer.length > 0 && this.#exchange === exchange) {
      const pending = this.#buffer;
      this.#buffer = EMPTY;
      const rest = exchange.requestBody(pending);
      if (rest !== null && rest.length > 0) this.#buffer = rest;
    }
  }

  #handOver(): void {
    const s = this.socket;
    for (const [event, listener] of this.#listeners()) s.off(event, listener);
    this.lane.forget(this);
    s.pause();
    if (this.#buffer.length > 0) s.unshift(this.#buffer);
    this.#buffer = EMPTY;
    this.lane.host.delegate(s, this.proto);
    s.resume();
  }

  /** the exchange is over; the response has been written */
  exchangeDone(closeClient: boolean): void {
    this.#exchange = null;
    this.#waitingSince = Date.now();
    if (closeClient || this.#closeAfter || this.lane.closing) {
      this.#closeAfter = true;
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buffer.length > 0) {
      this.#headStarted = true;
      this.#next();
    }
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  #end(): void {
    // A client that closes its side while waiting has gone away, as Node's server and nginx
    // (its 499) take it: the backend request is dropped, not finished for nobody.
    this.#closeAfter = true;
    if (!this.#exchange) {
      this.socket.end();
      return;
    }
    this.#exchange.onClientGone();
    this.#exchange = null;
    this.socket.destroy();
  }

  #closed(): void {
    this.lane.forget(this);
    this.#exchange?.onClientGone();
    this.#exchange = null;
  }

  checkTimers(now: number): void {
    if (this.#exchange) {
      this.#exchange.checkTimers(now);
      return;
    }
    const o = this.lane.o;
    if (this.#headStarted && this.#buffer.length > 0) {
      if (now - this.#waitingSince >= o.headersTimeoutMs) refuse(this.socket, 408);
    } else if (this.#served === 0 ? now - this.#waitingSince >= o.headersTimeoutMs : now - this.#waitingSince >= o.keepAliveTimeoutMs) {
      this.socket.destroy();
    }
  }
}

const enum Phase {
  WaitingHead,
  Body,
  Done,
}

/** one request relayed to one backend (or, after a refusal, to the next) */
class Exchange implements UpstreamUser {
  #phase = Phase.WaitingHead;
  #upstream: UpstreamConnection | null = null;
  #backend: LiveBackend;
  #triesLeft: number;
  readonly #retryable: boolean;
  readonly #started = performance.now();
  readonly #requestHead: string;
  /** request body bytes the client has yet to send */
  #bodyLeft: number;
  #responseBuffer: Buffer = EMPTY;
  #response: ResponseHead | null = null;
  #lengthLeft = 0;
  #scanner: ChunkedScanner | null = null;
  #bytes = 0;
  #status = 0;
  #closeClient = false;
  /** Date.now() of the last sign of life from the backend */
  #lastUpstream = Date.now();
  readonly #requestStarted = Date.now();

  constructor(
    readonly conn: ClientConnection,
    readonly head: RequestHead,
    readonly route: FastRoute,
  ) {
    this.#backend = route.backend;
    this.#bodyLeft = Math.max(0, head.contentLength);
    this.#retryable = RETRYABLE.has(head.method) && head.contentLength <= 0;
    this.#triesLeft = Math.max(1, route.compiled.backends.length);
    this.#requestHead =
      `${head.method} ${head.target} HTTP/1.1\r\n${head.forwardLines}` +
      `x-forwarded-proto: ${conn.proto}\r\nx-forwarded-host: ${head.host}\r\nx-forwarded-port: ${conn.localPort}\r\n\r\n`;
  }

  start(backend: LiveBackend): void {
    this.#backend = backend;
    this.#lastUpstream = Date.now();
    const up = this.conn.lane.upstream.acquire(backend.backend.host, backend.backend.port, this);
    this.#upstream = up;
    up.socket.write(this.#requestHead, 'latin1');
  }

  /** bytes from the client while this exchange is on: the body, then (returned) whatever follows */
  requestBody(chunk: Buffer): Buffer | null {
    if (this.#bodyLeft === 0) return chunk;
    const take = Math.min(this.#bodyLeft, chunk.length);
    this.#bodyLeft -= take;
    // the backend's time to answer starts when it has the whole request
    if (this.#bodyLeft === 0) this.#lastUpstream = Date.now();
    const part = take === chunk.length ? chunk : chunk.subarray(0, take);
    const up = this.#upstream;
    if (up && this.#phase !== Phase.Done) {
      up.socket.write(part);
      if (up.socket.writableLength > IN_FLIGHT_LIMIT) this.conn.pauseReading();
    }
    if (take === chunk.length) return null;
    return chunk.subarray(take);
  }

  onUpstreamDrain(): void {
    if (this.#bodyLeft > 0) this.conn.resumeReading();
  }

  onClientDrain(): void {
    const up = this.#upstream;
    if (up && up.socket.isPaused()) up.socket.resume();
  }

  onUpstreamData(chunk: Buffer): void {
    this.#lastUpstream = Date.now();
    if (this.#phase === Phase.Body) {
      this.#relay(chunk);
      return;
    }
    if (this.#phase !== Phase.WaitingHead) return;
    let buf = this.#responseBuffer.length === 0 ? chunk : Buffer.concat([this.#responseBuffer, chunk]);
    for (;;) {
      const r = parseResponseHead(buf, this.head.method === 'HEAD', MAX_RESPONSE_HEAD);
      if (r === 'incomplete') {
        // the chunk lives in the connection's read buffer, which the next read overwrites
        this.#responseBuffer = buf === chunk ? Buffer.from(chunk) : buf;
        return;
      }
      if (r === 'invalid' || r.status === 101) {
        this.#discardUpstream();
        this.#fail('bad-gateway');
        return;
      }
      buf = buf.subarray(r.size);
      if (r.status >= 200) {
        this.#responseBuffer = EMPTY;
        this.#begin(r, buf);
        return;
      }
      // 1xx interim answers are not relayed
    }
  }

  #begin(r: ResponseHead, rest: Buffer): void {
    this.#response = r;
    this.#status = r.status;
    this.#phase = Phase.Body;
    // a backend that answers before the body is all in (a 413, say) ends the connection
    this.#closeClient = this.#bodyLeft > 0 || r.framing.kind === 'close' || this.conn.lane.closing;
    const headText =
      `HTTP/1.1 ${r.status} ${r.reason}\r\n${r.forwardLines}` +
      `${this.conn.lane.hstsLine(this.conn.proto)}${this.#closeClient || this.head.close ? 'connection: close\r\n' : ''}\r\n`;
    const socket = this.conn.socket;
    // the completion below may hand the connection back to the pool: keep hold of it here
    const up = this.#upstream;
    socket.cork();
    socket.write(headText, 'latin1');
    switch (r.framing.kind) {
      case 'length':
        this.#lengthLeft = r.framing.length;
        break;
      case 'chunked':
        this.#scanner = new ChunkedScanner();
        break;
      default:
        break;
    }
    if (r.framing.kind === 'none' || (r.framing.kind === 'length' && this.#lengthLeft === 0)) {
      socket.uncork();
      this.#complete(rest.length === 0);
      return;
    }
    if (rest.length > 0) this.#relay(rest);
    socket.uncork();
    // Body bytes that did not go out with the head still sit in the read buffer. Deciding this
    // after the uncork, not while corked, matters: retaining on every response allocated a
    // 64 KB buffer per request, and the collector ran 30 times a second.
    if (rest.length > 0 && socket.writableLength > 0) up?.retainLastChunk();
  }

  #relay(chunk: Buffer): void {
    const r = this.#response as ResponseHead;
    let part = chunk;
    let ended = false;
    let clean = true;
    if (r.framing.kind === 'length') {
      if (chunk.length >= this.#lengthLeft) {
        part = chunk.length === this.#lengthLeft ? chunk : chunk.subarray(0, this.#lengthLeft);
        clean = chunk.length === this.#lengthLeft;
        ended = true;
      }
      this.#lengthLeft -= part.length;
    } else if (r.framing.kind === 'chunked') {
      const scanner = this.#scanner as ChunkedScanner;
      const n = scanner.feed(chunk);
      if (n < 0) {
        this.#abort();
        return;
      }
      if (scanner.done) {
        ended = true;
        clean = n === chunk.length;
        if (n < chunk.length) part = chunk.subarray(0, n);
      }
    }
    this.#bytes += part.length;
    const socket = this.conn.socket;
    socket.write(part);
    // not all written at once: the write holds on to the read buffer (while corked, #begin decides)
    if (socket.writableCorked === 0 && socket.writableLength > 0) this.#upstream?.retainLastChunk();
    if (ended) this.#complete(clean);
    else if (socket.writableLength > IN_FLIGHT_LIMIT) this.#upstream?.socket.pause();
  }

  /** the response is all relayed; clean: the backend sent nothing past its end */
  #complete(clean: boolean): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    const up = this.#upstream;
    this.#upstream = null;
    const reusable = clean && this.#bodyLeft === 0 && (this.#response?.reusable ?? false);
    if (up) {
      if (reusable) this.conn.lane.upstream.release(up, Date.now());
      else this.conn.lane.upstream.discard(up);
    }
    this.#record(null);
    this.conn.exchangeDone(this.#closeClient);
  }

  onUpstreamGone(err: NodeJS.ErrnoException | null): void {
    const up = this.#upstream;
    this.#upstream = null;
    if (this.#phase === Phase.Done) return;
    if (this.#phase === Phase.Body) {
      if (err === null && this.#response?.framing.kind === 'close') {
        this.#closeClient = true;
        this.#complete(false);
      } else this.#abort();
      return;
    }
    // no response head yet: refused, reset, or closed
    const now = Date.now();
    const code = err?.code ?? 'ECONNRESET';
    const refused = REFUSED.has(code);
    if (refused) this.conn.lane.host.markDown(this.#backend, now);
    const resetOnReuse = !refused && (up?.reused ?? false);
    if (this.#retryable && (refused || resetOnReuse || code === 'ECONNRESET' || code === 'EPIPE') && this.#triesLeft-- > 0) {
      const next = refused ? this.conn.lane.host.pick(this.route.compiled, now, this.#backend) : this.#backend;
      if (next) {
        this.conn.lane.host.onRetry();
        this.#responseBuffer = EMPTY;
        this.start(next);
        return;
      }
    }
    this.#fail('bad-gateway');
  }

  /** an error page instead of the backend's answer */
  #fail(kind: ProxyErrorKind): void {
    if (this.#phase === Phase.Done) return;
    if (this.#phase === Phase.Body) {
      this.#abort();
      return;
    }
    this.#phase = Phase.Done;
    this.#discardUpstream();
    const close = this.#bodyLeft > 0 || this.head.close;
    const page = this.conn.lane.errorResponse(kind, this.route.tool, this.conn.proto, close);
    this.#status = page.status;
    this.conn.socket.write(page.bytes);
    this.#record(kind);
    this.conn.exchangeDone(close);
  }

  #requestTimedOut(): void {
    this.#phase = Phase.Done;
    this.#discardUpstream();
    this.#status = 408;
    this.conn.socket.write(closingAnswer(408));
    this.#record(null);
    this.conn.exchangeDone(true);
  }

  /** the response broke after its head went out: the client sees the connection cut */
  #abort(): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.#discardUpstream();
    this.#record('bad-gateway');
    this.conn.socket.destroy();
  }

  #discardUpstream(): void {
    const up = this.#upstream;
    this.#upstream = null;
    if (up) this.conn.lane.upstream.discard(up);
  }

  onClientGone(): void {
    if (this.#phase === Phase.Done) return;
    this.#phase = Phase.Done;
    this.#discardUpstream();
    // nginx's 499: the client closed the connection before the response was complete
    if (this.#status === 0) this.#status = 499;
    this.#record(null);
  }

  checkTimers(now: number): void {
    const o = this.conn.lane.o;
    if (this.#bodyLeft > 0 && now - this.#requestStarted >= o.requestTimeoutMs) {
      // the client's body is late, not the backend: 408, as Node's server answers
      if (this.#phase === Phase.WaitingHead) this.#requestTimedOut();
      else this.#abort();
      return;
    }
    if (this.#bodyLeft > 0 || now - this.#lastUpstream < o.responseTimeoutMs) return;
    // a client that does not read is not the backend's fault: only a silent backend times out
    if (this.#phase === Phase.WaitingHead) this.#fail('gateway-timeout');
    else if (this.#phase === Phase.Body && !this.#upstream?.socket.isPaused()) this.#abort();
  }

  #record(error: ProxyErrorKind | null): void {
    this.conn.lane.host.record({
      tool: this.route.tool,
      head: this.head,
      status: this.#status,
      bytes: this.#bytes,
      durationMs: performance.now() - this.#started,
      error,
    });
  }
}
