// Forwarding one HTTP request to a tool's backend: pooled keep-alive connections, bodies
// streamed both ways (never buffered whole), the upstream request destroyed when the client
// goes away, our own timer for the response head so a timeout (504) is told apart from a
// refusal or reset (502), and idempotent requests retried on the next backend when one refuses.
import http from 'node:http';
import type { BackendPool, CompiledRoute, LiveBackend } from './backend-pool.js';
import type { ErrorPages, ProxyErrorKind } from './error-pages.js';
import { downstreamResponseHeaders, upstreamRequestHeaders, type ForwardFacts } from './header-policy.js';

export interface ForwarderOptions {
  /** how long a backend may take to send its response head */
  readonly responseTimeoutMs: number;
}

export interface ForwardOutcome {
  readonly status: number;
  readonly bytes: number;
  readonly error: ProxyErrorKind | null;
}

const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hasBody(req: http.IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

export class Forwarder {
  readonly #pool: BackendPool;
  readonly #pages: ErrorPages;
  readonly #options: ForwarderOptions;
  readonly #onRetry: () => void;

  constructor(pool: BackendPool, pages: ErrorPages, options: ForwarderOptions, onRetry: () => void) {
    this.#pool = pool;
    this.#pages = pages;
    this.#options = options;
    this.#onRetry = onRetry;
  }

  forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    tool: string,
    compiled: CompiledRoute,
    facts: ForwardFacts,
    done: (outcome: ForwardOutcome) => void,
  ): void {
    const headers = upstreamRequestHeaders(req.headers, facts, false);
    const retryable = RETRYABLE_METHODS.has(req.method ?? '') && !hasBody(req);
    const pool = this.#pool;
    const pages = this.#pages;
    const timeoutMs = this.#options.responseTimeoutMs;
    const onRetry = this.#onRetry;
    let finished = false;
    let current: http.ClientRequest | null = null;
    const socketBytesAtStart = req.socket.bytesWritten;

    const finish = (error: ProxyErrorKind | null): void => {
      if (finished) return;
      finished = true;
      const len = res.getHeader('content-length');
      const bytes = typeof len === 'number' ? len : typeof len === 'string' ? Number(len) : Math.max(0, req.socket.bytesWritten - socketBytesAtStart);
      done({ status: res.statusCode, bytes, error });
    };
    const fail = (kind: ProxyErrorKind): void => {
      if (!res.headersSent) pages.send(res, kind, tool);
      else res.destroy();
      finish(kind);
    };

    // the client went away before the response was complete: stop the upstream request too
    res.once('close', () => {
      if (!res.writableFinished) {
        current?.destroy();
        finish(null);
      }
    });

    const attempt = (backend: LiveBackend, triesLeft: number): void => {
      let timedOut = false;
      let answered = false;
      const up = http.request({
        host: backend.backend.host,
        port: backend.backend.port,
        method: req.method,
        path: req.url,
        headers,
        agent: backend.agent,
      });
      current = up;
      const timer = setTimeout(() => {
        timedOut = true;
        up.destroy();
        fail('gateway-timeout');
      }, timeoutMs);

      up.on('response', (ures) => {
        answered = true;
        clearTimeout(timer);
        if (res.destroyed) {
          ures.destroy();
          return;
        }
        ures.on('error', () => res.destroy());
        ures.on('aborted', () => res.destroy());
        res.writeHead(ures.statusCode ?? 502, ures.statusMessage, downstreamResponseHeaders(ures.rawHeaders));
        ures.pipe(res);
        res.once('finish', () => finish(null));
      });

      up.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (timedOut || finished || res.destroyed) return;
        if (answered) {
          res.destroy();
          finish('bad-gateway');
          return;
        }
        const now = Date.now();
        const refused = err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH';
        if (refused) pool.markDown(backend, now);
        // a refused connection never reached the backend; a reset on a reused pooled socket is
        // the keep-alive race (the backend closed it as we sent): both are safe to retry
        const safe = refused || ((err.code === 'ECONNRESET' || err.message === 'socket hang up') && up.reusedSocket);
        if (retryable && safe && triesLeft > 0) {
          const next = refused ? pool.pick(compiled, now, backend) : backend;
          if (next) {
            onRetry();
            attempt(next, triesLeft - 1);
            return;
          }
        }
        fail('bad-gateway');
      });

      if (retryable) up.end();
      else req.pipe(up);
    };

    const first = pool.pick(compiled, Date.now());
    if (!first) {
      fail('no-backend');
      return;
    }
    req.on('error', () => current?.destroy());
    attempt(first, Math.max(1, compiled.backends.length));
  }
}
