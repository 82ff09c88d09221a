// The route table in memory, the one thing the proxy consults per request (a Map lookup).
// Kept current by pub/sub (a writer's announcement, Redis keyspace events for changes made by
// hand, node lease announcements), a full resync on every (re)connection and periodically,
// and a re-read of a route when one of its own leases runs out.
//
// Leases and what a proxy could not hear: while the proxy is cut off from Redis it expires
// nothing (the holders may well be renewing where it cannot see). From the first resync after a
// reconnection every lease counts again, with a grace of one lease period for holders that were
// cut off too; a lease that runs out while the proxy hears Redis ends its backends as usual.
// When Redis itself restarted or a Sentinel failover moved the table to a replica (its run_id
// changed either way) that first resync only adds and updates, so a Redis that came back empty,
// or a replica that had not received the last writes, does not take routes away before the
// registrars have written them again; the resync at the end of the grace removes what is
// really gone.
//
// The same connections keep the tool directory (directory-mirror.ts) current the same way, so a
// proxy knows every tool that exists, routed or not.
import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { DirectoryMirror } from './directory-mirror.js';
import { DIRECTORY_CHANNEL_PATTERN, NODES_CHANNEL, ROUTE_CHANNEL_PATTERN, toolOfDirectoryKey, toolOfKey } from './route-keys.js';
import { nodesOf, parseRoute, sameRouting, type BackendPolicy, type LeaseView, type Route, type RouteProblem } from './route-model.js';
import { OversizedRoute, RouteStore, type StoredRoute } from './route-store.js';
import { ToolDirectoryStore, type ToolEntry } from './tool-directory.js';
import { createRedis, keepConnecting, type HostPort, type RedisConnection } from './redis-connection.js';

export type RedisState = 'connecting' | 'ready' | 'down' | 'closed';

export interface RouteTableOptions {
  /** the route table's Redis: one server, or the master a Sentinel set names */
  readonly redis: RedisConnection;
  /** full resync period; changes normally arrive within milliseconds by pub/sub */
  readonly resyncIntervalMs?: number;
  /** after a reconnection, leases that ran out meanwhile count this much longer (default 15 s) */
  readonly leaseGraceMs?: number;
  readonly redisOptions?: RedisOptions;
  /** where backends may be; others are skipped and reported */
  readonly backendPolicy?: BackendPolicy;
}

export interface RouteTableEvents {
  change: [tool: string, route: Route | null];
  problem: [problem: RouteProblem];
  state: [state: RedisState];
  synced: [size: number];
  /** the Redis data node the table reads from, at every (re)connection: it moves with a failover */
  node: [address: HostPort];
  error: [err: Error];
  /** a tool directory entry appeared, changed or went (null) */
  tool: [tool: string, entry: ToolEntry | null];
  /** one line for the operator's log */
  warning: [line: string];
}

const KEYSPACE_PATTERN = '__keyspace@*__:prefix:*';
const DIRECTORY_KEYSPACE_PATTERN = `__keyspace@*__:${DIRECTORY_CHANNEL_PATTERN}`;
const DEFAULT_GRACE_MS = 15_000;

export class RouteTable extends EventEmitter<RouteTableEvents> {
  readonly #routes = new Map<string, Route>();
  readonly #expiryTimers = new Map<string, NodeJS.Timeout>();
  readonly #options: RouteTableOptions;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #store: RouteStore;
  readonly #directory: DirectoryMirror;
  #resyncTimer: NodeJS.Timeout | null = null;
  #state: RedisState = 'connecting';
  /** bumped by every single-tool update, so a slower full resync does not undo a newer one */
  readonly #versions = new Map<string, number>();
  /** the hash each route was built from, to rebuild it without Redis and skip unchanged ones */
  readonly #raw = new Map<string, Record<string, string>>();
  /** node -> its lease as written; the tools whose hashes name it */
  readonly #nodes = new Map<string, number>();
  readonly #nodeTools = new Map<string, Set<string>>();
  readonly #nodeTimers = new Map<string, NodeJS.Timeout>();
  /** leases count as at least this: +Infinity while nothing can be heard, then a grace */
  #leaseFloor = Number.POSITIVE_INFINITY;
  #floorTimer: NodeJS.Timeout | null = null;
  /** the next resync follows a (re)connection */
  #reconnected = true;
  #runId: string | null = null;
  #redisRestarted = false;
  #disconnectedSince: number | null = Date.now();
  #rebuilds = 0;
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
      // back within half a second of Redis: routes a Redis restart lost come back that fast
      retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 5), 500),
      // with Sentinel: leave a master the moment it is demoted, even one still reachable
      failoverDetector: true,
      ...options.redisOptions,
    };
    this.#commands = createRedis(options.redis, { ...common, connectionName: 'toolhost-proxy' });
    this.#subscriber = createRedis(options.redis, { ...common, connectionName: 'toolhost-proxy-sub', enableOfflineQueue: true, autoResubscribe: false });
    keepConnecting(this.#commands, () => this.#closed);
    keepConnecting(this.#subscriber, () => this.#closed);
    this.#store = new RouteStore(this.#commands);
    this.#directory = new DirectoryMirror(new ToolDirectoryStore(this.#commands), {
      change: (tool, entry) => this.emit('tool', tool, entry),
      warning: (line) => this.emit('warning', line),
    });
    this.#commands.on('error', (err) => this.emit('error', err));
    // a full load runs once both connections are ready, after keyspace events are on and the
    // subscription is active, so that no change made meanwhile is missed
    this.#commands.on('ready', () => {
      void this.#onCommandsReady();
    });
    this.#commands.on('close', () => {
      this.#commandsReady = false;
      this.#lostRedis();
    });
    this.#subscriber.on('error', () => {
      // reported once through #commands; the subscriber reconnects by itself
    });
    this.#subscriber.on('pmessage', (_pattern: string, channel: string) => {
      const key = channel.startsWith('__keyspace@') ? channel.slice(channel.indexOf('__:') + 3) : channel;
      const tool = toolOfKey(key);
      if (tool !== null) void this.refresh(tool);
      const listed = toolOfDirectoryKey(key);
      if (listed !== null) void this.#directory.refresh(listed);
    });
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel !== NODES_CHANNEL) return;
      const [node, until] = message.split(' ');
      if (node && Number.isFinite(Number(until))) this.#setNode(node, Number(until));
    });
    // after any reconnection, changes may have been missed: resync everything
    this.#subscriber.on('ready', () => {
      // apart: a proxy user made before the directory existed may not follow it, and must still route
      this.#subscriber.psubscribe(DIRECTORY_CHANNEL_PATTERN, DIRECTORY_KEYSPACE_PATTERN).catch(() => {});
      Promise.all([this.#subscriber.psubscribe(ROUTE_CHANNEL_PATTERN, KEYSPACE_PATTERN), this.#subscriber.subscribe(NODES_CHANNEL)]).then(
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
      this.#lostRedis();
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

  /** how often a route's routing changed (a lease renewal is not a change) */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  /** ms since the table last heard Redis, or 0 while it does */
  staleForMs(now = Date.now()): number {
    return this.#disconnectedSince === null ? 0 : now - this.#disconnectedSince;
  }

  routes(): IterableIterator<Route> {
    return this.#routes.values();
  }

  /** the tool directory's entry of a tool: it exists, routed or not */
  tool(tool: string): ToolEntry | undefined {
    return this.#directory.get(tool);
  }

  /** every tool directory entry */
  tools(): IterableIterator<ToolEntry> {
    return this.#directory.entries();
  }

  #setState(state: RedisState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #lostRedis(): void {
    if (this.#closed) return;
    this.#disconnectedSince ??= Date.now();
    this.#reconnected = true;
    this.#setFloor(Number.POSITIVE_INFINITY);
  }

  async #onCommandsReady(): Promise<void> {
    const { remoteAddress, remotePort } = this.#commands.stream ?? {};
    if (remoteAddress && remotePort) this.emit('node', { host: remoteAddress, port: remotePort });
    try {
      const info = await this.#commands.info('server');
      const runId = /run_id:(\w+)/.exec(info)?.[1] ?? null;
      if (runId !== null) {
        if (this.#runId !== null && runId !== this.#runId) this.#redisRestarted = true;
        this.#runId = runId;
      }
    } catch {
      // INFO refused: a restart of Redis then looks like any reconnection
    }
    await this.#enableKeyspaceEvents();
    this.#commandsReady = true;
    await this.#resyncWhenReady();
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

  close(): Promise<void> {
    this.#closed = true;
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    if (this.#floorTimer) clearTimeout(this.#floorTimer);
    for (const t of this.#expiryTimers.values()) clearTimeout(t);
    for (const t of this.#nodeTimers.values()) clearTimeout(t);
    this.#expiryTimers.clear();
    this.#nodeTimers.clear();
    this.#setState('closed');
    this.#subscriber.disconnect();
    this.#commands.disconnect();
    return Promise.resolve();
  }

  /** re-read one tool; keeps the last known route if Redis cannot be asked */
  async refresh(tool: string): Promise<void> {
    const version = ++this.#version;
    this.#versions.set(tool, version);
    let stored: StoredRoute;
    try {
      stored = await this.#store.get(tool);
    } catch {
      this.#rebuild(tool);
      return;
    }
    if (this.#versions.get(tool) !== version) return;
    this.#applyStored(tool, stored, false);
  }

  /** re-read the whole table (SCAN + bounded reads) and the node leases */
  async resync(): Promise<void> {
    const started = this.#version;
    const afterReconnect = this.#reconnected;
    const mergeOnly = afterReconnect && this.#redisRestarted;
    let all: Map<string, StoredRoute>;
    let nodes: Record<string, string>;
    try {
      nodes = await this.#store.nodes();
      all = await this.#store.loadAll();
    } catch (err) {
      this.emit('error', err as Error);
      return;
    }
    if (afterReconnect) {
      this.#reconnected = false;
      this.#redisRestarted = false;
      this.#disconnectedSince = null;
      // holders that were cut off too get one lease period to renew; a first load knew
      // nothing before, so it has nothing to be lenient about
      this.#setFloor(this.#loaded ? Date.now() + (this.#options.leaseGraceMs ?? DEFAULT_GRACE_MS) : 0, mergeOnly);
    }
    for (const [node, until] of Object.entries(nodes)) {
      const n = Number(until);
      if (Number.isFinite(n) && (n >= (this.#nodes.get(node) ?? 0) || !mergeOnly)) this.#nodes.set(node, n);
    }
    const newer = (tool: string): boolean => (this.#versions.get(tool) ?? 0) > started;
    if (!mergeOnly) {
      for (const tool of [...this.#routes.keys()]) {
        if (!all.has(tool) && !newer(tool)) this.#applyStored(tool, {}, false);
      }
    }
    for (const [tool, stored] of all) if (!newer(tool)) this.#applyStored(tool, stored, afterReconnect);
    if (afterReconnect) for (const tool of [...this.#routes.keys()]) if (!all.has(tool)) this.#rebuild(tool);
    for (const node of this.#nodes.keys()) this.#armNode(node);
    await this.#directory.resync(mergeOnly);
    this.#loaded = true;
    this.emit('synced', this.#routes.size);
  }

  #setFloor(floor: number, thenResync = false): void {
    this.#leaseFloor = floor;
    if (this.#floorTimer) clearTimeout(this.#floorTimer);
    this.#floorTimer = null;
    if (!Number.isFinite(floor) || floor === 0 || this.#closed) return;
    // when the grace ends, what only the grace kept alive goes (and, after a Redis restart,
    // what the registrars did not write again)
    this.#floorTimer = setTimeout(() => {
      this.#floorTimer = null;
      if (thenResync) void this.resync();
      for (const tool of [...this.#routes.keys()]) this.#rebuild(tool);
      for (const node of this.#nodes.keys()) this.#armNode(node);
    }, Math.max(0, floor - Date.now()) + 5);
    this.#floorTimer.unref();
  }

  #leases(): LeaseView {
    const floor = this.#leaseFloor;
    return {
      backendUntil: (written) => Math.max(written, floor),
      nodeUntil: (node) => {
        const until = this.#nodes.get(node);
        return until === undefined ? null : Math.max(until, floor);
      },
    };
  }

  #setNode(node: string, until: number): void {
    const before = this.#nodes.get(node);
    this.#nodes.set(node, until);
    const now = Date.now();
    const wasLive = before !== undefined && Math.max(before, this.#leaseFloor) > now;
    if (!wasLive) this.#rebuildNode(node);
    this.#armNode(node);
  }

  /** a timer at the node's effective expiry: its backends go then, unless it renews first */
  #armNode(node: string): void {
    const old = this.#nodeTimers.get(node);
    if (old) clearTimeout(old);
    this.#nodeTimers.delete(node);
    const until = this.#leases().nodeUntil(node);
    if (until === null || !Number.isFinite(until) || this.#closed) return;
    const delay = until - Date.now();
    if (delay <= 0) return;
    const t = setTimeout(() => {
      this.#nodeTimers.delete(node);
      this.#rebuildNode(node);
    }, delay + 5);
    t.unref();
    this.#nodeTimers.set(node, t);
  }

  /** the tools on a node built again; a copy of the set, since each rebuild re-indexes its tool */
  #rebuildNode(node: string): void {
    for (const tool of [...(this.#nodeTools.get(node) ?? [])]) this.#rebuild(tool);
  }

  /** build a tool's route again from its last hash (a lease ran out, a node came or went) */
  #rebuild(tool: string): void {
    const raw = this.#raw.get(tool);
    if (raw) this.#build(tool, raw);
  }

  #applyStored(tool: string, stored: StoredRoute, force: boolean): void {
    if (stored instanceof OversizedRoute) {
      // refused inside Redis: the tool keeps what it had, and the problem is counted
      this.emit('problem', { tool, field: '', value: '', reason: `the route hash is too big: ${stored.reason}` });
      return;
    }
    const previous = this.#raw.get(tool);
    const current = this.#routes.get(tool);
    // a periodic resync mostly finds nothing new: keep the route (and its pools) as it is,
    // unless one of its own leases has run out since it was built
    if (!force && previous && current && sameHash(previous, stored) && (current.nextExpiry === null || current.nextExpiry > Date.now())) return;
    this.#build(tool, stored);
  }

  #build(tool: string, hash: Record<string, string>): void {
    this.#index(tool, this.#raw.get(tool), hash);
    const problems: RouteProblem[] = [];
    const route = Object.keys(hash).length ? parseRoute(tool, hash, Date.now(), problems, this.#options.backendPolicy ?? null, this.#leases()) : null;
    if (route) this.#raw.set(tool, hash);
    else this.#raw.delete(tool);
    for (const p of problems) this.emit('problem', p);
    this.#apply(tool, route);
  }

  /** keep node -> tools in step with the hashes */
  #index(tool: string, before: Record<string, string> | undefined, after: Record<string, string>): void {
    for (const node of before ? nodesOf(before) : []) this.#nodeTools.get(node)?.delete(tool);
    for (const node of nodesOf(after)) {
      let set = this.#nodeTools.get(node);
      if (!set) this.#nodeTools.set(node, (set = new Set()));
      set.add(tool);
    }
  }

  #apply(tool: string, route: Route | null): void {
    const timer = this.#expiryTimers.get(tool);
    if (timer) {
      clearTimeout(timer);
      this.#expiryTimers.delete(tool);
    }
    if (route === null) {
      if (this.#routes.delete(tool)) {
        this.#rebuilds++;
        this.emit('change', tool, null);
      }
      return;
    }
    const old = this.#routes.get(tool);
    this.#routes.set(tool, route);
    if (route.nextExpiry !== null && Number.isFinite(route.nextExpiry) && !this.#closed) {
      // re-read when an own lease runs out: it may have been renewed (renewals are not announced)
      const t = setTimeout(() => void this.refresh(tool), Math.max(0, route.nextExpiry - Date.now()) + 5);
      t.unref();
      this.#expiryTimers.set(tool, t);
    }
    // only a change of where requests go (or of the description) rebuilds pools and pages
    if (old && sameRouting(old, route)) return;
    this.#rebuilds++;
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
