// The per-tool supervisor: keeps one server of the tool running and routed. An explicit state
// machine: one named state, transitions checked against one table, every timer owned by the
// state that set it (leaving a state clears its timers), one operation at a time.
//
//   idle ──start──► starting ──ready+routed──► running ──restart/config edit──► replacing
//                     │  ▲  └─config error──► config-error        ▲                │
//                     │  │                        │               └──new routed────┘ (old one
//                     │  └──backoff elapsed / restart / edit──────┤                    unrouted,
//                     ▼                                           │                    drained,
//                  backing-off ◄──────crash / 3 liveness failures─┘                    stopped)
//   any ──stop──► stopping ──every server stopped, every route released──► stopped
//
// Invariants (test/webservice/supervisor-states.test.ts drives random event sequences):
// at most one server is current; `stop` ends every server this supervisor started (and the
// one a dead predecessor left) and releases every route it registered.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { RegistrarClient } from '../registrar/index.js';
import { httpProbe, RestartPolicy } from '../supervisor/index.js';
import { USER_CONFIG_NAME } from './lighttpd-config.js';
import { ConfigProblem, ERROR_LOG, startInstance, type ServerContext, type ServerInstance } from './server-instance.js';
import { serviceLog, writeState, type ServiceState, type ServiceStateName } from './service-state.js';

export type SupervisorState = 'idle' | 'starting' | 'running' | 'replacing' | 'backing-off' | 'config-error' | 'stopping' | 'stopped';

const TRANSITIONS: Readonly<Record<SupervisorState, readonly SupervisorState[]>> = {
  idle: ['starting', 'stopping'],
  starting: ['running', 'backing-off', 'config-error', 'stopping'],
  running: ['replacing', 'backing-off', 'stopping'],
  replacing: ['running', 'stopping'],
  'backing-off': ['starting', 'stopping'],
  'config-error': ['starting', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** a server a dead supervisor left running (it keeps serving until its successor is routed) */
export interface Orphan {
  readonly pid: number;
  /** the dead supervisor's process group, which the server and its children are in */
  readonly pgid: number;
  readonly port: number | null;
}

export interface SupervisorOptions {
  readonly server: ServerContext;
  readonly registrar: RegistrarClient;
  readonly description: string | null;
  readonly healthCheckScript?: string;
  readonly livenessIntervalMs?: number;
  readonly livenessFailures?: number;
  readonly stopGraceMs?: number;
  /** between taking a server's route away and stopping it: proxies see the change in ms */
  readonly drainMs?: number;
  readonly restartPolicy?: RestartPolicy;
  readonly orphan?: Orphan | null;
}

export class ToolSupervisor {
  #o: SupervisorOptions;
  readonly #policy: RestartPolicy;
  #state: SupervisorState = 'idle';
  /** timers of the current state, cleared by every transition */
  readonly #stateTimers = new Set<NodeJS.Timeout>();
  #current: ServerInstance | null = null;
  /** every server started and not yet exited: stop ends them all */
  readonly #servers = new Set<ServerInstance>();
  /** ports registered with the registrar and not yet released */
  readonly #registered = new Set<number>();
  #orphan: Orphan | null;
  #restarts = 0;
  #lastExit: string | null = null;
  #configError: readonly string[] | null = null;
  #generation = 0;
  #queue: Promise<void> = Promise.resolve();
  #restartPending = false;
  #livenessFailed = 0;
  #watcher: FSWatcher | null = null;
  readonly #startedAt = Date.now();
  #stopped: () => void = () => {};
  readonly stoppedPromise: Promise<void>;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#orphan = options.orphan ?? null;
    this.#policy = options.restartPolicy ?? new RestartPolicy();
    this.stoppedPromise = new Promise((resolve) => (this.#stopped = resolve));
  }

  get state(): SupervisorState {
    return this.#state;
  }

  get #tool(): string {
    return this.#o.server.tool.name;
  }

  #log(line: string): void {
    serviceLog(this.#o.server.tool.home, line);
  }

  #transition(to: SupervisorState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new Error(`supervisor of ${this.#tool}: no transition from ${this.#state} to ${to}`);
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

  #published(): ServiceStateName {
    switch (this.#state) {
      case 'running':
      case 'replacing':
        return 'running';
      case 'backing-off':
        return this.#policy.crashLooping ? 'crash-looping' : 'starting';
      case 'config-error':
      case 'stopping':
      case 'stopped':
        return this.#state;
      default:
        return 'starting';
    }
  }

  #publish(message: string): void {
    const c = this.#current;
    const s: ServiceState = {
      tool: this.#tool,
      type: this.#o.server.type,
      state: this.#published(),
      supervisorPid: process.pid,
      serverPid: c?.process.pid ?? null,
      port: c?.port ?? null,
      url: c?.url ?? null,
      serverStartedAt: c?.startedAt ?? null,
      supervisorStartedAt: this.#startedAt,
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      configError: this.#configError,
      routeRegistered: c !== null && this.#registered.has(c.port),
      generation: this.#generation,
      message,
      updatedAt: Date.now(),
    };
    writeState(this.#o.server.runtimeDir, s);
  }

  /** one operation at a time: starts, replacements, crashes and stops never interleave */
  #serial(op: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(op, op);
    return this.#queue;
  }

  start(): Promise<void> {
    this.#watchConfig();
    return this.#serial(async () => {
      if (this.#state !== 'idle') return;
      await this.#bringUp();
    });
  }

  /** what the next server runs (a changed manifest); takes effect at the next restart */
  setServer(server: ServerContext, healthCheckScript: string | undefined): void {
    const { healthCheckScript: _old, ...rest } = this.#o;
    this.#o = { ...rest, server, ...(healthCheckScript ? { healthCheckScript } : {}) };
  }

  /** a new server, ready and routed, then the old one stopped: no request fails meanwhile */
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
          this.#log(`${reason}: starting the server now`);
          await this.#bringUp();
          return;
        default:
          // starting is never seen here (operations are serial); stopping/stopped ignore it
          return;
      }
    });
  }

  stop(): Promise<void> {
    void this.#watcher?.close();
    this.#watcher = null;
    return this.#serial(async () => {
      if (this.#state === 'stopping' || this.#state === 'stopped') return;
      this.#transition('stopping');
      this.#publish('stopping');
      const servers = [...this.#servers];
      this.#current = null;
      // unrouted first, so no request is sent to a server that is going away
      for (const port of [...this.#registered]) await this.#release(port);
      if (this.#orphan?.port) await this.#release(this.#orphan.port);
      if (servers.length || this.#orphan) await sleep(Math.min(this.#o.drainMs ?? 1000, 500));
      await Promise.all(servers.map((s) => s.process.stop(this.#o.stopGraceMs ?? 10_000)));
      this.#killOrphan();
      this.#transition('stopped');
      this.#publish('stopped');
      this.#log('stopped');
      this.#o.registrar.close();
      this.#stopped();
    });
  }

  async #release(port: number): Promise<void> {
    this.#registered.delete(port);
    await this.#o.registrar.unregister(port).catch((err: Error) => this.#log(`registrar: ${err.message}`));
  }

  /** a server started, ready, and routed by the registrar; throws when any of that fails */
  async #launch(): Promise<ServerInstance> {
    const instance = await startInstance(this.#o.server);
    this.#servers.add(instance);
    void instance.process.exited.then((exit) => {
      this.#servers.delete(instance);
      void this.#serial(() => this.#onExit(instance, exit.code, exit.signal));
    });
    try {
      await this.#o.registrar.register(instance.port, this.#o.description);
      this.#registered.add(instance.port);
    } catch (err) {
      await instance.process.stop(2000);
      throw err;
    }
    return instance;
  }

  async #bringUp(): Promise<void> {
    this.#transition('starting');
    this.#publish('starting the server');
    let instance: ServerInstance;
    try {
      instance = await this.#launch();
    } catch (err) {
      this.#startFailed(err);
      return;
    }
    this.#current = instance;
    this.#configError = null;
    this.#generation++;
    this.#enterRunning(`serving on ${instance.url}`);
    this.#log(`serving on ${instance.url} (pid ${instance.process.pid})`);
    await this.#retireOrphan();
  }

  #enterRunning(message: string): void {
    this.#transition('running');
    this.#livenessFailed = 0;
    this.#stateTimer(this.#o.livenessIntervalMs ?? 10_000, () => void this.#checkLiveness(), true);
    this.#publish(message);
  }

  async #replace(reason: string): Promise<void> {
    const old = this.#current as ServerInstance;
    this.#transition('replacing');
    this.#log(`${reason}: starting a new server before stopping the old one`);
    let next: ServerInstance;
    try {
      next = await this.#launch();
    } catch (err) {
      if (err instanceof ConfigProblem) this.#reportConfig(err, true);
      else this.#lastExit = err instanceof Error ? err.message : String(err);
      const why = err instanceof ConfigProblem ? `configuration error: ${err.lines[0] ?? ''}` : `a new server did not start (${this.#lastExit}); the old one keeps serving`;
      if (!(err instanceof ConfigProblem)) this.#log(why);
      this.#enterRunning(why);
      return;
    }
    this.#configError = null;
    this.#current = next;
    this.#generation++;
    await this.#release(old.port);
    await sleep(this.#o.drainMs ?? 1000);
    await old.process.stop(this.#o.stopGraceMs ?? 10_000);
    this.#enterRunning(`serving on ${next.url} (${reason})`);
    this.#log(`serving on ${next.url}; the old server (pid ${old.process.pid}) is stopped`);
  }

  #startFailed(err: unknown): void {
    if (err instanceof ConfigProblem) {
      this.#transition('config-error');
      this.#reportConfig(err, false);
      this.#publish(`configuration error: ${err.lines[0] ?? ''}`);
      return;
    }
    this.#lastExit = err instanceof Error ? err.message : String(err);
    this.#log(`the server did not start: ${this.#lastExit}`);
    this.#backOff(0);
  }

  #reportConfig(err: ConfigProblem, keptOld: boolean): void {
    this.#configError = err.lines;
    const where = keptOld ? 'the running server keeps its last good configuration' : 'the server is not started';
    this.#log(`configuration error (${where}):\n  ${err.lines.join('\n  ')}`);
    try {
      const stamp = new Date().toISOString();
      appendFileSync(path.join(this.#o.server.tool.home, ERROR_LOG), err.lines.map((l) => `${stamp}: (toolhost) ${l}\n`).join(''));
    } catch {
      // the home may be full; service.log has it too
    }
  }

  async #onExit(instance: ServerInstance, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // a server we replaced or stopped on purpose, or one that died before it was current
    if (instance !== this.#current || this.#state !== 'running') return;
    this.#current = null;
    await this.#release(instance.port);
    this.#restarts++;
    this.#lastExit = signal ? `killed by ${signal}` : `exit code ${code}`;
    this.#backOff(Date.now() - instance.startedAt);
  }

  #backOff(ranMs: number): void {
    const delay = this.#policy.nextDelay(ranMs);
    this.#transition('backing-off');
    const msg = `the server stopped (${this.#lastExit ?? 'unknown'}); restart ${this.#restarts} in ${delay} ms` + (this.#policy.crashLooping ? '; it keeps crashing: see ~/error.log' : '');
    this.#log(msg);
    this.#publish(msg);
    this.#stateTimer(delay, () => {
      void this.#serial(async () => {
        if (this.#state === 'backing-off') await this.#bringUp();
      });
    });
  }

  async #checkLiveness(): Promise<void> {
    const c = this.#current;
    if (!c || this.#state !== 'running') return;
    const ok = await this.#probe(c);
    if (c !== this.#current || this.#state !== 'running') return;
    this.#livenessFailed = ok ? 0 : this.#livenessFailed + 1;
    const allowed = this.#o.livenessFailures ?? 3;
    if (this.#livenessFailed >= allowed) {
      this.#livenessFailed = 0;
      this.#log(`the server failed ${allowed} liveness checks in a row; restarting it`);
      // its exit is a crash like any other: unrouted, then started again by the backoff
      c.process.signal('SIGKILL');
    }
  }

  #probe(c: ServerInstance): Promise<boolean> {
    const script = this.#o.healthCheckScript;
    // a probe never outlasts the period between probes (a hung server fails within it)
    if (!script) return httpProbe(`${c.url}/`, Math.min(5000, this.#o.livenessIntervalMs ?? 10_000));
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', script], { cwd: this.#o.server.tool.home, timeout: 10_000, env: { ...process.env, PORT: String(c.port) } }, (err) => resolve(!err));
    });
  }

  /** the server a dead supervisor left: unrouted and stopped once our own is routed */
  async #retireOrphan(): Promise<void> {
    const orphan = this.#orphan;
    if (!orphan) return;
    if (orphan.port) await this.#release(orphan.port);
    await sleep(this.#o.drainMs ?? 1000);
    this.#killOrphan();
    this.#log(`stopped the server left by a supervisor that died (pid ${orphan.pid})`);
  }

  #killOrphan(): void {
    const orphan = this.#orphan;
    this.#orphan = null;
    if (!orphan) return;
    for (const target of [-orphan.pgid, orphan.pid]) {
      try {
        process.kill(target, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    setTimeout(() => {
      try {
        process.kill(-orphan.pgid, 'SIGKILL');
      } catch {
        // it stopped on SIGTERM
      }
    }, this.#o.stopGraceMs ?? 10_000).unref();
  }

  #watchConfig(): void {
    if (this.#o.server.type === 'generic') return;
    const file = path.join(this.#o.server.tool.home, USER_CONFIG_NAME);
    this.#watcher = watch(file, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
    const changed = (): void => void this.restart(`${USER_CONFIG_NAME} changed`);
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('error', (err) => this.#log(`watching ${file}: ${(err as Error).message}`));
  }
}
