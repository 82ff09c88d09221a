// What one client address may take: a number of open connections and a request rate (token
// bucket; Toolforge: 100 requests/s, burst 100). State per address lives in one Map, pruned
// when idle, so a flood of addresses cannot grow it without bound for long.
export interface ClientLimitOptions {
  /** open connections per address; 0: no limit */
  readonly maxConnectionsPerIp: number;
  /** requests per second per address; 0: no limit */
  readonly ratePerSecond: number;
  readonly burst: number;
}

interface ClientState {
  connections: number;
  tokens: number;
  refilledAt: number;
}

export class ClientLimits {
  readonly #o: ClientLimitOptions;
  readonly #clients = new Map<string, ClientState>();
  readonly #pruner: NodeJS.Timeout;

  constructor(options: ClientLimitOptions) {
    this.#o = options;
    this.#pruner = setInterval(() => this.#prune(), 60_000);
    this.#pruner.unref();
  }

  #get(ip: string, now: number): ClientState {
    let s = this.#clients.get(ip);
    if (!s) {
      s = { connections: 0, tokens: this.#o.burst, refilledAt: now };
      this.#clients.set(ip, s);
    }
    return s;
  }

  /** a new connection: false if this address has too many open already */
  connect(ip: string): boolean {
    const s = this.#get(ip, Date.now());
    if (this.#o.maxConnectionsPerIp > 0 && s.connections >= this.#o.maxConnectionsPerIp) return false;
    s.connections++;
    return true;
  }

  disconnect(ip: string): void {
    const s = this.#clients.get(ip);
    if (s && s.connections > 0) s.connections--;
  }

  /** one request: false when the address is over its rate */
  request(ip: string, now: number): boolean {
    if (this.#o.ratePerSecond <= 0) return true;
    const s = this.#get(ip, now);
    const elapsed = (now - s.refilledAt) / 1000;
    s.tokens = Math.min(this.#o.burst, s.tokens + elapsed * this.#o.ratePerSecond);
    s.refilledAt = now;
    if (s.tokens < 1) return false;
    s.tokens -= 1;
    return true;
  }

  get trackedAddresses(): number {
    return this.#clients.size;
  }

  #prune(): void {
    const now = Date.now();
    for (const [ip, s] of this.#clients) {
      if (s.connections === 0 && now - s.refilledAt > 60_000) this.#clients.delete(ip);
    }
  }

  close(): void {
    clearInterval(this.#pruner);
  }
}
