// Everything derivable from a route, built when the route changes and never per request:
// a keep-alive connection pool per backend (created on its first request, so a table of
// 100 000 routes costs no sockets or timers), the round-robin position, and which backends
// refused connections recently (skipped for a while).
//
// Pools are undici's: measured side by side (npm run bench -- baselines), a bare undici Pool
// forwarder served 1.8-2.0x the requests of a bare node:http Agent one for 1 KB responses in
// every run; for 100 KB neither won consistently. Small responses are most of what tools serve.
import { DEFAULT_SETTINGS } from '../defaults.js';
import { Pool } from 'undici';
import type { Backend, Route } from '../routes/index.js';

export interface LiveBackend {
  readonly backend: Backend;
  /** epoch ms until which this backend is skipped after refusing a connection */
  downUntil: number;
}

export interface CompiledRoute {
  readonly route: Route;
  readonly backends: readonly LiveBackend[];
  next: number;
}

export interface PoolOptions {
  readonly connectionsPerBackend?: number;
  readonly upstreamKeepAliveMs?: number;
  readonly downForMs?: number;
  /** a backend's time to send its response head (then 504) */
  readonly responseTimeoutMs?: number;
  /** a backend's time to accept a connection (then 504, and it is skipped for downForMs) */
  readonly connectTimeoutMs?: number;
  /** the largest response head taken from a backend (as the fast lane's) */
  readonly maxResponseHeadBytes?: number;
}

export class BackendPool {
  readonly #routes = new Map<string, CompiledRoute>();
  readonly #pools = new Map<string, { pool: Pool | null; users: number }>();
  /** pools of removed backends, until their requests in flight are done */
  readonly #retired = new Set<Pool>();
  readonly #options: Required<PoolOptions>;

  constructor(options: PoolOptions = {}) {
    this.#options = {
      connectionsPerBackend: options.connectionsPerBackend ?? 512,
      // below lighttpd's and Node's default server idle timeouts (5 s), so the proxy closes an
      // idle pooled socket before the backend does, avoiding the reuse race
      upstreamKeepAliveMs: options.upstreamKeepAliveMs ?? 4000,
      downForMs: options.downForMs ?? 5000,
      responseTimeoutMs: options.responseTimeoutMs ?? DEFAULT_SETTINGS.responseTimeoutSeconds * 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_SETTINGS.connectTimeoutSeconds * 1000,
      maxResponseHeadBytes: options.maxResponseHeadBytes ?? 64 * 1024,
    };
  }

  get(tool: string): CompiledRoute | undefined {
    return this.#routes.get(tool);
  }

  /** the connection pool of a backend, created on first use */
  poolFor(backend: Backend): Pool {
    let entry = this.#pools.get(backend.url);
    if (!entry) {
      entry = { pool: null, users: 0 };
      this.#pools.set(backend.url, entry);
    }
    entry.pool ??= new Pool(backend.url, {
      connections: this.#options.connectionsPerBackend,
      pipelining: 1,
      keepAliveTimeout: this.#options.upstreamKeepAliveMs,
      keepAliveMaxTimeout: this.#options.upstreamKeepAliveMs,
      headersTimeout: this.#options.responseTimeoutMs,
      connect: { timeout: this.#options.connectTimeoutMs },
      maxHeaderSize: this.#options.maxResponseHeadBytes,
      // a stalled body (no byte for this long) is cut; long downloads that keep moving are fine
      bodyTimeout: this.#options.responseTimeoutMs,
    });
    return entry.pool;
  }

  #use(url: string): void {
    const entry = this.#pools.get(url);
    if (entry) entry.users++;
    else this.#pools.set(url, { pool: null, users: 1 });
  }

  #release(url: string): void {
    const entry = this.#pools.get(url);
    if (!entry || --entry.users > 0) return;
    this.#pools.delete(url);
    if (entry.pool) {
      // close() lets requests in flight finish, then closes the sockets
      const pool = entry.pool;
      this.#retired.add(pool);
      pool.close().then(
        () => this.#retired.delete(pool),
        () => this.#retired.delete(pool),
      );
    }
  }

  update(tool: string, route: Route | null): void {
    const old = this.#routes.get(tool);
    if (route === null) {
      if (old) {
        this.#routes.delete(tool);
        for (const b of old.backends) this.#release(b.backend.url);
      }
      return;
    }
    const backends = route.backends.map((backend) => {
      const prev = old?.backends.find((b) => b.backend.url === backend.url);
      this.#use(backend.url);
      return { backend, downUntil: prev?.downUntil ?? 0 };
    });
    if (old) for (const b of old.backends) this.#release(b.backend.url);
    this.#routes.set(tool, { route, backends, next: old?.next ?? 0 });
  }

  /** round robin over backends not marked down; if all are down, try them anyway */
  pick(compiled: CompiledRoute, now: number, exclude: LiveBackend | null = null): LiveBackend | null {
    const list = compiled.backends;
    const n = list.length;
    if (n === 0) return null;
    for (let i = 0; i < n; i++) {
      const b = list[(compiled.next + i) % n] as LiveBackend;
      if (b !== exclude && b.downUntil <= now) {
        compiled.next = (compiled.next + i + 1) % n;
        return b;
      }
    }
    for (let i = 0; i < n; i++) {
      const b = list[(compiled.next + i) % n] as LiveBackend;
      if (b !== exclude) {
        compiled.next = (compiled.next + i + 1) % n;
        return b;
      }
    }
    return null;
  }

  markDown(b: LiveBackend, now: number): void {
    b.downUntil = now + this.#options.downForMs;
  }

  /** connected upstream sockets (pooled and in use), for metrics */
  openSockets(): number {
    let n = 0;
    for (const { pool } of this.#pools.values()) if (pool) n += pool.stats.connected;
    for (const pool of this.#retired) n += pool.stats.connected;
    return n;
  }

  async destroy(): Promise<void> {
    const all = [...[...this.#pools.values()].flatMap((e) => (e.pool ? [e.pool] : [])), ...this.#retired];
    this.#pools.clear();
    this.#retired.clear();
    this.#routes.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}
