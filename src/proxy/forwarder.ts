// Forwarding one request from Node's server to a tool's backend: pooled keep-alive connections
// (undici). A request body up to the buffering limit is read whole first (request-body.ts, as
// the fast lane does), so a slow client never holds a backend connection; a larger one streams,
// capped at the body limit. Responses stream back with backpressure; 1xx interim answers are
// relayed to HTTP/1.1 clients; the upstream request is aborted when the client goes away.
// Failures are read by upstream-failure.ts, the same reading as the fast lane's.
import type http from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { BackendPool, CompiledRoute, LiveBackend } from './backend-pool.js';
import type { ErrorPages, ProxyErrorCode } from './error-pages.js';
import { downstreamHeaderObject, upstreamRequestHeaders, type ForwardFacts } from './header-policy.js';
import type { BodyBuffers, BufferedBody } from './request-body.js';
import { classifyUpstreamError, failureOutcome, isIdempotent } from './upstream-failure.js';

export interface ForwardOutcome {
  readonly status: number;
  readonly bytes: number;
  readonly error: ProxyErrorCode | null;
}

export interface ForwarderOptions {
  readonly maxBodyBytes: number;
  readonly bodies: BodyBuffers;
  readonly onRetry: () => void;
  /** a Location value rewritten for an HTTPS response (TLS on, rewriting on), or null */
  readonly rewriteLocation: ((location: string, requestHost: string) => string) | null;
}

/**
 * A response whose whole length is known and small is written with one syscall (headers and
 * body corked together): 1 KB responses went from 5 700 to 6 600 req/s in the prototype.
 */
const CORK_LIMIT = 64 * 1024;

type RequestBody = Buffer | Readable | null;

export class Forwarder {
  readonly #pool: BackendPool;
  readonly #pages: ErrorPages;
  readonly #o: ForwarderOptions;

  constructor(pool: BackendPool, pages: ErrorPages, options: ForwarderOptions) {
    this.#pool = pool;
    this.#pages = pages;
    this.#o = options;
  }

  /** facts.host: the effective host (an absolute-form target's authority); path: the origin-form target */
  forward(req: http.IncomingMessage, res: http.ServerResponse, path: string, tool: string, compiled: CompiledRoute, facts: ForwardFacts, done: (outcome: ForwardOutcome) => void): void {
    new ForwardedRequest(this.#pool, this.#pages, this.#o, req, res, path, tool, compiled, facts, done).begin();
  }
}

/** one request's journey; a class so its state lives in fields, not in a nest of closures */
class ForwardedRequest implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null;
  #backend: LiveBackend | null = null;
  #triesLeft: number;
  #finished = false;
  #started = false;
  #bytes = 0;
  #body: RequestBody = null;
  /** the body can be sent again (none, or held whole) */
  #replayable = true;
  #buffered: BufferedBody | null = null;
  readonly #headers: http.OutgoingHttpHeaders;

  constructor(
    readonly pool: BackendPool,
    readonly pages: ErrorPages,
    readonly o: ForwarderOptions,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly path: string,
    readonly tool: string,
    readonly compiled: CompiledRoute,
    readonly facts: ForwardFacts,
    readonly done: (outcome: ForwardOutcome) => void,
  ) {
    this.#headers = upstreamRequestHeaders(req.headers, facts, false);
    this.#triesLeft = Math.max(1, compiled.backends.length);
    // the client went away before the response was complete: stop the upstream request too
    res.once('close', () => {
      if (!res.writableFinished) {
        this.#controller?.abort(new Error('client closed the connection'));
        this.#finish(null);
      }
    });
  }

  begin(): void {
    const len = this.req.headers['content-length'];
    const chunked = this.req.headers['transfer-encoding'] !== undefined;
    const length = len === undefined ? -1 : Number(len);
    if (!chunked && length <= 0) {
      this.#dispatchFirst();
      return;
    }
    const buffered = this.o.bodies.create(chunked ? -1 : length);
    if (buffered === null) {
      this.#streamBody(null, this.req[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
      return;
    }
    this.#buffered = buffered;
    void this.#collect(buffered);
  }

  /** read the body into the buffer; stream instead when it outgrows the buffering limits */
  async #collect(body: BufferedBody): Promise<void> {
    const it = this.req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        const r = await it.next();
        if (this.#finished) return;
        if (r.done) break;
        const chunk = r.value;
        if (body.size + chunk.length > this.o.maxBodyBytes) return this.#fail('TH_ERR_PROXY_BODY_TOO_LARGE');
        if (body.size + chunk.length > this.o.bodies.maxBytes) {
          // longer than what is buffered: what is held goes first, the rest streams
          this.#streamBody(body, it, chunk);
          return;
        }
        if (!body.append(chunk)) {
          if (body.full) {
            this.#streamBody(body, it, chunk);
            return;
          }
          await new Promise<void>((resolve) => body.onDrain(resolve));
        }
      }
      const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => body.finish(resolve));
      if (this.#finished) return;
      if (err) return this.#fail('TH_ERR_PROXY_INTERNAL');
      this.#body = body.inMemory ? Buffer.concat([...(await collect(body))]) : null;
      this.#dispatchFirst();
    } catch {
      // the client went away (or timed out) while sending its body: nothing was forwarded
      this.#finish(null);
    }
  }

  /** the body streams: what was held first, then the rest as it comes, capped at the body limit */
  #streamBody(held: BufferedBody | null, rest: AsyncIterator<Buffer>, pending?: Buffer): void {
    this.#replayable = false;
    const max = this.o.maxBodyBytes;
    const onTooLarge = (): void => {
      // the 413 first: the abort reports an upstream error, which must not answer 502
      this.#fail('TH_ERR_PROXY_BODY_TOO_LARGE');
      this.#controller?.abort(new Error('request body too large'));
      this.res.once('finish', () => this.req.destroy());
    };
    async function* body(): AsyncGenerator<Buffer> {
      let seen = 0;
      if (held !== null) {
        for await (const c of held.chunks()) {
          seen += c.length;
          yield c;
        }
      }
      if (pending !== undefined) {
        seen += pending.length;
        yield pending;
      }
      for (;;) {
        const r = await rest.next();
        if (r.done) return;
        seen += r.value.length;
        if (seen > max) {
          onTooLarge();
          return;
        }
        yield r.value;
      }
    }
    this.#body = Readable.from(body(), { objectMode: false });
    this.#dispatchFirst();
  }

  #dispatchFirst(): void {
    if (this.#finished) return;
    const first = this.pool.pick(this.compiled, Date.now());
    if (!first) {
      this.#fail('TH_ERR_PROXY_TOOL_DOWN');
      return;
    }
    this.#start(first);
  }

  #start(backend: LiveBackend): void {
    this.#backend = backend;
    this.#controller = null;
    let body: RequestBody = this.#body;
    let headers = this.#headers;
    if (body === null && this.#buffered !== null && !this.#buffered.inMemory) {
      // a body held in a temp file is read again from its start for every try; it is whole, so it
      // goes with its Content-Length as nginx sends a held body — even one the client sent chunked,
      // which WSGI servers (uWSGI's http-socket) would read as empty
      body = Readable.from(this.#buffered.chunks(), { objectMode: false });
      headers = { ...headers, 'content-length': String(this.#buffered.size) };
    }
    this.pool.poolFor(backend.backend).dispatch(
      {
        path: this.path,
        method: (this.req.method ?? 'GET'),
        headers: headers as Record<string, string | string[]>,
        body,
      },
      this,
    );
  }

  #finish(error: ProxyErrorCode | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#buffered?.release();
    this.#buffered = null;
    this.done({ status: this.res.headersSent ? this.res.statusCode : 499, bytes: this.#bytes, error });
  }

  #fail(kind: ProxyErrorCode): void {
    if (!this.res.headersSent) this.pages.send(this.res, kind, this.tool);
    else this.res.destroy();
    this.#finish(kind);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#finished) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    const res = this.res;
    if (res.destroyed) {
      controller.abort(new Error('client closed the connection'));
      return;
    }
    if (statusCode < 200) {
      this.#interim(statusCode, headers, statusMessage);
      return;
    }
    this.#started = true;
    const len = headers['content-length'];
    if (typeof len === 'string' && Number(len) <= CORK_LIMIT) res.cork();
    const out = downstreamHeaderObject(headers);
    const rewrite = this.o.rewriteLocation;
    if (rewrite !== null && this.facts.proto === 'https' && typeof out.location === 'string') out.location = rewrite(out.location, this.facts.host);
    res.writeHead(statusCode, statusMessage || undefined, out);
  }

  /**
   * RFC 9110 15.2: a proxy forwards 1xx answers, but never to an HTTP/1.0 client. Nothing else
   * has been written on this connection yet (it carries this one request), so the interim
   * answer goes on the socket as it is.
   */
  #interim(statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage: string | undefined): void {
    if (this.req.httpVersionMinor !== 1 || this.req.httpVersionMajor !== 1 || this.res.headersSent) return;
    let head = `HTTP/1.1 ${statusCode} ${statusMessage ?? ''}\r\n`;
    const out = downstreamHeaderObject(headers);
    for (const name in out) for (const v of ([] as string[]).concat(out[name] as string | string[])) head += `${name}: ${v}\r\n`;
    this.req.socket.write(`${head}\r\n`, 'latin1');
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.#finish(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    if (this.#finished || this.res.destroyed) return;
    if (this.#started) {
      this.res.destroy();
      this.#finish('TH_ERR_PROXY_BACKEND_FAILED');
      return;
    }
    const now = Date.now();
    const backend = this.#backend as LiveBackend;
    const outcome = failureOutcome(classifyUpstreamError(err.code), { idempotent: isIdempotent(this.req.method ?? ''), replayable: this.#replayable });
    if (outcome.markDown) this.pool.markDown(backend, now);
    if (outcome.retry !== null && this.#triesLeft-- > 0) {
      const next = outcome.retry === 'another-backend' ? this.pool.pick(this.compiled, now, backend) : backend;
      if (next) {
        this.o.onRetry();
        this.#start(next);
        return;
      }
    }
    this.#fail(outcome.answer);
  }
}

async function collect(body: BufferedBody): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of body.chunks()) out.push(c);
  return out;
}
