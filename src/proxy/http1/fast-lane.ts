// The fast lane: plain HTTP/1.1 requests are read by a strict head reader, admitted by the
// proxy's one admission decision, and either answered by the proxy or relayed to the tool over
// raw keep-alive sockets, head rewritten and body bytes passed through unchanged, the way nginx
// does it. Measured on the benchmark machine, a relay like this served 3.5x the requests of the
// same proxy built on node:http + undici (npm run bench -- throughput). Valid requests it does
// not relay (HTTP/1.0, chunked bodies, Expect, Upgrade) are handed, with the bytes already read,
// to Node's HTTP server for that one request.
//
// The parts: client-connection.ts (one client connection), exchange.ts (one request to a
// backend), upstream-sockets.ts (keep-alive backend connections and their read buffers).
import type { Proto } from '../admission.js';
import { ClientConnection } from './client-connection.js';
import type { FastLaneHost, FastLaneOptions, LaneContext, SocketLike } from './lane-context.js';
import { UpstreamSockets } from './upstream-sockets.js';

export type { FastLaneHost, FastLaneOptions } from './lane-context.js';

export class FastLane {
  readonly #ctx: LaneContext;
  readonly #upstream: UpstreamSockets;
  readonly #connections = new Set<ClientConnection>();
  readonly #sweeper: NodeJS.Timeout;
  #closing = false;

  constructor(host: FastLaneHost, options: FastLaneOptions) {
    this.#upstream = new UpstreamSockets(options.upstreamKeepAliveMs);
    const hsts = options.hsts ? `strict-transport-security: ${options.hsts}\r\n` : '';
    this.#ctx = {
      host,
      options,
      upstream: this.#upstream,
      closing: () => this.#closing,
      hstsLine: (proto) => (proto === 'https' ? hsts : ''),
      forget: (conn) => this.#connections.delete(conn as ClientConnection),
    };
    // one coarse timer for every connection's and exchange's deadlines, like Node's own
    // connectionsCheckingInterval: a timer per request would cost more than the check
    const shortest = Math.min(options.headersTimeoutMs, options.responseTimeoutMs, options.requestTimeoutMs, options.connectTimeoutMs);
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(50, Math.min(1000, shortest / 4)));
    this.#sweeper.unref();
  }

  /** open client connections in the lane */
  get connections(): number {
    return this.#connections.size;
  }

  /** open connections to backends */
  get upstreamSockets(): number {
    return this.#upstream.open;
  }

  accept(socket: SocketLike, proto: Proto): void {
    const conn = new ClientConnection(this.#ctx, socket, proto);
    this.#connections.add(conn);
    conn.begin();
  }

  /** stop taking requests: idle connections close now, busy ones after their response */
  close(): void {
    this.#closing = true;
    for (const c of [...this.#connections]) c.closeWhenIdle();
    this.#upstream.destroyAll();
  }

  destroy(): void {
    this.#closing = true;
    clearInterval(this.#sweeper);
    for (const c of [...this.#connections]) c.destroy();
    this.#upstream.destroyAll();
  }

  #sweep(): void {
    const now = Date.now();
    for (const c of this.#connections) c.checkTimers(now);
    this.#upstream.sweep(now);
  }
}
