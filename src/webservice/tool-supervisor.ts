// The per-tool supervisor: keeps one server of the tool running and routed.
//
//            start ──► starting ──ready──► running ──exit/liveness fails──► (route removed)
//                         ▲                   │  ▲                              │
//                         └──── backoff ◄─────┼──┴── first restart at once ◄────┘
//                                             │        (3 in a minute: crash-looping)
//             restart / config change ───────►│ new server on a new port, ready, routed,
//                                             │ then the old one unrouted and stopped
//             stop ──► route removed ──► SIGTERM (SIGKILL after the grace) ──► stopped
//
// A ~/.lighttpd.conf edit that does not check out leaves the running server untouched; the
// problem (file:line) goes to `webservice status`, ~/service.log and ~/error.log.
import { appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import { httpProbe, RestartPolicy } from '../supervisor/index.js';
import { USER_CONFIG_NAME } from './lighttpd-config.js';
import { RouteLease } from './route-lease.js';
import { ConfigProblem, ERROR_LOG, startInstance, type ServerContext, type ServerInstance } from './server-instance.js';
import { serviceLog, writeState, type ServiceState, type ServiceStateName } from './service-state.js';

export interface SupervisorOptions {
  readonly server: ServerContext;
  readonly redisUrl: string;
  readonly description: string | null;
  readonly healthCheckScript?: string;
  readonly livenessIntervalMs?: number;
  readonly livenessFailures?: number;
  readonly stopGraceMs?: number;
  /** between taking a server's route away and stopping it: proxies see the change in ms */
  readonly drainMs?: number;
  readonly leaseMs?: number;
  readonly restartPolicy?: RestartPolicy;
}

interface Running {
  readonly instance: ServerInstance;
  readonly lease: RouteLease;
  /** set when we stop it on purpose, so its exit is not a crash */
  retiring: boolean;
}

export class ToolSupervisor {
  #o: SupervisorOptions;
  readonly #policy: RestartPolicy;
  #current: Running | null = null;
  #restarts = 0;
  #lastExit: string | null = null;
  #configError: readonly string[] | null = null;
  #generation = 0;
  #stopping = false;
  #queue: Promise<void> = Promise.resolve();
  #restartTimer: NodeJS.Timeout | null = null;
  #livenessTimer: NodeJS.Timeout | null = null;
  #livenessFailed = 0;
  #watcher: FSWatcher | null = null;
  #reloadTimer: NodeJS.Timeout | null = null;
  readonly #startedAt = Date.now();
  #stopped: () => void = () => {};
  readonly stoppedPromise: Promise<void>;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#policy = options.restartPolicy ?? new RestartPolicy();
    this.stoppedPromise = new Promise((resolve) => (this.#stopped = resolve));
  }

  get #tool(): string {
    return this.#o.server.tool.name;
  }

  #log(line: string): void {
    serviceLog(this.#o.server.tool.home, line);
  }

  #publish(state: ServiceStateName, message: string): void {
    const c = this.#current;
    const s: ServiceState = {
      tool: this.#tool,
      type: this.#o.server.type,
      state,
      supervisorPid: process.pid,
      serverPid: c?.instance.process.pid ?? null,
      port: c?.instance.port ?? null,
      url: c?.instance.url ?? null,
      serverStartedAt: c?.instance.startedAt ?? null,
      supervisorStartedAt: this.#startedAt,
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      configError: this.#configError,
      routeRegistered: c !== null,
      generation: this.#generation,
      message,
      updatedAt: Date.now(),
    };
    writeState(this.#o.server.runtimeDir, s);
  }

  /** run one operation at a time: starts, replacements and stops never interleave */
  #serial(op: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(op, op);
    return this.#queue;
  }

  start(): Promise<void> {
    this.#watchConfig();
    return this.#serial(() => this.#bringUp());
  }

  /** what the next server runs (a changed manifest); takes effect at the next restart */
  setServer(server: ServerContext, healthCheckScript: string | undefined): void {
    const { healthCheckScript: _old, ...rest } = this.#o;
    this.#o = { ...rest, server, ...(healthCheckScript ? { healthCheckScript } : {}) };
  }

  /** a new server, ready and routed, then the old one stopped: no request fails meanwhile */
  restart(reason: string): Promise<void> {
    return this.#serial(async () => {
      if (this.#stopping) return;
      if (!this.#current) return this.#bringUp();
      this.#log(`${reason}: starting a new server before stopping the old one`);
      const old = this.#current;
      let next: Running;
      try {
        next = await this.#launch();
      } catch (err) {
        this.#reportStartFailure(err, true);
        return;
      }
      this.#configError = null;
      this.#current = next;
      this.#generation++;
      old.retiring = true;
      await old.lease.close();
      await sleep(this.#o.drainMs ?? 1000);
      await old.instance.process.stop(this.#o.stopGraceMs ?? 10_000);
      this.#publish('running', `serving on ${next.instance.url} (${reason})`);
      this.#log(`serving on ${next.instance.url}; the old server (pid ${old.instance.process.pid}) is stopped`);
    });
  }

  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (this.#livenessTimer) clearInterval(this.#livenessTimer);
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
    void this.#watcher?.close();
    return this.#serial(async () => {
      this.#publish('stopping', 'stopping');
      const c = this.#current;
      this.#current = null;
      if (c) {
        c.retiring = true;
        // unrouted first, so no request is sent to a server that is going away
        await c.lease.close();
        await sleep(Math.min(this.#o.drainMs ?? 1000, 500));
        await c.instance.process.stop(this.#o.stopGraceMs ?? 10_000);
      }
      this.#publish('stopped', 'stopped');
      this.#log('stopped');
      this.#stopped();
    });
  }

  async #launch(): Promise<Running> {
    const instance = await startInstance(this.#o.server);
    const lease = new RouteLease({
      redisUrl: this.#o.redisUrl,
      tool: this.#tool,
      id: `${os.hostname()}-${instance.port}`,
      url: instance.url,
      description: this.#o.description,
      ...(this.#o.leaseMs !== undefined ? { leaseMs: this.#o.leaseMs } : {}),
      onError: (err) => this.#log(`route table: ${err.message}`),
    });
    try {
      await lease.register();
    } catch (err) {
      await lease.close();
      await instance.process.stop(2000);
      throw err;
    }
    const running: Running = { instance, lease, retiring: false };
    void instance.process.exited.then((exit) => {
      if (!running.retiring) void this.#serial(() => this.#onCrash(running, exit.code, exit.signal));
    });
    return running;
  }

  async #bringUp(): Promise<void> {
    if (this.#stopping) return;
    this.#publish('starting', 'starting the server');
    try {
      this.#current = await this.#launch();
    } catch (err) {
      this.#reportStartFailure(err, false);
      return;
    }
    this.#configError = null;
    this.#generation++;
    this.#publish('running', `serving on ${this.#current.instance.url}`);
    this.#log(`serving on ${this.#current.instance.url} (pid ${this.#current.instance.process.pid})`);
    this.#startLiveness();
  }

  #reportStartFailure(err: unknown, keptOld: boolean): void {
    if (err instanceof ConfigProblem) {
      this.#configError = err.lines;
      const where = keptOld ? 'the running server keeps its last good configuration' : 'the server is not started';
      this.#log(`configuration error (${where}):\n  ${err.lines.join('\n  ')}`);
      this.#errorLog(err.lines);
      this.#publish(keptOld ? 'running' : 'config-error', `configuration error: ${err.lines[0] ?? ''}`);
      return;
    }
    const why = err instanceof Error ? err.message : String(err);
    this.#lastExit = why;
    this.#log(`the server did not start: ${why}`);
    if (keptOld) {
      this.#publish('running', `a new server did not start (${why}); the old one keeps serving`);
      return;
    }
    this.#scheduleRestart(0);
  }

  #errorLog(lines: readonly string[]): void {
    try {
      const stamp = new Date().toISOString();
      appendFileSync(path.join(this.#o.server.tool.home, ERROR_LOG), lines.map((l) => `${stamp}: (toolhost) ${l}\n`).join(''));
    } catch {
      // the home may be full; service.log has it too
    }
  }

  async #onCrash(running: Running, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.#current !== running || this.#stopping) return;
    this.#current = null;
    await running.lease.close();
    this.#restarts++;
    this.#lastExit = signal ? `killed by ${signal}` : `exit code ${code}`;
    this.#scheduleRestart(Date.now() - running.instance.startedAt);
  }

  #scheduleRestart(ranMs: number): void {
    if (this.#stopping) return;
    const delay = this.#policy.nextDelay(ranMs);
    const looping = this.#policy.crashLooping;
    const msg = `the server stopped (${this.#lastExit ?? 'unknown'}); restart ${this.#restarts} in ${delay} ms` + (looping ? '; it keeps crashing: see ~/error.log' : '');
    this.#log(msg);
    this.#publish(looping ? 'crash-looping' : 'starting', msg);
    this.#restartTimer = setTimeout(() => void this.#serial(() => this.#bringUp()), delay);
  }

  #startLiveness(): void {
    if (this.#livenessTimer) return;
    const every = this.#o.livenessIntervalMs ?? 10_000;
    const allowed = this.#o.livenessFailures ?? 3;
    this.#livenessTimer = setInterval(() => {
      const c = this.#current;
      if (!c || this.#stopping) return;
      void this.#probe(c).then((ok) => {
        if (c !== this.#current) return;
        this.#livenessFailed = ok ? 0 : this.#livenessFailed + 1;
        if (this.#livenessFailed >= allowed) {
          this.#livenessFailed = 0;
          this.#log(`the server failed ${allowed} liveness checks in a row; restarting it`);
          c.instance.process.signal('SIGKILL');
        }
      });
    }, every);
    this.#livenessTimer.unref();
  }

  #probe(c: Running): Promise<boolean> {
    const script = this.#o.healthCheckScript;
    if (!script) return httpProbe(`${c.instance.url}/`, 5000);
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', script], { cwd: this.#o.server.tool.home, timeout: 10_000, env: { ...process.env, PORT: String(c.instance.port) } }, (err) => resolve(!err));
    });
  }

  #watchConfig(): void {
    if (this.#o.server.type === 'generic') return;
    const file = path.join(this.#o.server.tool.home, USER_CONFIG_NAME);
    this.#watcher = watch(file, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
    const changed = (): void => {
      if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
      this.#reloadTimer = setTimeout(() => void this.restart(`${USER_CONFIG_NAME} changed`), 50);
    };
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('error', (err) => this.#log(`watching ${file}: ${(err as Error).message}`));
  }

}
