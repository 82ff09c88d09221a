// One supervised unit of a tool — its webservice, or one of its continuous jobs — kept running:
// started, probed, restarted with backoff when it dies, replaced on request, stopped cleanly.
// An explicit state machine: one named state, transitions checked against one table, every timer
// owned by the state that set it (leaving a state clears its timers), one operation at a time.
// What differs between a web server and a bot is the driver's: how an instance starts and when
// it is ready, how it is routed, whether a replacement starts before (web: no request fails) or
// after (a bot must never run twice) the old one stops.
//
//   idle ──start──► starting ──ready (+ routed)──► running ──restart──► replacing ──► running
//                     │  ▲  └─config error──► config-error    │
//                     ▼  └── backoff over / restart ──────────┤
//                  backing-off ◄──── exit / failed liveness ──┘
//   any ──stop──► stopping ──every instance stopped, every route released──► stopped
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from './child-process.js';
import { RestartPolicy } from './restart-policy.js';

export type UnitState = 'idle' | 'starting' | 'running' | 'replacing' | 'backing-off' | 'config-error' | 'stopping' | 'stopped';

const TRANSITIONS: Readonly<Record<UnitState, readonly UnitState[]>> = {
  idle: ['starting', 'stopping'],
  starting: ['running', 'backing-off', 'config-error', 'stopping'],
  running: ['replacing', 'backing-off', 'stopping'],
  replacing: ['running', 'backing-off', 'config-error', 'stopping'],
  'backing-off': ['starting', 'stopping'],
  'config-error': ['starting', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

export interface UnitInstance {
  readonly process: ManagedProcess;
  readonly startedAt: number;
  /** the port it serves on, when it serves */
  readonly port: number | null;
  readonly url: string | null;
}

/** the unit's own configuration is wrong: it waits in config-error (a running instance is kept) */
export class UnitConfigError extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines[0] ?? 'configuration error');
    this.name = 'UnitConfigError';
  }
}

/** a process a dead supervisor left running: stopped before (stop-first) or after (start-first) the new one */
export interface Orphan {
  readonly pid: number;
  /** the process group the instance and its children are in (a server leads its own) */
  readonly pgid: number;
  readonly port: number | null;
}

export interface UnitSnapshot<I extends UnitInstance> {
  readonly state: UnitState;
  readonly crashLooping: boolean;
  readonly current: I | null;
  readonly routed: boolean;
  readonly restarts: number;
  readonly lastExit: string | null;
  readonly configError: readonly string[] | null;
  /** bumped by every new current instance */
  readonly generation: number;
  readonly message: string;
}

export interface UnitDriver<I extends UnitInstance> {
  /** what an instance is called in messages: "server", "job" */
  readonly noun: string;
  /**
   * start an instance and resolve once it is ready (UnitConfigError: the configuration is
   * wrong); when `signal` aborts (the unit is being stopped), stop what was started and reject
   */
  launch(signal: AbortSignal): Promise<I>;
  /** route a ready instance (the registrar); a failure is a failed start */
  route?(instance: I): Promise<void>;
  /** take its route away (best effort), before it stops or after it died */
  unroute?(port: number): Promise<void>;
  /** a replacement starts before the old instance stops (no request fails) or after (never two at once) */
  readonly replace: 'start-first' | 'stop-first';
  /** a liveness probe of the running instance, or null for none */
  readonly probe: ((instance: I) => Promise<boolean>) | null;
  readonly livenessIntervalMs?: number;
  readonly livenessFailures?: number;
  /** how an instance ended, in words (the OOM killer, a signal); default: exit code or signal */
  describeExit?(instance: I, code: number | null, signal: NodeJS.Signals | null): string;
  publish(snapshot: UnitSnapshot<I>): void;
  log(line: string): void;
  /** after every instance ended, before the unit says it stopped: what they wrote is written out */
  afterStop?(): Promise<void>;
}

export interface UnitOptions {
  readonly stopGraceMs?: number;
  /** between taking an instance's route away and stopping it: proxies see the change in ms */
  readonly drainMs?: number;
  readonly restartPolicy?: RestartPolicy;
  readonly orphan?: Orphan | null;
}

export class Unit<I extends UnitInstance> {
  readonly #name: string;
  readonly #driver: UnitDriver<I>;
  readonly #o: UnitOptions;
  readonly #policy: RestartPolicy;
  #state: UnitState = 'idle';
  /** timers of the current state, cleared by every transition */
  readonly #stateTimers = new Set<NodeJS.Timeout>();
  #current: I | null = null;
  /** every instance started and not yet exited: stop ends them all */
  readonly #instances = new Set<I>();
  /** ports routed and not yet released */
  readonly #routed = new Set<number>();
  #orphan: Orphan | null;
  #restarts = 0;
  #lastExit: string | null = null;
  #configError: readonly string[] | null = null;
  #generation = 0;
  #queue: Promise<void> = Promise.resolve();
  #restartPending = false;
  #livenessFailed = 0;
  /** set by stop() at once, before its turn in the queue: a start under way gives up */
  #stopRequested = false;
  /** aborts the instance that is starting (a server waiting to be ready may wait a minute) */
  #launching: AbortController | null = null;
  #stopped: () => void = () => {};
  readonly stoppedPromise: Promise<void>;

  constructor(name: string, driver: UnitDriver<I>, options: UnitOptions = {}) {
    this.#name = name;
    this.#driver = driver;
    this.#o = options;
    this.#orphan = options.orphan ?? null;
    this.#policy = options.restartPolicy ?? new RestartPolicy();
    this.stoppedPromise = new Promise((resolve) => (this.#stopped = resolve));
  }

  get state(): UnitState {
    return this.#state;
  }

  #transition(to: UnitState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new Error(`unit ${this.#name}: no transition from ${this.#state} to ${to}`);
    for (const t of this.#stateTimers) clearTimeout(t);
    this.#stateTimers.clear();
    this.#state = to;
  }

  /** a timer that belongs to the current state */
  #stateTimer(ms: number, fn: () => void, repeat = false): void {
    const t = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
    t.unref();
    this.#stateTimers.add(t);
  }

  #publish(message: string): void {
    const c = this.#current;
    this.#driver.publish({
      state: this.#state,
      crashLooping: this.#policy.crashLooping,
      current: c,
      routed: c !== null && c.port !== null && this.#routed.has(c.port),
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      configError: this.#configError,
      generation: this.#generation,
      message,
    });
  }

  /** one operation at a time: starts, replacements, crashes and stops never interleave */
  #serial(op: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(op, op);
    return this.#queue;
  }

  start(): Promise<void> {
    return this.#serial(async () => {
      if (this.#state !== 'idle') return;
      if (this.#driver.replace === 'stop-first') await this.#retireOrphan(false);
      await this.#bringUp();
    });
  }

  /** a fresh instance: for start-first units, ready and routed before the old one stops */
  restart(reason: string): Promise<void> {
    // a burst of edits or signals makes one restart, not one each
    if (this.#restartPending) return this.#queue;
    this.#restartPending = true;
    return this.#serial(async () => {
      this.#restartPending = false;
      switch (this.#state) {
        case 'running':
          await this.#replace(reason);
          return;
        case 'backing-off':
        case 'config-error':
          this.#driver.log(`${reason}: starting now`);
          await this.#bringUp();
          return;
        default:
          // starting is never seen here (operations are serial); stopping/stopped ignore it
          return;
      }
    });
  }

  stop(): Promise<void> {
    // a stop never waits behind a start that is not ready yet: that start gives up now
    this.#stopRequested = true;
    this.#launching?.abort();
    return this.#serial(async () => {
      if (this.#state === 'stopping' || this.#state === 'stopped') return;
      this.#transition('stopping');
      this.#publish('stopping');
      const instances = [...this.#instances];
      this.#current = null;
      // unrouted first, so no request is sent to an instance that is going away
      for (const port of [...this.#routed]) await this.#unroute(port);
      if (this.#orphan?.port) await this.#unroute(this.#orphan.port);
      if (this.#routedOnce && (instances.length || this.#orphan)) await sleep(Math.min(this.#o.drainMs ?? 1000, 500));
      await Promise.all(instances.map((i) => i.process.stop(this.#o.stopGraceMs ?? 10_000)));
      await this.#killOrphan();
      await this.#driver.afterStop?.().catch(() => {});
      this.#transition('stopped');
      this.#publish('stopped');
      this.#driver.log('stopped');
      this.#stopped();
    });
  }

  /** whether this unit ever had a route (only then is there something to drain) */
  #routedOnce = false;

  async #unroute(port: number): Promise<void> {
    this.#routed.delete(port);
    await this.#driver.unroute?.(port).catch((err: Error) => this.#driver.log(`route: ${err.message}`));
  }

  /** an instance started, ready, and routed; throws when any of that fails */
  async #launch(): Promise<I> {
    if (this.#stopRequested) throw new Error(`the unit is stopping`);
    const launching = new AbortController();
    this.#launching = launching;
    let instance: I;
    try {
      instance = await this.#driver.launch(launching.signal);
    } finally {
      this.#launching = null;
    }
    this.#instances.add(instance);
    void instance.process.exited.then((exit) => {
      this.#instances.delete(instance);
      void this.#serial(() => this.#onExit(instance, exit.code, exit.signal));
    });
    if (this.#driver.route && instance.port !== null) {
      try {
        await this.#driver.route(instance);
        this.#routed.add(instance.port);
        this.#routedOnce = true;
      } catch (err) {
        await instance.process.stop(2000);
        throw err;
      }
    }
    return instance;
  }

  async #bringUp(): Promise<void> {
    this.#transition('starting');
    this.#publish('starting');
    let instance: I;
    try {
      instance = await this.#launch();
    } catch (err) {
      // given up for a stop that comes next: no failure to report, no backoff
      if (!this.#stopRequested) this.#startFailed(err);
      return;
    }
    this.#current = instance;
    this.#configError = null;
    this.#generation++;
    this.#enterRunning(instance.url ? `serving on ${instance.url}` : `running (pid ${instance.process.pid})`);
    this.#driver.log(`${instance.url ? `serving on ${instance.url}` : 'running'} (pid ${instance.process.pid})`);
    if (this.#driver.replace === 'start-first') await this.#retireOrphan(true);
  }

  #enterRunning(message: string): void {
    this.#transition('running');
    this.#livenessFailed = 0;
    if (this.#driver.probe) this.#stateTimer(this.#driver.livenessIntervalMs ?? 10_000, () => void this.#checkLiveness(), true);
    this.#publish(message);
  }

  async #replace(reason: string): Promise<void> {
    const old = this.#current as I;
    this.#transition('replacing');
    const noun = this.#driver.noun;
    this.#driver.log(`${reason}: ${this.#driver.replace === 'start-first' ? `starting a new ${noun} before stopping the old one` : `stopping the ${noun}, then starting it again`}`);
    if (this.#driver.replace === 'stop-first') {
      // never two at once: the old one goes first, then this is a start like any other
      this.#current = null;
      if (old.port !== null) await this.#unroute(old.port);
      await old.process.stop(this.#o.stopGraceMs ?? 10_000);
      let next: I;
      try {
        next = await this.#launch();
      } catch (err) {
        if (!this.#stopRequested) this.#startFailed(err);
        return;
      }
      this.#current = next;
      this.#configError = null;
      this.#generation++;
      this.#enterRunning(`running again (${reason})`);
      return;
    }
    let next: I;
    try {
      next = await this.#launch();
    } catch (err) {
      // the old instance is stopped by the stop that comes next
      if (this.#stopRequested) return;
      const why = err instanceof UnitConfigError ? `configuration error: ${err.lines[0] ?? ''}` : `a new ${noun} did not start (${(err as Error).message}); the old one keeps serving`;
      if (err instanceof UnitConfigError) this.#reportConfig(err, true);
      else {
        this.#lastExit = (err as Error).message;
        this.#driver.log(why);
      }
      this.#enterRunning(why);
      return;
    }
    this.#configError = null;
    this.#current = next;
    this.#generation++;
    if (old.port !== null) await this.#unroute(old.port);
    if (this.#routedOnce) await sleep(this.#o.drainMs ?? 1000);
    await old.process.stop(this.#o.stopGraceMs ?? 10_000);
    this.#enterRunning(next.url ? `serving on ${next.url} (${reason})` : `running (${reason})`);
    this.#driver.log(`${next.url ? `serving on ${next.url}` : 'running'}; the old ${noun} (pid ${old.process.pid}) is stopped`);
  }

  #startFailed(err: unknown): void {
    if (err instanceof UnitConfigError) {
      this.#transition('config-error');
      this.#reportConfig(err, false);
      this.#publish(`configuration error: ${err.lines[0] ?? ''}`);
      return;
    }
    this.#lastExit = err instanceof Error ? err.message : String(err);
    this.#driver.log(`the ${this.#driver.noun} did not start: ${this.#lastExit}`);
    this.#backOff(0);
  }

  #reportConfig(err: UnitConfigError, keptOld: boolean): void {
    this.#configError = err.lines;
    const where = keptOld ? `the running ${this.#driver.noun} keeps its last good configuration` : `the ${this.#driver.noun} is not started`;
    this.#driver.log(`configuration error (${where}):\n  ${err.lines.join('\n  ')}`);
  }

  async #onExit(instance: I, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // an instance we replaced or stopped on purpose, or one that died before it was current
    if (instance !== this.#current || this.#state !== 'running') return;
    this.#current = null;
    if (instance.port !== null) await this.#unroute(instance.port);
    this.#restarts++;
    this.#lastExit = this.#driver.describeExit?.(instance, code, signal) ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
    this.#backOff(Date.now() - instance.startedAt);
  }

  #backOff(ranMs: number): void {
    const delay = this.#policy.nextDelay(ranMs);
    this.#transition('backing-off');
    const msg = `the ${this.#driver.noun} stopped (${this.#lastExit ?? 'unknown'}); restart ${this.#restarts} in ${delay} ms` + (this.#policy.crashLooping ? '; it keeps crashing' : '');
    this.#driver.log(msg);
    this.#publish(msg);
    this.#stateTimer(delay, () => {
      void this.#serial(async () => {
        if (this.#state === 'backing-off') await this.#bringUp();
      });
    });
  }

  async #checkLiveness(): Promise<void> {
    const c = this.#current;
    const probe = this.#driver.probe;
    if (!c || !probe || this.#state !== 'running') return;
    const ok = await probe(c);
    if (c !== this.#current || this.#state !== 'running') return;
    this.#livenessFailed = ok ? 0 : this.#livenessFailed + 1;
    const allowed = this.#driver.livenessFailures ?? 3;
    if (this.#livenessFailed >= allowed) {
      this.#livenessFailed = 0;
      this.#driver.log(`the ${this.#driver.noun} failed ${allowed} liveness checks in a row; restarting it`);
      // its exit is a crash like any other: unrouted, then started again by the backoff
      c.process.signal('SIGKILL');
    }
  }

  /** the instance a dead supervisor left: unrouted and stopped (after ours is routed, for start-first) */
  async #retireOrphan(drain: boolean): Promise<void> {
    const orphan = this.#orphan;
    if (!orphan) return;
    if (orphan.port) await this.#unroute(orphan.port);
    if (drain) await sleep(this.#o.drainMs ?? 1000);
    await this.#killOrphan();
    this.#driver.log(`stopped the ${this.#driver.noun} a supervisor that died left running (pid ${orphan.pid})`);
  }

  async #killOrphan(): Promise<void> {
    const orphan = this.#orphan;
    this.#orphan = null;
    if (!orphan) return;
    const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-orphan.pgid, sig);
        return true;
      } catch {
        return false;
      }
    };
    if (!signalGroup('SIGTERM')) return;
    signalGroup('SIGCONT');
    // a bot must be gone before its successor starts: wait for the group, then force it
    const deadline = Date.now() + (this.#o.stopGraceMs ?? 10_000);
    while (Date.now() < deadline) {
      if (!signalGroup(0)) return;
      await sleep(20);
    }
    signalGroup('SIGKILL');
  }
}
