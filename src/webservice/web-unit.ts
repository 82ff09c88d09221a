// A tool's webservice as a supervised unit: lighttpd (or the tool's own server) on a fresh port,
// ready once it answers HTTP, routed by the node registrar, replaced start-first (the new server
// is routed before the old one is unrouted, drained and stopped: no request fails), restarted
// when ~/.lighttpd.conf changes. Its state goes to state.json for `webservice status`.
//
// Its logs stay under their caps (src/logs/): the servers' output reaches ~/error.log through the
// supervisor's pipe; lighttpd writes ~/error.log and ~/access.log itself, and after the
// supervisor rotated one of them it sends lighttpd SIGHUP, on which lighttpd reopens its logs and
// goes on serving (lines written before it did are in the rotated file: none is lost).
import path from 'node:path';
import { execFile } from 'node:child_process';
import { watch, type FSWatcher } from 'chokidar';
import { describeExit, UnitGuard, unitName, type ExitCause } from '../limits/index.js';
import { appendCapped, ChildOutput, type CappedLog, type ToolLogs } from '../logs/index.js';
import type { RegistrarClient } from '../registrar/index.js';
import { httpProbe, Unit, type Orphan, type UnitDriver, type UnitSnapshot } from '../supervisor/index.js';
import { USER_CONFIG_NAME } from './lighttpd-config.js';
import { ERROR_LOG, startInstance, type ServerContext, type ServerInstance } from './server-instance.js';
import { serviceLog, writeState, type ServiceStateName } from './service-state.js';
import { notify, tailOf, UnitAlerts, type EventKind, type NoticeNote } from '../notify/index.js';

export interface WebUnitOptions {
  readonly server: ServerContext;
  readonly registrar: RegistrarClient;
  readonly description: string | null;
  readonly healthCheckScript?: string;
  readonly livenessIntervalMs?: number;
  readonly orphan?: Orphan | null;
  readonly drainMs?: number;
  /** a crash loop is over after a run this long (the notice "recovered") */
  readonly stableMs?: number;
  /** the supervisor's capped logs; null: servers write ~/error.log directly (uncapped) */
  readonly logs?: ToolLogs | null;
}

export const ACCESS_LOG = 'access.log';
/** how often the logs lighttpd writes itself are looked at */
const LOG_CHECK_MS = 1000;

function isLighttpd(server: ServerContext): boolean {
  return server.type === 'lighttpd' || server.type === 'lighttpd-plain';
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
  #output: ChildOutput | null = null;
  #accessLog: CappedLog | null = null;
  /** the lighttpd servers that are ready and not yet gone: told to reopen their logs after a rotation */
  readonly #lighttpds = new Set<ServerInstance>();

  constructor(options: WebUnitOptions) {
    this.#o = options;
    this.#alerts = new UnitAlerts({ everyExit: false, log: (line) => serviceLog(options.server.tool.home, line), emit: (kind, summary) => void this.#notify(kind, summary), ...(options.stableMs !== undefined ? { stableMs: options.stableMs } : {}) });
    const livenessMs = options.livenessIntervalMs ?? 10_000;
    const driver: UnitDriver<ServerInstance> = {
      noun: 'server',
      replace: 'start-first',
      launch: (signal) => this.#launch(signal),
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
      afterStop: async () => {
        await this.#output?.drain();
      },
    };
    this.#unit = new Unit('webservice', driver, { orphan: options.orphan ?? null, ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}) });
  }

  #guard: UnitGuard | null = null;
  #lastCause: ExitCause | null = null;
  #lastSnapshot: UnitSnapshot<ServerInstance> | null = null;
  #notice: NoticeNote | null = null;
  readonly #alerts: UnitAlerts;

  /** tell the maintainers, as --emails says; what became of it shows in webservice status */
  async #notify(kind: EventKind, summary: string): Promise<void> {
    const server = this.#o.server;
    const note = await notify(this.#o.registrar, undefined, server.emails, {
      source: 'webservice',
      name: server.type,
      kind,
      at: Date.now(),
      summary,
      cause: kind === 'crash-loop' ? this.#lastCause : null,
      stderr: tailOf(path.join(server.tool.home, ERROR_LOG)),
      look: `webservice status; webservice logs (as ${server.tool.name})`,
    });
    if (!note) return;
    this.#notice = note;
    if (this.#lastSnapshot) this.#publish(this.#lastSnapshot);
  }

  /** how the last server ended, when it did (OOM, a signal) */
  get lastCause(): ExitCause | null {
    return this.#lastCause;
  }

  get unit(): Unit<ServerInstance> {
    return this.#unit;
  }

  async start(): Promise<void> {
    this.#watchConfig();
    await this.#openLogs();
    return this.#unit.start();
  }

  restart(reason: string): Promise<void> {
    return this.#unit.restart(reason);
  }

  async stop(): Promise<void> {
    void this.#watcher?.close();
    this.#watcher = null;
    await this.#unit.stop();
    this.#alerts.close();
    await this.#guard?.release();
    await this.#closeLogs();
  }

  /** what the next server runs (a changed manifest); takes effect at the next restart */
  setServer(server: ServerContext, healthCheckScript: string | undefined): void {
    const { healthCheckScript: _old, ...rest } = this.#o;
    this.#o = { ...rest, server, ...(healthCheckScript ? { healthCheckScript } : {}) };
  }

  #publish(s: UnitSnapshot<ServerInstance>): void {
    const first = this.#lastSnapshot !== s;
    this.#lastSnapshot = s;
    if (first) this.#alerts.observe(s);
    const c = s.current;
    writeState(this.#o.server.runtimeDir, {
      tool: this.#o.server.tool.name,
      type: this.#o.server.type,
      state: publishedState(s),
      supervisorPid: process.pid,
      serverPid: c?.process.pid ?? null,
      serverStartTicks: c?.startTicks ?? null,
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
      notice: this.#notice,
      updatedAt: Date.now(),
    });
  }

  /** configuration errors also go where maintainers look first: ~/error.log */
  #errorLog(line: string): void {
    try {
      const stamp = new Date().toISOString();
      const lines = line.split('\n').slice(1).map((l) => l.trim());
      appendCapped(path.join(this.#o.server.tool.home, ERROR_LOG), lines.map((l) => `${stamp}: (toolhost) ${l}\n`).join(''), this.#o.logs?.policy?.files ?? null);
    } catch {
      // the home may be full; service.log has it too
    }
  }

  /** ~/error.log (and lighttpd's ~/access.log) kept under their caps while the unit lives */
  async #openLogs(): Promise<void> {
    const logs = this.#o.logs;
    if (!logs || this.#output) return;
    const home = this.#o.server.tool.home;
    const lighttpd = isLighttpd(this.#o.server);
    const check = lighttpd ? { checkMs: LOG_CHECK_MS } : {};
    try {
      this.#output = await ChildOutput.open(logs, 'webservice', { file: path.join(home, ERROR_LOG), kind: 'files', ...check }, 'same');
      if (lighttpd) this.#accessLog = await logs.acquire({ file: path.join(home, ACCESS_LOG), kind: 'files', ...check });
    } catch (err) {
      // the servers then write ~/error.log themselves, as before: uncapped, but running
      serviceLog(home, `logs: ${(err as Error).message}; ~/error.log is not capped until the webservice is started again`);
      return;
    }
    const reopen = (): void => {
      for (const i of this.#lighttpds) this.#reopenLogsOf(i);
    };
    for (const log of [...this.#output.files, this.#accessLog]) log?.onRotate(reopen);
  }

  async #closeLogs(): Promise<void> {
    const output = this.#output;
    const access = this.#accessLog;
    this.#output = null;
    this.#accessLog = null;
    await output?.close();
    if (access) await this.#o.logs?.release(access);
  }

  #rotations(): number {
    return (this.#output?.files ?? []).reduce((n, f) => n + f.rotations, this.#accessLog?.rotations ?? 0);
  }

  async #launch(signal: AbortSignal): Promise<ServerInstance> {
    // admitted again at every start: the quota may have filled or freed meanwhile
    const guard = await UnitGuard.admit(this.#o.registrar, { unit: unitName('web'), ...this.#o.server.resources });
    this.#guard = guard;
    if (guard.warning) serviceLog(this.#o.server.tool.home, guard.warning);
    const rotationsBefore = this.#rotations();
    const instance = await startInstance(this.#output ? { ...this.#o.server, output: this.#output } : this.#o.server, guard, signal);
    if (isLighttpd(this.#o.server)) {
      this.#lighttpds.add(instance);
      void instance.process.exited.then(() => this.#lighttpds.delete(instance));
      // it opened its logs before a rotation that happened while it started
      if (this.#rotations() !== rotationsBefore) this.#reopenLogsOf(instance);
    }
    return instance;
  }

  /** SIGHUP: lighttpd reopens its logs (and serves on); only its own pid, never its CGI or PHP children */
  #reopenLogsOf(i: ServerInstance): void {
    if (!i.process.running || !i.process.pid) return;
    try {
      process.kill(i.process.pid, 'SIGHUP');
    } catch {
      // gone meanwhile
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
    // only lighttpd reads a configuration toolhost merges; uwsgi.ini and package.json apply at the next restart, as on Toolforge
    if (this.#o.server.type !== 'lighttpd' && this.#o.server.type !== 'lighttpd-plain') return;
    const file = path.join(this.#o.server.tool.home, USER_CONFIG_NAME);
    this.#watcher = watch(file, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 10 } });
    const changed = (): void => void this.#unit.restart(`${USER_CONFIG_NAME} changed`);
    this.#watcher.on('add', changed).on('change', changed).on('unlink', changed);
    this.#watcher.on('error', (err) => serviceLog(this.#o.server.tool.home, `watching ${file}: ${(err as Error).message}`));
  }
}
