// The node registrar (`toolhost registrar`, root, one per node): the only writer of tools'
// backends in the route table. Each tool gets its own unix socket, owned by the tool and
// closed to everyone else, so a caller is the tool (or root) by the kernel's word. A tool asks
// to register a port; the registrar checks in the kernel's socket table that a process of that
// tool's uid listens on it at the node's address, then writes backend:<node>-<port> and
// node:<node>-<port> into prefix:<tool>. It keeps checking: a port that stops listening, or is
// taken by another uid, loses its route within a second. It holds one lease for the whole node
// and heals the tools' hashes at every renewal. Its state survives its own restart (a file in
// its root-owned directory), so restarting it takes no tool off the web.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { requireRootOwnedDirectory, toolOwner, toolsUnder, type Owner } from '../accounts/index.js';
import { formatMessage, ToolhostError, type ErrorCode } from '../errors.js';
import { createRedis, keepConnecting, NodeRegistrations, normalizeDescription, type HeldTool, type RedisConnection } from '../routes/index.js';
import { canonicalIp } from '../ip-address.js';
import { LimitsService, type LimitsResult } from '../limits/index.js';
import { spoolEvent } from '../notify/index.js';
import { DEFAULT_STATE_DIR } from '../state-dir.js';
import { listeningSockets, listensOn, mayListenOn, type ListeningSocket } from './listening-sockets.js';
import { MAX_BACKENDS_PER_TOOL, MAX_LINE_BYTES, parseRequest, PROTOCOL_VERSION, socketPath, type Hello, type Listing, type RegisteredBackend, type Reply, type Request } from './protocol.js';

export interface RegistrarOptions {
  /** the route table's Redis: one server, or the master a Sentinel set names */
  readonly redis: RedisConnection;
  /** root-owned directory of the tools' sockets and the registrar's state */
  readonly socketDir: string;
  /** where tool homes are (the tools this registrar serves) */
  readonly homeRoot: string;
  /** this node's name in the route table */
  readonly node: string;
  /** the address tools' servers listen on and proxies reach */
  readonly address: string;
  /** how long the node's backends stay routed without a renewal (default 15 s) */
  readonly leaseMs?: number;
  /** how often listening sockets are checked (default 1 s) */
  readonly verifyIntervalMs?: number;
  /** how often the home root is scanned for new and removed tools (default 2 s) */
  readonly scanIntervalMs?: number;
  /** where administrators' quotas are (default /var/lib/toolhost) */
  readonly stateDir?: string;
  /** toolhost's directory in the cgroup hierarchies (default toolhost; tests name their own) */
  readonly cgroupRoot?: string;
  /** where /proc/net is (tests of the parser only) */
  readonly procNet?: string;
  readonly log: (line: string) => void;
}

interface Registration {
  readonly port: number;
  readonly id: string;
  readonly url: string;
  readonly since: number;
  stored: boolean;
}

interface ToolEntry {
  readonly name: string;
  readonly owner: Owner;
  server: net.Server | null;
  description: string | null;
  readonly backends: Map<number, Registration>;
  readonly connections: Set<net.Socket>;
}

interface SavedState {
  readonly node: string;
  readonly tools: Record<string, { readonly description: string | null; readonly ports: readonly number[] }>;
}

const STATE_FILE = 'registrations.json';
/** sun_path holds 108 bytes with its terminating NUL; longer paths are cut, and collide */
const MAX_SOCKET_PATH_BYTES = 107;
const MAX_CONNECTIONS_PER_TOOL = 64;
/** requests read ahead of their answers on one connection (one chunk can hold many) */
const MAX_PIPELINED = 64;

export const DEFAULT_LEASE_MS = 15_000;
/** how often units nobody released are looked for */
const REAP_INTERVAL_MS = 10_000;

/** how long a renewal (or a connection attempt) may go unanswered: one renewal period, at least 1 s */
function unansweredMs(leaseMs: number): number {
  return Math.max(1000, Math.floor(leaseMs / 3));
}

export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #tools = new Map<string, ToolEntry>();
  readonly #redis: Redis;
  readonly #writer: NodeRegistrations;
  readonly #timers: NodeJS.Timeout[] = [];
  /** tools skipped once with a reason, so the log says it once */
  readonly #skipped = new Map<string, string>();
  readonly #address: string;
  readonly limits: LimitsService;
  #ready = false;
  #closed = false;
  #healing: Promise<void> | null = null;
  #healAgain = false;

  constructor(options: RegistrarOptions) {
    this.#o = options;
    this.#address = canonicalIp(options.address) ?? options.address;
    this.limits = new LimitsService({
      stateDir: options.stateDir ?? DEFAULT_STATE_DIR,
      ...(options.cgroupRoot ? { cgroupRoot: options.cgroupRoot } : {}),
      useCgroups: process.getuid?.() === 0,
      log: options.log,
    });
    this.#redis = createRedis(options.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // back within half a second of Redis, so a Redis restart costs tools as little as possible
      retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 5), 500),
      connectionName: `toolhost-registrar-${options.node}`,
      // with Sentinel: leave a master the moment it is demoted, even one still reachable
      failoverDetector: true,
      // a network cut leaves the connection open and silent: a renewal unanswered for one
      // renewal period drops it (#heal), and a new one is tried as often, so the node's routes
      // return as soon as the network does rather than when TCP's backed-off retransmission
      // next tries (tens of seconds after a long cut)
      commandTimeout: unansweredMs(options.leaseMs ?? DEFAULT_LEASE_MS),
      connectTimeout: unansweredMs(options.leaseMs ?? DEFAULT_LEASE_MS),
    });
    keepConnecting(this.#redis, () => this.#closed);
    this.#redis.on('end', () => {
      if (!this.#closed) this.#o.log('redis: the client gave up; connecting again');
    });
    this.#writer = new NodeRegistrations(this.#redis, options.node);
    this.#redis.on('error', () => {
      // 'close' and 'ready' carry what matters; ioredis reconnects by itself
    });
    this.#redis.on('ready', () => {
      this.#ready = true;
      const { remoteAddress, remotePort } = this.#redis.stream ?? {};
      this.#o.log(`redis: connected${remoteAddress ? ` to ${remoteAddress}:${remotePort}` : ''}; writing every registration of node ${this.#o.node}`);
      void this.#afterConnect();
    });
    this.#redis.on('close', () => {
      if (this.#ready) this.#o.log('redis: connection lost; registrations are kept and written again when it is back');
      this.#ready = false;
    });
  }

  get leaseMs(): number {
    return this.#o.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async start(): Promise<void> {
    const longest = socketPath(this.#o.socketDir, 'x'.repeat(32));
    if (Buffer.byteLength(longest) > MAX_SOCKET_PATH_BYTES) throw new ToolhostError('TH_ERR_REGISTRAR_DIR_TOO_LONG', this.#o.socketDir, Buffer.byteLength(longest));
    if (process.getuid?.() === 0) {
      requireRootOwnedDirectory(this.#o.socketDir);
      // tools must reach their own socket in it (the socket itself is theirs alone)
      chmodSync(this.#o.socketDir, 0o755);
    } else {
      mkdirSync(this.#o.socketDir, { recursive: true, mode: 0o755 });
    }
    this.#scan();
    await this.#restore();
    this.#every(this.#o.scanIntervalMs ?? 2000, () => this.#scan());
    this.#every(this.#o.verifyIntervalMs ?? 1000, () => void this.#verifyAll());
    this.#every(Math.max(100, Math.floor(this.leaseMs / 3)), () => void this.#heal());
    this.#every(REAP_INTERVAL_MS, () => void this.limits.reap());
    this.#o.log(`limits: ${this.limits.enforcement.cgroups ? `enforced with ${this.limits.enforcement.detail}` : `not enforced by cgroups: ${this.limits.enforcement.detail}; units fall back to rlimits`}`);
    this.#redis.connect().catch(() => {
      // ioredis goes on retrying; 'ready' writes everything
    });
  }

  #every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.#timers.push(t);
  }

  /** stop serving; registrations stay in Redis and in the state file for the next start */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#save();
    await Promise.all([...this.#tools.values()].map((e) => this.#closeSocket(e)));
    this.#redis.disconnect();
  }

  /** the tools served now, for status and tests */
  tools(): string[] {
    return [...this.#tools.keys()].filter((n) => this.#tools.get(n)?.server !== null).sort();
  }

  // ---- tools and their sockets -------------------------------------------------------------

  #scan(): void {
    if (this.#closed) return;
    // the home root changes when a tool is made or removed; an account can also change without
    // it (a uid given back): look again at least once a minute
    let mtime: number;
    try {
      mtime = statSync(this.#o.homeRoot).mtimeMs;
    } catch (err) {
      this.#skipOnce('', `cannot read ${this.#o.homeRoot}: ${(err as Error).message}`);
      return;
    }
    if (mtime === this.#scannedMtime && Date.now() - this.#scannedAt < 60_000) return;
    this.#scannedMtime = mtime;
    this.#scannedAt = Date.now();
    const seen = new Set<string>();
    for (const tool of toolsUnder(this.#o.homeRoot)) {
      const owner = toolOwner(tool);
      if (!owner) continue;
      const name = tool.name;
      seen.add(name);
      const entry = this.#tools.get(name);
      if (entry && entry.owner.uid === owner.uid) {
        if (!entry.server) this.#openSocket(entry);
        continue;
      }
      if (entry) void this.#forget(entry, 'its owner changed');
      const fresh: ToolEntry = { name, owner, server: null, description: null, backends: new Map(), connections: new Set() };
      this.#tools.set(name, fresh);
      this.#openSocket(fresh);
    }
    for (const entry of [...this.#tools.values()]) if (!seen.has(entry.name)) void this.#forget(entry, 'its home is gone');
  }

  #scannedMtime = -1;
  #scannedAt = 0;

  #skipOnce(key: string, why: string): void {
    if (this.#skipped.get(key) === why) return;
    this.#skipped.set(key, why);
    this.#o.log(key ? `${key}: ${why}` : why);
  }

  #openSocket(entry: ToolEntry): void {
    const root = process.getuid?.() === 0;
    if (!root && entry.owner.uid !== process.getuid?.()) {
      this.#skipOnce(entry.name, `not served: only root can give a socket to uid ${entry.owner.uid}`);
      return;
    }
    const file = socketPath(this.#o.socketDir, entry.name);
    // our own directory, closed to others: a stale socket of ours, never a tool's file
    rmSync(file, { force: true });
    const server = net.createServer((socket) => this.#accept(entry, socket));
    server.on('error', (err) => this.#skipOnce(entry.name, `socket ${file}: ${err.message}`));
    entry.server = server;
    server.listen(file, () => {
      try {
        if (root) chownSync(file, entry.owner.uid, entry.owner.gid);
        chmodSync(file, 0o600);
        this.#skipped.delete(entry.name);
      } catch (err) {
        this.#skipOnce(entry.name, `cannot hand ${file} to uid ${entry.owner.uid}: ${(err as Error).message}`);
        server.close();
        entry.server = null;
      }
    });
  }

  async #closeSocket(entry: ToolEntry): Promise<void> {
    const server = entry.server;
    entry.server = null;
    for (const c of entry.connections) c.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(socketPath(this.#o.socketDir, entry.name), { force: true });
  }

  /** a tool that is gone (deleted, or another owner now): its socket and its backends go */
  async #forget(entry: ToolEntry, why: string): Promise<void> {
    this.#tools.delete(entry.name);
    await this.#closeSocket(entry);
    for (const reg of entry.backends.values()) await this.#removeFromRedis(entry.name, reg);
    await this.limits.forget(entry.name);
    if (entry.backends.size) this.#o.log(`${entry.name}: ${why}; its ${entry.backends.size} backend(s) are unregistered`);
    this.#save();
  }

  // ---- the protocol --------------------------------------------------------------------------

  #accept(entry: ToolEntry, socket: net.Socket): void {
    if (entry.connections.size >= MAX_CONNECTIONS_PER_TOOL) {
      socket.destroy();
      return;
    }
    entry.connections.add(socket);
    socket.on('close', () => entry.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const hello: Hello = { node: this.#o.node, address: this.#address, tool: entry.name, version: PROTOCOL_VERSION };
    socket.write(`${JSON.stringify({ hello })}\n`);
    // one request at a time per connection: reading stops while one is answered, so a client
    // that writes without reading fills its own socket buffer, not the registrar's memory
    const lines: string[] = [];
    let buffered = '';
    let busy = false;
    const next = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      socket.pause();
      while (lines.length && !socket.destroyed) {
        const req = parseRequest(lines.shift() as string);
        const reply = typeof req === 'string' ? this.#fail(-1, 'TH_ERR_REGISTRAR_PROTOCOL', req) : await this.#handle(entry, req);
        if (socket.destroyed) break;
        // a reader that does not read its answers waits for them here
        if (!socket.write(`${JSON.stringify(reply)}\n`)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      }
      busy = false;
      if (!socket.destroyed) socket.resume();
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.length > MAX_LINE_BYTES || lines.length >= MAX_PIPELINED) {
          socket.destroy();
          return;
        }
        lines.push(line);
      }
      if (buffered.length > MAX_LINE_BYTES) {
        socket.destroy();
        return;
      }
      void next();
    });
  }

  #fail(n: number, code: ErrorCode, ...args: (string | number)[]): Reply {
    return { n, ok: false, code, message: formatMessage(code, args) };
  }

  async #handle(entry: ToolEntry, req: Request): Promise<Reply> {
    if (!this.#tools.has(entry.name)) return this.#fail(req.n, 'TH_ERR_REGISTRAR_PROTOCOL', 'the tool is no longer served here');
    switch (req.op) {
      case 'register':
        return this.#register(entry, req.n, req.port, req.description ?? null);
      case 'unregister': {
        const reg = entry.backends.get(req.port);
        if (reg) await this.#unregister(entry, reg, 'unregistered by the tool');
        return { n: req.n, ok: true };
      }
      case 'list':
        return { n: req.n, ok: true, listing: this.#listing(entry) };
      case 'quota':
        return { n: req.n, ok: true, quota: this.limits.quota(entry.name) };
      case 'admit':
        return this.#limitsReply(req.n, this.limits.admit(entry.name, req.unit, req.memory, req.cpu));
      case 'place':
        return this.#limitsReply(req.n, this.limits.place(entry.name, entry.owner, req.unit, req.pid));
      case 'release':
        return this.#limitsReply(req.n, await this.limits.release(entry.name, req.unit));
      case 'notify': {
        // the socket said which tool this is: the notice is spooled as that tool's, whatever it claims
        const spooled = spoolEvent(this.#o.stateDir ?? DEFAULT_STATE_DIR, entry.name, req.event);
        if (!spooled.ok) return this.#fail(req.n, 'TH_ERR_NOTIFY_BACKLOG', spooled.backlog);
        return { n: req.n, ok: true };
      }
    }
  }

  #limitsReply(n: number, r: LimitsResult): Reply {
    if (!r.ok) return this.#fail(n, r.code, ...r.args);
    return { n, ok: true, ...(r.admission ? { admission: r.admission } : {}), ...(r.quota ? { quota: r.quota } : {}) };
  }

  #listing(entry: ToolEntry): Listing {
    return { node: this.#o.node, redis: this.#ready ? 'ready' : 'down', backends: [...entry.backends.values()].map((r) => this.#view(r)) };
  }

  #view(r: Registration): RegisteredBackend {
    return { id: r.id, port: r.port, url: r.url, stored: r.stored, since: r.since };
  }

  #urlOf(port: number): string {
    return `http://${this.#address.includes(':') ? `[${this.#address}]` : this.#address}:${port}`;
  }

  /**
   * The kernel's word on whether uid listens on port at the node's address — and nobody else
   * might: two sockets can share a port across address families (an IPv6-only one and an IPv4
   * one), and then the route must not be anybody's.
   */
  #owns(sockets: readonly ListeningSocket[], port: number, uid: number): boolean {
    const onPort = sockets.filter((s) => s.port === port);
    return onPort.some((s) => s.uid === uid && listensOn(s.address, this.#address)) && !onPort.some((s) => s.uid !== uid && mayListenOn(s.address, this.#address));
  }

  async #register(entry: ToolEntry, n: number, port: number, description: string | null): Promise<Reply> {
    const sockets = await listeningSockets(this.#o.procNet);
    if (!this.#owns(sockets, port, entry.owner.uid)) {
      const other = sockets.find((s) => s.port === port && s.uid !== entry.owner.uid && mayListenOn(s.address, this.#address));
      const mine = sockets.find((s) => s.port === port && s.uid === entry.owner.uid);
      const who = other
        ? `uid ${other.uid}, not ${entry.name} (uid ${entry.owner.uid})`
        : mine
          ? `${entry.name} listens on ${mine.address}, which is not ${this.#address} or 0.0.0.0`
          : 'nothing';
      return this.#fail(n, 'TH_ERR_REGISTRAR_NOT_OWNER', this.#address, port, who);
    }
    entry.description = normalizeDescription(description) ?? entry.description;
    let reg = entry.backends.get(port);
    if (!reg) {
      if (entry.backends.size >= MAX_BACKENDS_PER_TOOL) return this.#fail(n, 'TH_ERR_REGISTRAR_TOO_MANY', entry.name, MAX_BACKENDS_PER_TOOL);
      reg = { port, id: `${this.#o.node}-${port}`, url: this.#urlOf(port), since: Date.now(), stored: false };
      entry.backends.set(port, reg);
      this.#o.log(`${entry.name}: registered ${reg.url}`);
      this.#save();
    }
    await this.#heal();
    return { n, ok: true, backend: this.#view(reg) };
  }

  async #unregister(entry: ToolEntry, reg: Registration, why: string): Promise<void> {
    if (entry.backends.get(reg.port) !== reg) return;
    entry.backends.delete(reg.port);
    this.#o.log(`${entry.name}: ${reg.url} ${why}`);
    this.#save();
    await this.#removeFromRedis(entry.name, reg);
  }

  async #removeFromRedis(tool: string, reg: Registration): Promise<void> {
    if (!this.#ready) return; // the reconciliation after reconnecting removes it
    await this.#writer.remove(tool, reg.id).catch(() => {
      // Redis went away meanwhile: the reconciliation after reconnecting removes it
    });
  }

  // ---- keeping Redis right -------------------------------------------------------------------

  async #verifyAll(): Promise<void> {
    if (this.#closed) return;
    const takenAt = Date.now();
    const sockets = await listeningSockets(this.#o.procNet);
    for (const entry of [...this.#tools.values()]) {
      for (const reg of [...entry.backends.values()]) {
        // registered while the table was being read: checked against a newer read already, and
        // perhaps missing from this one (a server that started listening meanwhile lost its route)
        if (reg.since >= takenAt) continue;
        if (!this.#owns(sockets, reg.port, entry.owner.uid)) await this.#unregister(entry, reg, 'stopped listening');
      }
    }
  }

  #held(): HeldTool[] {
    const out: HeldTool[] = [];
    for (const e of this.#tools.values()) {
      if (e.backends.size === 0) continue;
      out.push({ tool: e.name, description: e.description, backends: [...e.backends.values()].map((r) => ({ id: r.id, url: r.url })) });
    }
    return out;
  }

  /** write what is missing and renew the node's lease; overlapping calls run once more, not twice at once */
  #heal(): Promise<void> {
    if (this.#healing) {
      this.#healAgain = true;
      return this.#healing;
    }
    this.#healing = (async () => {
      do {
        this.#healAgain = false;
        if (!this.#ready || this.#closed) break;
        const held = this.#held();
        try {
          const healed = await this.#writer.heal(held, Date.now() + this.leaseMs);
          for (const e of this.#tools.values()) for (const r of e.backends.values()) r.stored = true;
          if (healed.length) this.#o.log(`redis: wrote the registrations of ${healed.length} tool(s) again (${healed.slice(0, 5).join(', ')}${healed.length > 5 ? ', …' : ''})`);
        } catch (err) {
          if (/timed out/i.test((err as Error).message)) {
            // unanswered: the connection is dead without knowing it (a network cut). Dropped at
            // once (a polite close would wait for the peer too), and ioredis connects anew
            this.#o.log(`redis: no answer for ${unansweredMs(this.leaseMs)} ms; connecting again`);
            this.#redis.stream?.destroy();
          } else {
            this.#o.log(`redis: cannot renew: ${(err as Error).message}`);
          }
        }
      } while (this.#healAgain);
    })().finally(() => {
      this.#healing = null;
    });
    return this.#healing;
  }

  async #afterConnect(): Promise<void> {
    try {
      const removed = await this.#writer.reconcile((tool, id) => [...(this.#tools.get(tool)?.backends.values() ?? [])].some((r) => r.id === id));
      if (removed) this.#o.log(`redis: removed ${removed} backend(s) of node ${this.#o.node} that it no longer holds`);
    } catch (err) {
      this.#o.log(`redis: cannot reconcile: ${(err as Error).message}`);
    }
    await this.#heal();
  }

  // ---- surviving a restart -------------------------------------------------------------------

  #save(): void {
    if (this.#closed && !existsSync(this.#o.socketDir)) return;
    const state: SavedState = {
      node: this.#o.node,
      tools: Object.fromEntries([...this.#tools.values()].filter((e) => e.backends.size).map((e) => [e.name, { description: e.description, ports: [...e.backends.keys()] }])),
    };
    const file = path.join(this.#o.socketDir, STATE_FILE);
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.#o.log(`cannot save ${file}: ${(err as Error).message}`);
    }
  }

  /** what the last run held, kept where the kernel still says it belongs to the tool */
  async #restore(): Promise<void> {
    let saved: SavedState;
    try {
      saved = JSON.parse(readFileSync(path.join(this.#o.socketDir, STATE_FILE), 'utf8')) as SavedState;
    } catch {
      return;
    }
    if (saved.node !== this.#o.node) return;
    const sockets = await listeningSockets(this.#o.procNet);
    let kept = 0;
    for (const [name, t] of Object.entries(saved.tools ?? {})) {
      const entry = this.#tools.get(name);
      if (!entry) continue;
      entry.description = t.description;
      for (const port of t.ports) {
        if (!this.#owns(sockets, port, entry.owner.uid)) continue;
        entry.backends.set(port, { port, id: `${this.#o.node}-${port}`, url: this.#urlOf(port), since: Date.now(), stored: false });
        kept++;
      }
    }
    if (kept) this.#o.log(`restored ${kept} registration(s) from the last run`);
  }
}
