// What the fast lane's parts share, and what they need from the proxy around them. The lane hands
// this context to its connections and exchanges; none of it is public on the lane itself.
import type { ProxyErrorCode } from '../error-pages.js';
import type { Duplex } from 'node:stream';
import type { Answer, Decision, Proto } from '../admission.js';
import type { CompiledRoute, LiveBackend } from '../backend-pool.js';
import type { RenderedAnswer } from '../proxy-answers.js';
import type { BodyBuffers } from '../request-body.js';
import type { ExchangeRecord } from '../request-recorder.js';
import type { RequestHead } from './request-head.js';
import type { UpstreamSockets } from './upstream-sockets.js';

export type SocketLike = Duplex & { remoteAddress?: string; localPort?: number };

/** what the fast lane needs from the proxy around it */
export interface FastLaneHost {
  /** the one admission decision (admission.ts), taken once per request */
  admit(head: RequestHead, proto: Proto, clientAddress: string): Decision;
  render(answer: Answer): RenderedAnswer;
  pick(compiled: CompiledRoute, now: number, exclude: LiveBackend | null): LiveBackend | null;
  markDown(backend: LiveBackend, now: number): void;
  /** give the connection to Node's HTTP server, bytes already read put back first */
  delegate(socket: Duplex, proto: Proto): void;
  record(entry: ExchangeRecord): void;
  /** a head answered before it could be read as a request */
  refused(code: ProxyErrorCode): void;
  onRetry(): void;
  /** the response header lines with Location rewritten to https (TLS on, rewriting on), or null */
  readonly rewriteLocation: ((lines: string, requestHost: string) => string) | null;
  readonly bodies: BodyBuffers;
}

export interface FastLaneOptions {
  readonly maxHeadBytes: number;
  /** a backend has this long to accept the connection (then 504, and it is skipped for a while) */
  readonly connectTimeoutMs: number;
  /** and this long, once it has the request, to start answering (then 504) */
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

/**
 * Bytes written to one side and not yet taken by it before the other side is paused (or, for
 * the proxy's own answers, before the next pipelined request is read). Pausing at Node's 16 KB
 * default stopped and restarted the backend socket several times per 100 KB response (measured:
 * 100 KB req/s x1.5 with this limit); nginx, too, buffers about this much.
 */
export const IN_FLIGHT_LIMIT = 256 * 1024;

/** the lane's shared state, as its connections and exchanges see it */
export interface LaneContext {
  readonly host: FastLaneHost;
  readonly options: FastLaneOptions;
  readonly upstream: UpstreamSockets;
  /** the proxy is closing: finish what is in progress, take nothing new */
  closing(): boolean;
  /** `strict-transport-security: ...\r\n` on HTTPS connections, else '' */
  hstsLine(proto: Proto): string;
  /** the connection is gone or handed over */
  forget(conn: object): void;
}

/** what an exchange needs from the client connection it runs on */
export interface ExchangeClient {
  readonly socket: SocketLike;
  readonly proto: Proto;
  readonly localPort: number;
  /** the exchange is over; closeClient: the connection must close after what was written */
  exchangeDone(closeClient: boolean): void;
  /** the response was cut short: end the connection after what was written (reset: at once) */
  responseBroken(reset: boolean): void;
  pauseReading(): void;
  resumeReading(): void;
}
