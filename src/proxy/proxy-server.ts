// The front proxy: public listener(s) (HTTP, and HTTPS when a certificate is given), an admin
// listener for metrics, the in-memory route table, and the request lifecycle:
//   health? -> HTTPS redirect? -> route decision (memory only) -> home page | error page |
//   forward (HTTP or Upgrade) -> access log + metrics.
// Each connection starts in the fast lane (http1/fast-lane.ts), which relays plain requests for
// live tools over raw sockets; any other request moves the connection to Node's HTTP server
// (never listening itself) and the undici forwarder below. Nothing on the path from request to
// forwarding awaits anything.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RouteTable, type Route, type RouteProblem } from '../routes/index.js';
import { AccessLog } from './access-log.js';
import { BackendPool } from './backend-pool.js';
import { ErrorPages } from './error-pages.js';
import { Forwarder } from './forwarder.js';
import type { ForwardFacts } from './header-policy.js';
import { HomePage } from './home-page.js';
import { PageTemplate } from './html.js';
import { ProxyMetrics } from './metrics.js';
import { decide, hostName, type RouterOptions } from './router.js';
import { UpgradeForwarder } from './websocket.js';
import { refuse } from './http1/answers.js';
import { backendPolicy, DEFAULT_BACKEND_NETWORKS } from './backend-networks.js';
import { ClientLimits } from './client-limits.js';
import { duplicateListenHandles } from './listen-handles.js';
import { FastLane, type FastExchangeRecord, type FastLaneHost, type FastRoute, type Proto } from './http1/fast-lane.js';
import type { RequestHead } from './http1/request-head.js';
import type { Duplex as DuplexStream } from 'node:stream';

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
}

export const DEFAULT_LIMITS: ProxyLimits = {
  maxBodyBytes: 128 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxConnectionsPerIp: 256,
  ratePerSecond: 100,
  burst: 100,
  emptyUserAgent: 'allow',
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
};

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ProxyOptions {
  readonly listen: ListenAddress;
  readonly adminListen: ListenAddress | null;
  readonly redisUrl: string;
  /** host routing <tool>.<domain>; null: only path routing */
  readonly domain: string | null;
  readonly pathRouting: boolean;
  /** HTTPS listener; when set, plain HTTP redirects to it and responses carry HSTS */
  readonly tls: { readonly listen: ListenAddress; readonly certFile: string; readonly keyFile: string; readonly publicPort?: number } | null;
  readonly accessLog: { readonly file: string; readonly maxBytes?: number; readonly keep?: number } | null;
  readonly responseTimeoutMs: number;
  readonly websocketIdleTimeoutMs: number;
  readonly resyncIntervalMs: number;
  readonly homeTitle: string;
  readonly templatesDir: string;
  readonly proxyName?: string;
  readonly limits?: Partial<ProxyLimits>;
  /** CIDRs backends may be in (default: loopback) */
  readonly backendNetworks?: readonly string[];
  /** handles accepting on each public socket: libuv takes one connection per handle and loop turn (default 32; npm run bench, 512 connections: p99 2.3-3.8 s in two of five runs with 1, 0.10-0.21 s in three runs with 32) */
  readonly acceptHandles?: number;
  /** called with each route entry skipped as invalid */
  readonly onRouteProblem?: (p: RouteProblem) => void;
  readonly log?: (line: string) => void;
}

const HSTS = 'max-age=31622400';
const DEFAULT_ACCEPT_HANDLES = 32;
/** a keep-alive client may stay idle this long between requests */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** below lighttpd's and Node's default server idle timeouts (5 s): the proxy closes first */
const UPSTREAM_KEEP_ALIVE_MS = 3_000;

export class ProxyServer {
  readonly #options: ProxyOptions;
  readonly #table: RouteTable;
  readonly #pool: BackendPool;
  readonly #pages: ErrorPages;
  readonly #home: HomePage;
  readonly #metrics: ProxyMetrics;
  readonly #forwarder: Forwarder;
  readonly #upgrades: UpgradeForwarder;
  readonly #accessLog: AccessLog | null;
  readonly #router: RouterOptions;
  /** the listeners: plain TCP, or TLS */
  readonly #servers: { server: net.Server; proto: Proto }[] = [];
  /** Node's HTTP server per protocol, for connections the fast lane hands over */
  readonly #inner = new Map<Proto, http.Server>();
  readonly #fastLane: FastLane;
  #admin: http.Server | null = null;
  readonly #clientSockets = new Set<Socket>();
  readonly #limits: ProxyLimits;
  readonly #clients: ClientLimits;
  #closing = false;

  constructor(options: ProxyOptions) {
    this.#options = options;
    this.#router = { domain: options.domain, pathRouting: options.pathRouting };
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#boundAddresses.push(...this.#forbiddenTargets());
    this.#clients = new ClientLimits(this.#limits);
    this.#pool = new BackendPool({ responseTimeoutMs: options.responseTimeoutMs });
    this.#table = new RouteTable({
      redisUrl: options.redisUrl,
      resyncIntervalMs: options.resyncIntervalMs,
      backendPolicy: backendPolicy(options.backendNetworks ?? DEFAULT_BACKEND_NETWORKS, this.#boundAddresses),
    });
    this.#pages = new ErrorPages(PageTemplate.load(`${options.templatesDir}/error-page.html`), options.proxyName);
    this.#home = new HomePage({
      template: PageTemplate.load(`${options.templatesDir}/home-page.html`),
      title: options.homeTitle,
      linkFor: (tool) => (options.domain && !options.pathRouting ? `//${tool}.${options.domain}/` : `/${tool}/`),
      routes: () => this.#table.routes(),
    });
    this.#metrics = new ProxyMetrics({
      openClientSockets: () => this.#clientSockets.size,
      openUpstreamSockets: () => this.#pool.openSockets() + this.#upgrades.openSockets + this.#fastLane.upstream.open,
      routes: () => this.#table.size,
      redisUp: () => this.#table.state === 'ready',
    });
    this.#forwarder = new Forwarder(this.#pool, this.#pages, () => this.#metrics.retries.inc(), this.#limits.maxBodyBytes);
    this.#upgrades = new UpgradeForwarder(this.#pool, { idleTimeoutMs: options.websocketIdleTimeoutMs, responseTimeoutMs: options.responseTimeoutMs });
    this.#accessLog = options.accessLog ? new AccessLog(options.accessLog) : null;
    this.#fastLane = new FastLane(this.#fastLaneHost(), this.#pages, {
      maxHeadBytes: this.#limits.maxHeaderBytes,
      responseTimeoutMs: options.responseTimeoutMs,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: this.#limits.headersTimeoutMs,
      requestTimeoutMs: this.#limits.requestTimeoutMs,
      upstreamKeepAliveMs: UPSTREAM_KEEP_ALIVE_MS,
      hsts: HSTS,
    });
    this.#table.on('change', (tool: string, route: Route | null) => {
      this.#pool.update(tool, route);
      this.#home.invalidate();
    });
    this.#table.on('problem', (p: RouteProblem) => {
      this.#metrics.routeProblems.inc();
      options.onRouteProblem?.(p);
      options.log?.(`route ${p.tool}: ignoring ${p.field || 'key'} = ${JSON.stringify(p.value)}: ${p.reason}`);
    });
    this.#table.on('state', (state) => {
      if (!this.#closing && !this.#partsDown) options.log?.(`redis: ${state}`);
    });
    this.#table.on('error', () => {
      // state changes are logged; the last known table keeps serving
    });
  }

  /** the proxy's own listeners and its Redis: never backends */
  #forbiddenTargets(): { host: string; port: number }[] {
    const o = this.#options;
    const out = [o.listen, ...(o.adminListen ? [o.adminListen] : []), ...(o.tls ? [o.tls.listen] : [])].filter((a) => a.port !== 0);
    try {
      const r = new URL(o.redisUrl);
      out.push({ host: r.hostname.replace(/^\[|\]$/g, ''), port: Number(r.port || 6379) });
    } catch {
      // a bad Redis URL fails elsewhere
    }
    return out;
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
    if (!loaded) this.#options.log?.(`redis: no answer from the route table within ${redisWaitMs} ms; listening anyway, routes load when it answers`);
    await this.#listenPublic(this.#createListener('http'), this.#options.listen);
    if (this.#options.tls) await this.#listenPublic(this.#createListener('https'), this.#options.tls.listen);
    if (this.#options.adminListen) {
      this.#admin = http.createServer((req, res) => void this.#handleAdmin(req, res));
      await this.#listen(this.#admin, this.#options.adminListen);
    }
    return loaded;
  }

  /** Node's HTTP server for handed-over connections of one protocol; it never listens itself */
  #innerServer(proto: Proto): http.Server {
    const server = http.createServer(
      {
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        headersTimeout: this.#limits.headersTimeoutMs,
        requestTimeout: this.#limits.requestTimeoutMs,
        maxHeaderSize: this.#limits.maxHeaderBytes,
        // how often slow clients are looked for (Node's default, 30 s, outlives short timeouts)
        connectionsCheckingInterval: Math.max(50, Math.min(1000, this.#limits.headersTimeoutMs / 4)),
      },
      (req, res) => this.#handleRequest(req, res, proto),
    );
    server.on('upgrade', (req: http.IncomingMessage, socket: DuplexStream, head: Buffer) => this.#handleUpgrade(req, socket, head, proto));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: DuplexStream) => {
      refuse(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
    });
    // 'listening' starts Node's header and request timers for the connections it is given
    server.emit('listening');
    return server;
  }

  #createListener(proto: Proto): net.Server {
    this.#inner.set(proto, this.#innerServer(proto));
    const track = (socket: Socket): boolean => {
      const ip = socket.remoteAddress ?? '';
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

  #fastLaneHost(): FastLaneHost {
    return {
      fastRoute: (head, proto, ip) => this.#fastRoute(head, proto, ip),
      pick: (compiled, now, exclude) => this.#pool.pick(compiled, now, exclude),
      markDown: (backend, now) => this.#pool.markDown(backend, now),
      delegate: (socket, proto) => (this.#inner.get(proto) as http.Server).emit('connection', socket),
      record: (entry) => this.#recordFast(entry),
      onRetry: () => this.#metrics.retries.inc(),
    };
  }

  /**
   * The same checks as #handleRequest, in the same order; any request they would not simply
   * forward goes to the slow path, which gives the answer (so each answer has one author).
   * The rate is charged last, and only for requests the fast lane takes.
   */
  #fastRoute(head: RequestHead, proto: Proto, ip: string): FastRoute | null {
    if (this.#options.tls && proto === 'http') return null;
    const decision = decide(head.target, head.host, this.#router);
    if (decision.kind !== 'tool') return null;
    if (this.#limits.emptyUserAgent === 'deny' && !head.userAgent) return null;
    if (head.contentLength > this.#limits.maxBodyBytes) return null;
    const compiled = this.#pool.get(decision.tool);
    if (!compiled) return null;
    const now = Date.now();
    const backend = this.#pool.pick(compiled, now);
    if (!backend) return null;
    if (!this.#clients.request(ip, now)) {
      // the slow path answers 429; give back nothing, the bucket is empty anyway
      return null;
    }
    return { tool: decision.tool, compiled, backend };
  }

  #recordFast(e: FastExchangeRecord): void {
    this.#metrics.observe(e.tool, e.status, e.durationMs / 1000);
    this.#accessLog?.write({
      time: new Date(),
      method: e.head.method,
      url: e.head.target,
      httpVersion: '1.1',
      status: e.status,
      bytes: e.bytes,
      referer: e.head.referer,
      userAgent: e.head.userAgent,
      tool: e.tool,
      durationMs: e.durationMs,
    });
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

  #facts(req: http.IncomingMessage, proto: 'http' | 'https'): ForwardFacts {
    const port = (req.socket.localPort ?? 0) as number;
    return { proto, host: req.headers.host ?? '', port };
  }

  #handleRequest(req: http.IncomingMessage, res: http.ServerResponse, proto: 'http' | 'https'): void {
    const started = performance.now();
    const url = req.url ?? '/';
    const decision = decide(url, req.headers.host, this.#router);
    let tool = '';
    const record = (status: number, bytes: number): void => {
      const ms = performance.now() - started;
      this.#metrics.observe(tool, status, ms / 1000);
      this.#accessLog?.write({
        time: new Date(),
        method: req.method ?? '-',
        url,
        httpVersion: req.httpVersion,
        status,
        bytes,
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
        tool,
        durationMs: ms,
      });
    };
    if (this.#options.tls && proto === 'http' && decision.kind !== 'health') {
      const host = hostName(req.headers.host) || this.#options.listen.host;
      const port = this.#options.tls.publicPort ?? this.addresses().https?.port ?? 443;
      const location = `https://${host}${port === 443 ? '' : `:${port}`}${url}`;
      res.writeHead(301, { location, 'content-length': 0 });
      res.end();
      record(301, 0);
      return;
    }
    if (proto === 'https') res.setHeader('strict-transport-security', HSTS);
    if (decision.kind !== 'health') {
      if (!this.#clients.request(req.socket.remoteAddress ?? '', Date.now())) {
        this.#pages.send(res, 'too-many-requests', '', { 'retry-after': '1' });
        record(429, 0);
        return;
      }
      if (this.#limits.emptyUserAgent === 'deny' && !req.headers['user-agent']) {
        this.#pages.send(res, 'no-user-agent', '');
        record(403, 0);
        return;
      }
      const len = req.headers['content-length'];
      if (len !== undefined && Number(len) > this.#limits.maxBodyBytes) {
        this.#pages.send(res, 'payload-too-large', '', { connection: 'close' });
        record(413, 0);
        return;
      }
    }
    switch (decision.kind) {
      case 'health':
        this.#sendText(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        record(200, 3);
        return;
      case 'home': {
        const wantsJson = url.includes('format=json') || (req.headers.accept ?? '').startsWith('application/json');
        const body = wantsJson ? this.#home.json() : this.#home.html();
        this.#sendText(res, 200, wantsJson ? 'application/json' : 'text/html; charset=utf-8', body, req.method === 'HEAD');
        record(200, Buffer.byteLength(body));
        return;
      }
      case 'redirect':
        res.writeHead(301, { location: decision.location, 'content-length': 0 });
        res.end();
        record(301, 0);
        return;
      case 'bad-request':
        this.#pages.send(res, 'bad-request', '');
        record(400, 0);
        return;
      case 'unknown':
        this.#pages.send(res, 'unknown-tool', decision.name);
        record(404, 0);
        return;
      case 'tool': {
        tool = decision.tool;
        const compiled = this.#pool.get(tool);
        if (!compiled) {
          this.#pages.send(res, 'unknown-tool', tool);
          record(404, 0);
          return;
        }
        this.#forwarder.forward(req, res, tool, compiled, this.#facts(req, proto), (o) => record(o.status, o.bytes));
        return;
      }
    }
  }

  #handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, proto: 'http' | 'https'): void {
    socket.on('error', () => socket.destroy());
    const decision = decide(req.url ?? '/', req.headers.host, this.#router);
    if (decision.kind !== 'tool') {
      refuse(socket, 404);
      return;
    }
    const compiled = this.#pool.get(decision.tool);
    if (!compiled) {
      refuse(socket, 404);
      return;
    }
    const started = performance.now();
    this.#upgrades.forward(req, socket, head, compiled, this.#facts(req, proto), (status) => {
      this.#metrics.observe(decision.tool, status, (performance.now() - started) / 1000);
    });
  }

  #sendText(res: http.ServerResponse, status: number, type: string, body: string, headOnly = false): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
    res.end(headOnly ? undefined : body);
  }

  async #handleAdmin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const body = await this.#metrics.registry.metrics();
      this.#sendText(res, 200, this.#metrics.registry.contentType, body);
      return;
    }
    if (path === '/routes') {
      const routes = [...this.#table.routes()].map((r) => ({ tool: r.tool, backends: r.backends.map((b) => ({ id: b.id, url: b.url, leaseUntil: b.leaseUntil })), description: r.description }));
      this.#sendText(res, 200, 'application/json', `${JSON.stringify({ redis: this.#table.state, routes })}\n`);
      return;
    }
    if (path === '/.well-known/healthz') {
      this.#sendText(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    }
    this.#sendText(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /routes\n');
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
    for (const inner of this.#inner.values()) inner.closeIdleConnections();
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
    for (const inner of this.#inner.values()) inner.closeAllConnections();
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
    // stops the header-timeout timers of the never-listening servers
    for (const inner of this.#inner.values()) inner.close();
    await this.#pool.destroy();
    await this.#table.close();
    await this.#accessLog?.close();
  }
}
