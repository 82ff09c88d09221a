// When to start a server again after it stopped: at once the first time, then with
// exponential backoff; a server that keeps dying within the window is "crash-looping".
export interface RestartPolicyOptions {
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** a run longer than this resets the backoff */
  readonly stableAfterMs?: number;
  /** this many restarts within stableAfterMs is a crash loop */
  readonly crashLoopRestarts?: number;
}

export class RestartPolicy {
  readonly #o: Required<RestartPolicyOptions>;
  #recent: number[] = [];
  #consecutive = 0;

  constructor(options: RestartPolicyOptions = {}) {
    this.#o = {
      firstDelayMs: options.firstDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 60_000,
      stableAfterMs: options.stableAfterMs ?? 60_000,
      crashLoopRestarts: options.crashLoopRestarts ?? 3,
    };
  }

  /** the server stopped after running ranMs: how long to wait before the next start */
  nextDelay(ranMs: number, now = Date.now()): number {
    if (ranMs >= this.#o.stableAfterMs) this.#consecutive = 0;
    this.#recent = this.#recent.filter((t) => now - t < this.#o.stableAfterMs);
    this.#recent.push(now);
    const n = this.#consecutive++;
    if (n === 0) return 0;
    return Math.min(this.#o.maxDelayMs, this.#o.firstDelayMs * 2 ** (n - 1));
  }

  get crashLooping(): boolean {
    return this.#recent.length >= this.#o.crashLoopRestarts;
  }

  get restartsInWindow(): number {
    return this.#recent.length;
  }

  reset(): void {
    this.#recent = [];
    this.#consecutive = 0;
  }
}
