// The route table in memory, the one thing the proxy consults per request (a Map lookup).
// Kept current by pub/sub (a writer's announcement, or Redis keyspace events for changes made
// by hand), a full resync on every (re)connection and periodically, and a re-read of a route
// when one of its leases runs out. While Redis is unreachable the last known table is served.
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { ROUTE_CHANNEL_PATTERN, toolOfKey } from './route-keys.js';
import { parseRoute, type BackendPolicy, type Route, type RouteProblem } from './route-model.js';
import { RouteStore } from './route-store.js';

export type RedisState = 'connecting' | 'ready' | 'down' | 'closed';

export interface RouteTableOptions {
  readonly redisUrl: string;
  /** full resync period; changes normally arrive within milliseconds by pub/sub */
  readonly resyncIntervalMs?: number;
  readonly redisOptions?: RedisOptions;
  /** where backends may be; others are skipped and reported */
  readonly backendPolicy?: BackendPolicy;
}

export interface RouteTableEvents {
  change: [tool: string, route: Route | null];
  problem: [problem: RouteProblem];
  state: [state: RedisState];
  synced: [size: number];
  error: [err: Error];
}

const KEYSPACE_PATTERN = '__keyspace@*__:prefix:*';

export class RouteTable extends EventEmitter<RouteTableEvents> {
  readonly #routes = new Map<string, Route>();
  readonly #expiryTimers = new Map<string, NodeJS.Timeout>();
  readonly #options: RouteTableOptions;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #store: RouteStore;
  #resyncTimer: NodeJS.Timeout | null = null;
  #state: RedisState = 'connecting';
  /** bumped by every single-tool update, so a slower full resync does not undo a newer one */
  readonly #versions = new Map<string, number>();
  /** the hash each route was built from, to skip unchanged ones on a resync */
  readonly #raw = new Map<string, Record<string, string>>();
  #version = 0;
  #closed = false;
  #started = false;
  #loaded = false;
  #commandsReady = false;
  #subscribed = false;

  constructor(options: RouteTableOptions) {
    super();
    this.#options = options;
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
      ...options.redisOptions,
    };
    this.#commands = new Redis(options.redisUrl, { ...common, connectionName: 'toolhost-proxy' });
    this.#subscriber = new Redis(options.redisUrl, { ...common, connectionName: 'toolhost-proxy-sub', enableOfflineQueue: true, autoResubscribe: false });
    this.#store = new RouteStore(this.#commands);
    this.#commands.on('error', (err) => this.emit('error', err));
    // a full load runs once both connections are ready, after keyspace events are on and the
    // subscription is active, so that no change made meanwhile is missed
    this.#commands.on('ready', () => {
      void this.#enableKeyspaceEvents().then(() => {
        this.#commandsReady = true;
        return this.#resyncWhenReady();
      });
    });
    this.#commands.on('close', () => {
      this.#commandsReady = false;
    });
    this.#subscriber.on('error', () => {
      // reported once through #commands; the subscriber reconnects by itself
    });
    this.#subscriber.on('pmessage', (_pattern: string, channel: string) => {
      const key = channel.startsWith('__keyspace@') ? channel.slice(channel.indexOf('__:') + 3) : channel;
      const tool = toolOfKey(key);
      if (tool !== null) void this.refresh(tool);
    });
    // after any reconnection, changes may have been missed: resync everything
    this.#subscriber.on('ready', () => {
      this.#subscriber.psubscribe(ROUTE_CHANNEL_PATTERN, KEYSPACE_PATTERN).then(
        () => {
          this.#subscribed = true;
          this.#setState('ready');
          return this.#resyncWhenReady();
        },
        () => {},
      );
    });
    this.#subscriber.on('close', () => {
      this.#subscribed = false;
      if (!this.#closed) this.#setState('down');
    });
  }

  /** the hot path: no I/O, no allocation */
  get(tool: string): Route | undefined {
    return this.#routes.get(tool);
  }

  get size(): number {
    return this.#routes.size;
  }

  get state(): RedisState {
    return this.#state;
  }

  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  #setState(state: RedisState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }

  /**
   * Ask Redis to announce every change of a hash (keyspace events), so that a route written by
   * hand (`HSET prefix:mytool .* http://...`) is routed within milliseconds too. A proxy whose
   * Redis user may not run CONFIG (the read-only proxy user) relies on the operator's
   * `notify-keyspace-events` setting, or on the periodic resync.
   */
  async #enableKeyspaceEvents(): Promise<void> {
    try {
      const reply = (await this.#commands.config('GET', 'notify-keyspace-events')) as string[];
      const flags = reply[1] ?? '';
      const hasKeyspace = flags.includes('K');
      const hasHash = flags.includes('h') || flags.includes('A');
      if (hasKeyspace && hasHash) return;
      await this.#commands.config('SET', 'notify-keyspace-events', `${flags}${hasKeyspace ? '' : 'K'}${hasHash ? '' : 'h'}g`);
    } catch {
      // NOPERM or CONFIG disabled: announcements and the resync still keep the table current
    }
  }

  async #resyncWhenReady(): Promise<void> {
    if (this.#started && this.#commandsReady && this.#subscribed) await this.resync();
  }

  /** whether the table has been loaded from Redis at least once */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Connect, subscribe and load the table. Resolves true once loaded, or false after waitMs
   * if Redis cannot be reached: the table then fills as soon as Redis answers.
   */
  async start(waitMs = 10_000): Promise<boolean> {
    this.#started = true;
    const every = this.#options.resyncIntervalMs ?? 30_000;
    this.#resyncTimer = setInterval(() => void this.resync(), every);
    this.#resyncTimer.unref();
    this.#commands.connect().catch(() => {
      // ioredis goes on reconnecting; 'ready' triggers the load
    });
    this.#subscriber.connect().catch(() => {});
    if (this.#loaded) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('synced', onSynced);
        resolve(false);
      }, waitMs);
      timer.unref();
      const onSynced = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('synced', onSynced);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    for (const t of this.#expiryTimers.values()) clearTimeout(t);
    this.#expiryTimers.clear();
    this.#setState('closed');
    this.#subscriber.disconnect();
    this.#commands.disconnect();
  }

  /** re-read one tool; keeps the last known route if Redis cannot be asked */
  async refresh(tool: string): Promise<void> {
    const version = ++this.#version;
    this.#versions.set(tool, version);
    let hash: Record<string, string>;
    try {
      hash = await this.#store.get(tool);
    } catch {
      this.#apply(tool, this.#routes.get(tool) ? this.#recompute(tool) : null);
      return;
    }
    if (this.#versions.get(tool) !== version) return;
    this.#applyHash(tool, hash);
  }

  /** re-read the whole table (SCAN + HGETALL) */
  async resync(): Promise<void> {
    const started = this.#version;
    let all: Map<string, Record<string, string>>;
    try {
      all = await this.#store.loadAll();
    } catch (err) {
      this.emit('error', err as Error);
      return;
    }
    const newer = (tool: string): boolean => (this.#versions.get(tool) ?? 0) > started;
    for (const tool of [...this.#routes.keys()]) {
      if (!all.has(tool) && !newer(tool)) this.#apply(tool, null);
    }
    for (const [tool, hash] of all) if (!newer(tool)) this.#applyHash(tool, hash);
    this.#loaded = true;
    this.emit('synced', this.#routes.size);
  }

  #applyHash(tool: string, hash: Record<string, string>): void {
    // a periodic resync mostly finds nothing new: keep the route (and its pools) as it is
    const previous = this.#raw.get(tool);
    if (previous && sameHash(previous, hash) && this.#routes.has(tool) && this.#routes.get(tool)?.nextExpiry === null) return;
    this.#raw.set(tool, hash);
    const problems: RouteProblem[] = [];
    const route = Object.keys(hash).length ? parseRoute(tool, hash, Date.now(), problems, this.#options.backendPolicy ?? null) : null;
    for (const p of problems) this.emit('problem', p);
    this.#apply(tool, route);
  }

  /** without Redis: drop the backends whose lease has run out */
  #recompute(tool: string): Route | null {
    const old = this.#routes.get(tool);
    if (!old) return null;
    const now = Date.now();
    const backends = old.backends.filter((b) => b.leaseUntil === null || b.leaseUntil > now);
    let nextExpiry: number | null = null;
    for (const b of backends) if (b.leaseUntil !== null && (nextExpiry === null || b.leaseUntil < nextExpiry)) nextExpiry = b.leaseUntil;
    return { ...old, backends, nextExpiry };
  }

  #apply(tool: string, route: Route | null): void {
    const timer = this.#expiryTimers.get(tool);
    if (timer) {
      clearTimeout(timer);
      this.#expiryTimers.delete(tool);
    }
    if (route === null) {
      this.#raw.delete(tool);
      if (this.#routes.delete(tool)) this.emit('change', tool, null);
      return;
    }
    this.#routes.set(tool, route);
    if (route.nextExpiry !== null && !this.#closed) {
      // re-read when a lease runs out: it may have been renewed (renewals are not announced)
      const t = setTimeout(() => void this.refresh(tool), Math.max(0, route.nextExpiry - Date.now()) + 5);
      t.unref();
      this.#expiryTimers.set(tool, t);
    }
    this.emit('change', tool, route);
  }
}

function sameHash(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}
