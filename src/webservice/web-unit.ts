// A tool's webservice as a supervised unit: lighttpd (or the tool's own server) on a fresh port,
// ready once it answers HTTP, routed by the node registrar, replaced start-first (the new server
// is routed before the old one is unrouted, drained and stopped: no request fails), restarted
// when ~/.lighttpd.conf changes. Its state goes to state.json for `webservice status`.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { watch, type FSWatcher } from 'chokidar';
import { describeExit, UnitGuard, unitName, type ExitCause } from '../limits/index.js';
import type { RegistrarClient } from '../registrar/index.js';
import { httpProbe, Unit, type Orphan, type UnitDriver, type UnitSnapshot } from '../supervisor/index.js';
import { USER_CONFIG_NAME } from './lighttpd-config.js';
import { ERROR_LOG, startInstance, type ServerContext, type ServerInstance } from './server-instance.js';
import { serviceLog, writeState, type ServiceStateName } from './service-state.js';

export interface WebUnitOptions {
  readonly server: ServerContext;
  readonly registrar: RegistrarClient;
  readonly description: string | null;
  readonly healthCheckScript?: string;
  readonly livenessIntervalMs?: number;
  readonly orphan?: Orphan | null;
  readonly drainMs?: number;
}

function publishedState(s: UnitSnapshot<ServerInstance>): ServiceStateName {
  switch (s.state) {
    case 'running':
    case 'replacing':
      return 'running';
    case 'backing-off':
      return s.crashLooping ? 'crash-looping' : 'starting';
    case 'config-error':
    case 'stopping':
    case 'stopped':
      return s.state;
    default:
      return 'starting';
  }
}

export class WebUnit {
  #o: WebUnitOptions;
  readonly #unit: Unit<ServerInstance>;
  readonly #startedAt = Date.now();
  #watcher: FSWatcher | null = null;

  constructor(options: WebUnitOptions) {
    this.#o = options;
    const livenessMs = options.livenessIntervalMs ?? 10_000;
    const driver: UnitDriver<ServerInstance> = {
      noun: 'server',
      replace: 'start-first',
      launch: () => this.#launch(),
      describeExit: (i, code, signal) => {
        const cause = i.guard ? i.guard.cause(code, signal) : null;
        this.#lastCause = cause;
        return cause ? describeExit(cause) : signal ? `killed by ${signal}` : `exit code ${code}`;
      },
      route: async (i) => {
        await this.#o.registrar.register(i.port, this.#o.description);
      },
      unroute: (port) => this.#o.registrar.unregister(port),
      probe: (i) => this.#probe(i, livenessMs),
      livenessIntervalMs: livenessMs,
      publish: (s) => this.#publish(s),
      log: (line) => {
        // a crash loop points at the server's own errors
        serviceLog(this.#o.server.tool.home, line.endsWith('it keeps crashing') ? `${line}: see ~/error.log` : line);
        if (line.startsWith('configuration error')) this.#errorLog(line);
      },
    };
    this.#unit = new Unit('webservice', driver, { orphan: options.orphan ?? null, ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}) });
  }

  #guard: UnitGuard | null = null;
  #lastCause: ExitCause | null = null;

  /** how the last server ended, when it did (OOM, a signal) */
  get lastCause(): ExitCause | null {
    return this.#lastCause;
  }

  async #launch(): Promise<ServerInstance> {
    // admitted again at every start: the quota may have filled or freed meanwhile
    const guard = await UnitGuard.admit(this.#o.registrar, { unit: unitName('web'), ...this.#o.server.resources });
    this.#guard = guard;
    if (guard.warning) serviceLog(this.#o.server.tool.home, guard.warning);
    return startInstance(this.#o.server, guard);
  }

  get unit(): Unit<ServerInstance> {
    return this.#unit;
  }

  start(): Promise<void> {
    this.#watchConfig();
    return this.#unit.start();
  }

  restart(reason: string): Promise<void> {
    return this.#unit.restart(reason);
  }

  async stop(): Promise<void> {
    void this.#watcher?.close();
    this.#watcher = null;
    await this.#unit.stop();
    await this.#guard?.release();
  }

  /** what the next server runs (a changed manifest); takes effect at the next restart */
  setServer(server: ServerContext, healthCheckScript: string | undefined): void {
    const { healthCheckScript: _old, ...rest } = this.#o;
    this.#o = { ...rest, server, ...(healthCheckScript ? { healthCheckScript } : {}) };
  }

  #publish(s: UnitSnapshot<ServerInstance>): void {
    const c = s.current;
    writeState(this.#o.server.runtimeDir, {
      tool: this.#o.server.tool.name,
      type: this.#o.server.type,
      state: publishedState(s),
      supervisorPid: process.pid,
      serverPid: c?.process.pid ?? null,
      port: c?.port ?? null,
      url: c?.url ?? null,
      serverStartedAt: c?.startedAt ?? null,
      supervisorStartedAt: this.#startedAt,
      restarts: s.restarts,
      lastExit: s.lastExit,
      configError: s.configError,
      routeRegistered: s.routed,
      generation: s.generation,
      message: s.message,
      limits: this.#guard?.summary() ?? null,
      lastCause: this.#lastCause,
      updatedAt: Date.now(),
    });
  }

  /** configuration errors also go where maintainers look first: ~/error.log */
  #errorLog(line: string): void {
    try {
      const stamp = new Date().toISOString();
      const lines = line.split('\n').slice(1).map((l) => l.trim());
      appendFileSync(path.join(this.#o.server.tool.home, ERROR_LOG), lines.map((l) => `${stamp}: (toolhost) ${l}\n`).join(''));
    } catch {
      // the home may be full; service.log has it too
    }
  }

  #probe(i: ServerInstance, periodMs: number): Promise<boolean> {
    const script = this.#o.healthCheckScript;
    // a probe never outlasts the period between probes (a hung server fails within it)
    if (!script) return httpProbe(`${i.url}/`, Math.min(5000, periodMs));
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', script], { cwd: this.#o.server.tool.home, timeout: 10_000, env: { ...process.env, PORT: String(i.port) } }, (err) => resolve(!err));
    });
  }

  #watchConfig(): void {
    if (this.#o.server.type === 'generic') return;
    const file = path.join(this.#o.server.tool.home, USER_CONFIG_NAME);
    this.#watcher = watch(file, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
    const changed = (): void => void this.#unit.restart(`${USER_CONFIG_NAME} changed`);
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('error', (err) => serviceLog(this.#o.server.tool.home, `watching ${file}: ${(err as Error).message}`));
  }
}
