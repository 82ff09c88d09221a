// Everything derivable from a route, built when the route changes and never per request:
// one keep-alive agent per backend, the round-robin position, and which backends refused
// connections recently (skipped for a while).
import http from 'node:http';
import type { Backend, Route } from '../routes/index.js';

export interface LiveBackend {
  readonly backend: Backend;
  readonly agent: http.Agent;
  /** epoch ms until which this backend is skipped after refusing a connection */
  downUntil: number;
}

export interface CompiledRoute {
  readonly route: Route;
  readonly backends: readonly LiveBackend[];
  next: number;
}

export interface PoolOptions {
  readonly maxSocketsPerBackend?: number;
  readonly upstreamKeepAliveMs?: number;
  readonly downForMs?: number;
}

export class BackendPool {
  readonly #routes = new Map<string, CompiledRoute>();
  readonly #agents = new Map<string, { agent: http.Agent; users: number }>();
  readonly #options: Required<PoolOptions>;
  /** agents of removed backends, until their last socket closes (counted in openSockets) */
  readonly #retired = new Set<http.Agent>();

  constructor(options: PoolOptions = {}) {
    this.#options = {
      maxSocketsPerBackend: options.maxSocketsPerBackend ?? 512,
      // below lighttpd's and Node's default server idle timeouts (5 s), so the proxy closes an
      // idle pooled socket before the backend does, avoiding the reuse race
      upstreamKeepAliveMs: options.upstreamKeepAliveMs ?? 4000,
      downForMs: options.downForMs ?? 5000,
    };
  }

  get(tool: string): CompiledRoute | undefined {
    return this.#routes.get(tool);
  }

  #agentFor(url: string): http.Agent {
    const have = this.#agents.get(url);
    if (have) {
      have.users++;
      return have.agent;
    }
    const agent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: this.#options.maxSocketsPerBackend,
      maxFreeSockets: 256,
      timeout: this.#options.upstreamKeepAliveMs,
      scheduling: 'lifo',
    });
    this.#agents.set(url, { agent, users: 1 });
    return agent;
  }

  #release(url: string): void {
    const have = this.#agents.get(url);
    if (!have) return;
    if (--have.users === 0) {
      // requests in flight keep their sockets (agent.destroy() would cut them); idle ones go
      // now, and the ones in use close after their response, once idle (agent timeout)
      for (const list of Object.values(have.agent.freeSockets)) for (const s of list ?? []) s.destroy();
      this.#retired.add(have.agent);
      this.#agents.delete(url);
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
      return { backend, agent: this.#agentFor(backend.url), downUntil: prev?.downUntil ?? 0 };
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

  /** pooled and active upstream sockets, for metrics */
  openSockets(): number {
    let n = 0;
    const count = (agent: http.Agent): number => {
      let c = 0;
      for (const list of Object.values(agent.sockets)) c += list?.length ?? 0;
      for (const list of Object.values(agent.freeSockets)) c += list?.length ?? 0;
      return c;
    };
    for (const { agent } of this.#agents.values()) n += count(agent);
    for (const agent of this.#retired) {
      const c = count(agent);
      if (c === 0) this.#retired.delete(agent);
      n += c;
    }
    return n;
  }

  destroy(): void {
    for (const { agent } of this.#agents.values()) agent.destroy();
    for (const agent of this.#retired) agent.destroy();
    this.#retired.clear();
    this.#agents.clear();
    this.#routes.clear();
  }
}
