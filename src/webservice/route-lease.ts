// A backend's place in the route table, held by a lease: registered once the server answers,
// renewed every LEASE_MS / 3 while it runs, removed first thing on stop. If the holder is
// killed outright (SIGKILL, OOM, power), the route stops counting within LEASE_MS by itself.
import { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { RouteStore } from '../routes/index.js';

/** how long a route outlives a holder that can no longer renew it */
export const LEASE_MS = 15_000;

export interface RouteLeaseOptions {
  readonly redisUrl: string;
  readonly tool: string;
  readonly id: string;
  readonly url: string;
  readonly description?: string | null;
  readonly leaseMs?: number;
  readonly onError?: (err: Error) => void;
}

export class RouteLease {
  readonly #o: RouteLeaseOptions;
  readonly #redis: Redis;
  readonly #store: RouteStore;
  #timer: NodeJS.Timeout | null = null;
  #held = false;

  constructor(options: RouteLeaseOptions) {
    this.#o = options;
    this.#redis = new Redis(options.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      connectionName: `toolhost-lease-${options.tool}`,
    });
    this.#redis.on('error', (err) => options.onError?.(err));
    this.#store = new RouteStore(this.#redis);
  }

  get leaseMs(): number {
    return this.#o.leaseMs ?? LEASE_MS;
  }

  async register(): Promise<void> {
    if (this.#redis.status === 'wait') await this.#redis.connect();
    try {
      await this.#store.register(this.#o.tool, this.#o.id, this.#o.url, { leaseMs: this.leaseMs, description: this.#o.description ?? null });
    } catch (err) {
      // a refused command inside MULTI surfaces as EXECABORT, with the NOPERM among previousErrors
      const previous = (err as { previousErrors?: Error[] }).previousErrors ?? [];
      const text = [(err as Error).message, ...previous.map((e) => e.message)].join(' ');
      if (/NOPERM/.test(text)) {
        const user = decodeURIComponent(new URL(this.#o.redisUrl).username || 'default');
        throw new ToolhostError('TH_ERR_ROUTE_NOPERM', user, this.#o.tool);
      }
      throw err;
    }
    this.#held = true;
    this.#timer ??= setInterval(() => {
      this.#store.renew(this.#o.tool, this.#o.id, this.leaseMs).catch((err: Error) => this.#o.onError?.(err));
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    this.#timer.unref();
  }

  /** remove the route; the connection stays for another register() */
  async release(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (!this.#held) return;
    this.#held = false;
    await this.#store.unregister(this.#o.tool, this.#o.id).catch((err: Error) => this.#o.onError?.(err));
  }

  async close(): Promise<void> {
    await this.release();
    this.#redis.disconnect();
  }
}
