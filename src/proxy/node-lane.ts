// Node's HTTP server, for the requests the fast lane hands over (HTTP/1.0, chunked bodies,
// Expect: 100-continue, websocket upgrades). It never listens itself: it is given connections,
// with the bytes already read put back. A handed-over connection carries the one request whose
// head the fast lane's reader judged, and closes after its answer, so no request head reaches a
// tool unless that reader has read it (Node's parser is more lenient: it takes doubled spaces,
// two Host headers, HTTP/2.0 on a request line). Each request takes the same admission decision
// as in the fast lane, and is recorded by the same recorder.
import { proxyStatus, refusalCode } from './error-pages.js';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Admission, Proto } from './admission.js';
import type { Forwarder } from './forwarder.js';
import { endWith, refuse } from './http1/answers.js';
import { answerBytes, type ProxyAnswers } from './proxy-answers.js';
import type { RequestRecorder } from './request-recorder.js';
import { effectiveTarget } from './request-target.js';
import type { UpgradeForwarder } from './websocket.js';

export interface NodeLaneParts {
  readonly admission: Admission;
  readonly answers: ProxyAnswers;
  readonly forwarder: Forwarder;
  readonly upgrades: UpgradeForwarder;
  readonly recorder: RequestRecorder;
  /** the Strict-Transport-Security value for HTTPS responses, or null */
  readonly hsts: string | null;
}

export interface NodeLaneOptions {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/** the one request of a handed-over connection, recorded once whatever ends it */
class InFlight {
  /** the tool asked for, once admitted */
  tool = '';
  #recorded = false;
  readonly #started = performance.now();

  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse | null,
    readonly recorder: RequestRecorder,
  ) {}

  record(status: number, bytes: number, error?: string): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const req = this.req;
    this.recorder.record({
      method: req.method ?? '-',
      target: req.url ?? '',
      httpVersion: req.httpVersion,
      referer: req.headers.referer,
      userAgent: req.headers['user-agent'],
      tool: this.tool,
      status,
      bytes,
      durationMs: performance.now() - this.#started,
      error,
    });
  }
}

export class NodeLane {
  readonly #parts: NodeLaneParts;
  readonly #options: NodeLaneOptions;
  readonly #servers = new Map<Proto, http.Server>();
  readonly #inFlight = new WeakMap<Duplex, InFlight>();

  constructor(parts: NodeLaneParts, options: NodeLaneOptions) {
    this.#parts = parts;
    this.#options = options;
  }

  /** give Node's server a connection (its bytes already read put back on it) */
  accept(socket: Duplex, proto: Proto): void {
    this.#server(proto).emit('connection', socket);
  }

  #server(proto: Proto): http.Server {
    let server = this.#servers.get(proto);
    if (server) return server;
    const o = this.#options;
    server = http.createServer(
      {
        keepAliveTimeout: o.keepAliveTimeoutMs,
        headersTimeout: o.headersTimeoutMs,
        requestTimeout: o.requestTimeoutMs,
        maxHeaderSize: o.maxHeaderBytes,
        // how often slow clients are looked for (Node's default, 30 s, outlives short timeouts)
        connectionsCheckingInterval: Math.max(50, Math.min(1000, o.headersTimeoutMs / 4)),
      },
      (req, res) => this.#request(req, res, proto, false),
    );
    // Expect: 100-continue is admitted first: a refused request is answered without reading its body
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => this.#request(req, res, proto, true));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head, proto));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.#clientError(err, socket));
    // 'listening' starts Node's header and request timers for the connections it is given
    server.emit('listening');
    this.#servers.set(proto, server);
    return server;
  }

  #begin(socket: Duplex, req: http.IncomingMessage, res: http.ServerResponse | null): InFlight | null {
    // a request pipelined behind the handed-over one: its head was not read by the fast lane's
    // reader, so it is not acted on; the connection closes after the first answer
    if (this.#inFlight.has(socket)) return null;
    const flight = new InFlight(req, res, this.#parts.recorder);
    this.#inFlight.set(socket, flight);
    return flight;
  }

  #admit(req: http.IncomingMessage, proto: Proto): { path: string; host: string; decision: ReturnType<Admission['admit']> } {
    const routed = effectiveTarget(req.url ?? '');
    const host = routed?.authority ?? req.headers.host ?? '';
    const len = req.headers['content-length'];
    const decision = this.#parts.admission.admit(
      {
        method: req.method ?? 'GET',
        target: routed?.path ?? '',
        host,
        userAgent: req.headers['user-agent'],
        accept: req.headers.accept,
        contentLength: len === undefined ? -1 : Number(len),
        proto,
        clientAddress: req.socket.remoteAddress ?? '',
      },
      Date.now(),
    );
    return { path: routed?.path ?? '', host, decision };
  }

  #request(req: http.IncomingMessage, res: http.ServerResponse, proto: Proto, expectsContinue: boolean): void {
    const flight = this.#begin(req.socket, req, res);
    if (flight === null) return;
    res.shouldKeepAlive = false;
    const { path, host, decision } = this.#admit(req, proto);
    flight.tool = decision.tool;
    if (proto === 'https' && this.#parts.hsts) res.setHeader('strict-transport-security', this.#parts.hsts);
    if (decision.kind === 'answer') {
      const a = this.#parts.answers.render(decision.answer);
      const headOnly = req.method === 'HEAD';
      res.writeHead(a.status, a.headers);
      res.end(headOnly ? undefined : a.body);
      flight.record(a.status, headOnly ? 0 : Buffer.byteLength(a.body), a.headers['x-toolhost-error']);
      return;
    }
    if (expectsContinue) res.writeContinue();
    const facts = { proto, host, port: req.socket.localPort ?? 0 };
    this.#parts.forwarder.forward(req, res, path, decision.tool, decision.compiled, facts, (o) => flight.record(o.status, o.bytes, o.error ?? undefined));
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, proto: Proto): void {
    socket.on('error', () => socket.destroy());
    const flight = this.#begin(socket, req, null);
    if (flight === null) {
      socket.destroy();
      return;
    }
    const { path, host, decision } = this.#admit(req, proto);
    flight.tool = decision.tool;
    if (decision.kind === 'answer') {
      const a = this.#parts.answers.render(decision.answer);
      const headOnly = req.method === 'HEAD';
      const hstsLine = proto === 'https' && this.#parts.hsts ? `strict-transport-security: ${this.#parts.hsts}\r\n` : '';
      endWith(socket, answerBytes(a, { headOnly, close: true, hstsLine }));
      flight.record(a.status, headOnly ? 0 : Buffer.byteLength(a.body), a.headers['x-toolhost-error']);
      return;
    }
    const facts = { proto, host, port: (socket as { localPort?: number }).localPort ?? 0 };
    this.#parts.upgrades.forward(req, socket, head, path, decision.compiled, facts, (status, bytes) => flight.record(status, bytes));
  }

  #clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code = refusalCode(err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
    const flight = this.#inFlight.get(socket);
    if (flight?.res?.headersSent) {
      // an answer is under way: a status line now would corrupt it
      socket.destroy();
      return;
    }
    if (flight) flight.record(proxyStatus(code), 0, code);
    else this.#parts.recorder.refused(code);
    refuse(socket, code);
  }

  /** keep-alive connections without a request in progress close now */
  closeIdle(): void {
    for (const s of this.#servers.values()) s.closeIdleConnections();
  }

  destroy(): void {
    for (const s of this.#servers.values()) s.closeAllConnections();
  }

  /** stops the header-timeout timers of the never-listening servers */
  close(): void {
    for (const s of this.#servers.values()) s.close();
  }
}
