// The front proxy: public listener(s) (HTTP, and HTTPS when a certificate is given), an admin
// listener, the in-memory route table, and the parts a request goes through:
//   fast lane (http1/) or Node's server (node-lane.ts) -> the one admission decision
//   (admission.ts) -> the proxy's own answer (proxy-answers.ts) or a backend (fast lane exchange,
//   forwarder.ts, websocket.ts) -> one record (request-recorder.ts: access log + metrics).
// This file only builds the parts, binds the listeners and runs start/close/destroy. Nothing on
// the path from request to forwarding awaits anything.
import { DEFAULT_SETTINGS } from '../defaults.js';
import { codedLine } from '../errors.js';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { describeRedis, entryPoints, routeProblemLine, RouteTable, type RedisConnection, type Route, type RouteProblem } from '../routes/index.js';
import { AccessLog } from './access-log.js';
import { createAdminServer } from './admin-server.js';
import { Admission, type Proto } from './admission.js';
import { backendPolicy, DEFAULT_BACKEND_NETWORKS } from './backend-networks.js';
import { BackendPool } from './backend-pool.js';
import { ClientLimits } from './client-limits.js';
import { ErrorPages } from './error-pages.js';
import { Forwarder } from './forwarder.js';
import { HomePage } from './home-page.js';
import { PageTemplate } from './html.js';
import { FastLane, type FastLaneHost } from './http1/fast-lane.js';
import { duplicateListenHandles } from './listen-handles.js';
import { LocationRewriter } from './location-rewrite.js';
import { ProxyMetrics } from './metrics.js';
import { NodeLane } from './node-lane.js';
import { ProxyAnswers } from './proxy-answers.js';
import { BodyBuffers } from './request-body.js';
import { RequestRecorder } from './request-recorder.js';
import { UpgradeForwarder } from './websocket.js';

/** what one client may do (Toolforge: 128 MB bodies, 100 requests/s with a burst of 100) */
export interface ProxyLimits {
  readonly maxBodyBytes: number;
  readonly maxHeaderBytes: number;
  readonly maxConnectionsPerIp: number;
  readonly ratePerSecond: number;
  readonly burst: number;
  /** 'deny': a request without User-Agent gets 403 (Toolforge's rule) */
  readonly emptyUserAgent: 'allow' | 'deny';
  /** a client has this long to send its request head */
  readonly headersTimeoutMs: number;
  /** and this long for the whole request */
  readonly requestTimeoutMs: number;
  /** request bodies up to this size are held by the proxy before a backend is connected (0: all stream) */
  readonly bufferBodyBytes: number;
  /** all held request bodies together (memory and temp files); beyond it, bodies stream */
  readonly bufferTotalBytes: number;
}

const L = DEFAULT_SETTINGS.limits;
/** src/defaults.ts's limits, in the units the proxy takes */
export const DEFAULT_LIMITS: ProxyLimits = {
  maxBodyBytes: L.maxBodyBytes,
  maxHeaderBytes: L.maxHeaderBytes,
  maxConnectionsPerIp: L.maxConnectionsPerIp,
  ratePerSecond: L.ratePerSecond,
  burst: L.burst,
  emptyUserAgent: L.emptyUserAgent,
  headersTimeoutMs: L.headersTimeoutSeconds * 1000,
  requestTimeoutMs: L.requestTimeoutSeconds * 1000,
  bufferBodyBytes: L.bufferBodyBytes,
  bufferTotalBytes: L.bufferTotalBytes,
};

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ProxyOptions {
  readonly listen: ListenAddress;
  readonly adminListen: ListenAddress | null;
  /** the route table's Redis: one server, or the master a Sentinel set names */
  readonly redis: RedisConnection;
  /** host routing <tool>.<domain>; null: only path routing */
  readonly domain: string | null;
  readonly pathRouting: boolean;
  /** HTTPS listener; when set, plain HTTP redirects to it and responses carry HSTS */
  readonly tls: { readonly listen: ListenAddress; readonly certFile: string; readonly keyFile: string; readonly publicPort?: number } | null;
  readonly accessLog: { readonly file: string; readonly maxBytes?: number; readonly keep?: number } | null;
  readonly responseTimeoutMs: number;
  /** a backend's time to accept a connection (default 5 s): then 504 and the backend is skipped for a while */
  readonly connectTimeoutMs?: number;
  readonly websocketIdleTimeoutMs: number;
  readonly resyncIntervalMs: number;
  readonly homeTitle: string;
  readonly templatesDir: string;
  readonly proxyName?: string;
  readonly limits?: Partial<ProxyLimits>;
  /** with TLS: a tool's `Location: http://<the host asked for>/...` becomes https (default true, as Toolforge did) */
  readonly rewriteLocation?: boolean;
  /** pass TRACE on to tools (default false: 405) */
  readonly allowTrace?: boolean;
  /** where request bodies larger than 64 KB are held (default: the system's temp directory) */
  readonly bodyTempDir?: string;
  /** CIDRs backends may be in (default: loopback) */
  readonly backendNetworks?: readonly string[];
  /** handles accepting on each public socket: libuv takes one connection per handle and loop turn (default 32; npm run bench, 512 connections: p99 2.3-3.8 s in two of five runs with 1, 0.10-0.21 s in three runs with 32) */
  readonly acceptHandles?: number;
  /** healthz says "degraded" once the route table has been cut off from Redis this long (default 60 s) */
  readonly staleAfterMs?: number;
  /** called with each route entry skipped as invalid */
  readonly onRouteProblem?: (p: RouteProblem) => void;
  readonly log?: (line: string) => void;
}

const HSTS = 'max-age=31622400';
/** how long a proxy may be cut off from Redis before healthz says it is degraded (default) */
const STALE_AFTER_MS = 60_000;
const DEFAULT_ACCEPT_HANDLES = 32;
const DEFAULT_CONNECT_TIMEOUT_MS = DEFAULT_SETTINGS.connectTimeoutSeconds * 1000;
/** a keep-alive client may stay idle this long between requests */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** below lighttpd's and Node's default server idle timeouts (5 s): the proxy closes first */
const UPSTREAM_KEEP_ALIVE_MS = 3_000;
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

export class ProxyServer {
  readonly #options: ProxyOptions;
  readonly #table: RouteTable;
  readonly #pool: BackendPool;
  readonly #metrics: ProxyMetrics;
  readonly #upgrades: UpgradeForwarder;
  readonly #accessLog: AccessLog | null;
  readonly #bodies: BodyBuffers;
  readonly #answers: ProxyAnswers;
  readonly #recorder: RequestRecorder;
  readonly #admission: Admission;
  readonly #fastLane: FastLane;
  readonly #nodeLane: NodeLane;
  readonly #home: HomePage;
  /** the listeners: plain TCP, or TLS */
  readonly #servers: { server: net.Server; proto: Proto }[] = [];
  #admin: http.Server | null = null;
  readonly #clientSockets = new Set<Socket>();
  readonly #limits: ProxyLimits;
  readonly #clients: ClientLimits;
  /** set once listening (the plain port is known then) */
  #rewriter: LocationRewriter | null = null;
  #closing = false;

  constructor(options: ProxyOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#boundAddresses.push(...this.#forbiddenTargets());
    this.#clients = new ClientLimits(this.#limits);
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#pool = new BackendPool({ responseTimeoutMs: options.responseTimeoutMs, connectTimeoutMs, maxResponseHeadBytes: MAX_RESPONSE_HEAD_BYTES });
    this.#table = new RouteTable({
      redis: options.redis,
      resyncIntervalMs: options.resyncIntervalMs,
      backendPolicy: backendPolicy(options.backendNetworks ?? DEFAULT_BACKEND_NETWORKS, this.#boundAddresses),
    });
    const pages = new ErrorPages(PageTemplate.load(`${options.templatesDir}/error-page.html`), options.proxyName, (tool) => this.#table.tool(tool));
    this.#home = new HomePage({
      template: PageTemplate.load(`${options.templatesDir}/home-page.html`),
      title: options.homeTitle,
      linkFor: (tool) => (options.domain && !options.pathRouting ? `//${tool}.${options.domain}/` : `/${tool}/`),
      routes: () => this.#table.routes(),
      tools: () => this.#table.tools(),
    });
    this.#bodies = new BodyBuffers({ maxBytes: this.#limits.bufferBodyBytes, totalBytes: this.#limits.bufferTotalBytes, tempDir: options.bodyTempDir ?? os.tmpdir() });
    this.#accessLog = options.accessLog ? new AccessLog({ ...options.accessLog, onProblem: (line) => options.log?.(line) }) : null;
    this.#metrics = new ProxyMetrics({
      openClientSockets: () => this.#clientSockets.size,
      openUpstreamSockets: () => this.#pool.openSockets() + this.#upgrades.openSockets + this.#fastLane.upstreamSockets,
      routes: () => this.#table.size,
      routeRebuilds: () => this.#table.rebuilds,
      routeTableStaleSeconds: () => Math.round(this.#table.staleForMs() / 1000),
      redisUp: () => this.#table.state === 'ready',
      accessLog: () => this.#accessLog?.status ?? null,
      bufferedBodyBytes: () => this.#bodies.held,
    });
    this.#answers = new ProxyAnswers(pages, this.#home, { problems: () => this.#problems() });
    this.#recorder = new RequestRecorder(this.#metrics, this.#accessLog, (tool) => this.#pool.get(tool) !== undefined);
    this.#admission = new Admission(
      {
        router: { domain: options.domain, pathRouting: options.pathRouting },
        maxBodyBytes: this.#limits.maxBodyBytes,
        emptyUserAgent: this.#limits.emptyUserAgent,
        allowTrace: options.allowTrace ?? false,
        httpsOrigin: options.tls ? (host) => this.#httpsOrigin(host) : null,
      },
      this.#clients,
      (tool) => this.#pool.get(tool),
      (tool) => this.#table.tool(tool) !== undefined,
    );
    const rewrite = options.tls && (options.rewriteLocation ?? true);
    const forwarder = new Forwarder(this.#pool, pages, {
      maxBodyBytes: this.#limits.maxBodyBytes,
      bodies: this.#bodies,
      onRetry: () => this.#metrics.retries.inc(),
      rewriteLocation: rewrite ? (location, host) => this.#rewriter?.value(location, host) ?? location : null,
    });
    this.#upgrades = new UpgradeForwarder(this.#pool, { idleTimeoutMs: options.websocketIdleTimeoutMs, responseTimeoutMs: options.responseTimeoutMs, connectTimeoutMs });
    this.#nodeLane = new NodeLane(
      { admission: this.#admission, answers: this.#answers, forwarder, upgrades: this.#upgrades, recorder: this.#recorder, hsts: HSTS },
      { keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS, headersTimeoutMs: this.#limits.headersTimeoutMs, requestTimeoutMs: this.#limits.requestTimeoutMs, maxHeaderBytes: this.#limits.maxHeaderBytes },
    );
    this.#fastLane = new FastLane(this.#fastLaneHost(rewrite ? (lines, host) => this.#rewriter?.lines(lines, host) ?? lines : null), {
      maxHeadBytes: this.#limits.maxHeaderBytes,
      connectTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: this.#limits.headersTimeoutMs,
      requestTimeoutMs: this.#limits.requestTimeoutMs,
      upstreamKeepAliveMs: UPSTREAM_KEEP_ALIVE_MS,
      hsts: HSTS,
    });
    this.#table.on('change', (tool: string, route: Route | null) => {
      this.#pool.update(tool, route);
      if (route === null) this.#metrics.forgetTool(tool);
      this.#home.invalidate();
    });
    this.#table.on('tool', () => this.#home.invalidate());
    this.#table.on('warning', (line) => options.log?.(line));
    this.#table.on('problem', (p: RouteProblem) => {
      this.#metrics.routeProblems.inc();
      options.onRouteProblem?.(p);
      options.log?.(routeProblemLine(p));
    });
    this.#table.on('state', (state) => {
      if (!this.#closing && !this.#partsDown) options.log?.(`redis: ${state}`);
    });
    this.#table.on('node', (node) => {
      if (!this.#boundAddresses.some((a) => a.host === node.host && a.port === node.port)) this.#boundAddresses.push(node);
    });
    this.#table.on('error', () => {
      // state changes are logged; the last known table keeps serving
    });
  }

  /** what keeps the proxy from doing all its work (healthz says it) */
  #problems(): string[] {
    const out: string[] = [];
    const log = this.#accessLog?.status;
    if (log && !log.writable && log.problem) out.push(log.problem);
    // a table cut off from Redis is still served (routes.md#unheard); after a while, say so
    const stale = this.#table.staleForMs();
    if (this.#table.loaded && stale > (this.#options.staleAfterMs ?? STALE_AFTER_MS)) out.push(`route table not updated for ${Math.round(stale / 1000)} s (Redis unreachable); serving the last one`);
    return out;
  }

  /** `https://host[:port]` as clients reach the HTTPS listener */
  #httpsOrigin(host: string): string {
    const t = this.#options.tls as NonNullable<ProxyOptions['tls']>;
    const port = t.publicPort ?? this.addresses().https?.port ?? 443;
    return `https://${host || this.#options.listen.host}${port === 443 ? '' : `:${port}`}`;
  }

  /** the proxy's own listeners and its Redis: never backends */
  #forbiddenTargets(): { host: string; port: number }[] {
    const o = this.#options;
    // with Sentinel, the sentinels; the data nodes are added as the table reaches them
    return [o.listen, ...(o.adminListen ? [o.adminListen] : []), ...(o.tls ? [o.tls.listen] : []), ...entryPoints(o.redis)].filter((a) => a.port !== 0);
  }

  /** configured and bound addresses of the proxy and its Redis; the backend policy reads it live */
  readonly #boundAddresses: { host: string; port: number }[] = [];

  get routeTable(): RouteTable {
    return this.#table;
  }

  get metrics(): ProxyMetrics {
    return this.#metrics;
  }

  /**
   * Load the routes (waiting up to redisWaitMs for Redis), then listen. A proxy that starts
   * while Redis is down still listens, and routes as soon as Redis answers.
   */
  async start(redisWaitMs = 10_000): Promise<boolean> {
    const loaded = await this.#table.start(redisWaitMs);
    if (!loaded) this.#options.log?.(codedLine('TH_ERR_REDIS_UNREACHABLE', describeRedis(this.#options.redis), `no answer from the route table within ${redisWaitMs} ms (the proxy listens anyway, and routes once Redis answers)`));
    await this.#listenPublic(this.#createListener('http'), this.#options.listen);
    if (this.#options.tls) await this.#listenPublic(this.#createListener('https'), this.#options.tls.listen);
    if (this.#options.tls) this.#rewriter = new LocationRewriter((host) => this.#httpsOrigin(host), this.addresses().http.port);
    if (this.#options.adminListen) {
      this.#admin = createAdminServer({ metrics: this.#metrics, table: this.#table, health: () => this.#answers.render({ kind: 'health' }).body });
      await this.#listen(this.#admin, this.#options.adminListen);
    }
    return loaded;
  }

  #createListener(proto: Proto): net.Server {
    const track = (socket: Socket): boolean => {
      const ip = socket.remoteAddress ?? '';
      // the per-address connection cap: decided here, before any lane, for every path alike
      if (!this.#clients.connect(ip)) {
        socket.destroy();
        return false;
      }
      this.#clientSockets.add(socket);
      socket.once('close', () => {
        this.#clientSockets.delete(socket);
        this.#clients.disconnect(ip);
      });
      return true;
    };
    let server: net.Server;
    if (proto === 'https') {
      const t = this.#options.tls as NonNullable<ProxyOptions['tls']>;
      server = tls.createServer({ cert: readFileSync(t.certFile), key: readFileSync(t.keyFile), allowHalfOpen: true });
      server.on('connection', (socket: Socket) => {
        if (track(socket)) socket.on('error', () => socket.destroy());
      });
      server.on('secureConnection', (socket: tls.TLSSocket) => this.#fastLane.accept(socket, 'https'));
      server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
    } else {
      server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        if (track(socket)) this.#fastLane.accept(socket, 'http');
      });
    }
    this.#servers.push({ server, proto });
    return server;
  }

  #fastLaneHost(rewriteLocation: FastLaneHost['rewriteLocation']): FastLaneHost {
    return {
      admit: (head, proto, ip) =>
        this.#admission.admit(
          { method: head.method, target: head.target, host: head.host, userAgent: head.userAgent, accept: head.accept, contentLength: head.contentLength, proto, clientAddress: ip },
          Date.now(),
        ),
      render: (answer) => this.#answers.render(answer),
      pick: (compiled, now, exclude) => this.#pool.pick(compiled, now, exclude),
      markDown: (backend, now) => this.#pool.markDown(backend, now),
      delegate: (socket, proto) => this.#nodeLane.accept(socket, proto),
      record: (entry) => this.#recorder.record(entry),
      refused: (status) => this.#recorder.refused(status),
      onRetry: () => this.#metrics.retries.inc(),
      rewriteLocation,
      bodies: this.#bodies,
    };
  }

  /** extra handles on each public listening socket (see listen-handles.ts) */
  readonly #handleCopies: net.Server[] = [];

  async #listenPublic(server: net.Server, at: ListenAddress): Promise<void> {
    await this.#listen(server, at);
    const copies = await duplicateListenHandles(server, (this.#options.acceptHandles ?? DEFAULT_ACCEPT_HANDLES) - 1, (socket) => server.emit('connection', socket));
    for (const copy of copies) {
      copy.on('connection', (socket: Socket) => server.emit('connection', socket));
      copy.on('error', () => {});
      this.#handleCopies.push(copy);
    }
  }

  #listen(server: net.Server, at: ListenAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // a deep accept queue: 512 clients connecting at once must not wait for SYN retries
      server.listen({ host: at.host, port: at.port, backlog: 4096 }, () => {
        server.off('error', reject);
        const a = server.address() as AddressInfo;
        this.#boundAddresses.push({ host: a.address, port: a.port });
        resolve();
      });
    });
  }

  /** where each listener is bound: public http, https (if any), admin (if any) */
  addresses(): { http: AddressInfo; https: AddressInfo | null; admin: AddressInfo | null } {
    const httpServer = this.#servers.find((s) => s.proto === 'http')?.server;
    const httpsServer = this.#servers.find((s) => s.proto === 'https')?.server;
    return {
      http: httpServer?.address() as AddressInfo,
      https: (httpsServer?.address() as AddressInfo | undefined) ?? null,
      admin: (this.#admin?.address() as AddressInfo | undefined) ?? null,
    };
  }

  /** SIGHUP: continue the access log in a new file (after logrotate moved it) */
  reopenLogs(): void {
    this.#accessLog?.reopen();
  }

  /** stop accepting, let requests in flight finish until the deadline, then destroy */
  async close(deadlineMs = 10_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const all: net.Server[] = [...this.#servers.map((s) => s.server), ...this.#handleCopies, ...(this.#admin ? [this.#admin] : [])];
    const closed = Promise.all(all.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#fastLane.close();
    this.#nodeLane.closeIdle();
    this.#admin?.closeIdleConnections();
    const timer = setTimeout(() => this.destroy(), deadlineMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    await this.#shutdownParts();
  }

  /** stop now: every connection closed */
  destroy(): void {
    this.#closing = true;
    this.#nodeLane.destroy();
    this.#admin?.closeAllConnections();
    this.#fastLane.destroy();
    for (const copy of this.#handleCopies) copy.close();
    for (const s of this.#clientSockets) s.destroy();
    void this.#shutdownParts();
  }

  #partsDown = false;
  async #shutdownParts(): Promise<void> {
    if (this.#partsDown) return;
    this.#partsDown = true;
    this.#clients.close();
    this.#fastLane.destroy();
    this.#nodeLane.close();
    await this.#pool.destroy();
    await this.#table.close();
    await this.#accessLog?.close();
  }
}
