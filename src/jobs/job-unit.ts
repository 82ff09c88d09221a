// A continuous job as a supervised unit (src/supervisor/unit.ts): restarted on any exit, at once
// the first time and then with the webservices' backoff; replaced stop-first (a bot never runs
// twice); health-checked as Toolforge does it — a startup phase that runs the job's
// --health-check-script once a second until it passes (120 failures in a row restart the job),
// then liveness every 10 s (3 failures in a row restart it). A job with --port and --publish
// is routed by the node registrar like a webservice.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tool } from '../accounts/index.js';
import { describeExit, resourcesOf, UnitGuard, unitName, type ExitCause, type LimitsSummary } from '../limits/index.js';
import type { ChildOutput, ToolLogs } from '../logs/index.js';
import type { RegistrarClient } from '../registrar/index.js';
import { processInfo, StartAborted, StartError, tcpProbe, Unit, type ManagedProcess, type Orphan, type UnitDriver, type UnitInstance, type UnitSnapshot } from '../supervisor/index.js';
import { openJobOutput } from './job-output.js';
import { startJobProcess } from './job-process.js';
import { noticeJob } from './job-notices.js';
import { UnitAlerts, type EventKind, type NoticeNote } from '../notify/index.js';
import { writeRecord, type JobRecord, type RunStatus } from './job-record.js';
import type { JobSpec } from './job-spec.js';

export interface HealthTimings {
  readonly startupIntervalMs: number;
  readonly startupFailures: number;
  readonly livenessIntervalMs: number;
  readonly livenessFailures: number;
}

/** Toolforge's health-check timings (seed 001) */
export const HEALTH: HealthTimings = { startupIntervalMs: 1000, startupFailures: 120, livenessIntervalMs: 10_000, livenessFailures: 3 };

export interface JobInstance extends UnitInstance {
  readonly startTicks: number | null;
  readonly guard: UnitGuard;
}

export interface JobUnitOptions {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** the node registrar: admits each start and places it in its cgroup; routes a job that publishes its port */
  readonly registrar: RegistrarClient | null;
  /** the registrar's address: where a published job must listen */
  readonly address: string;
  readonly description: string | null;
  readonly orphan?: Orphan | null;
  readonly health?: Partial<HealthTimings>;
  readonly log: (line: string) => void;
  /** the supervisor's capped logs, where the job's output goes */
  readonly logs: ToolLogs;
}

function runStatus(s: UnitSnapshot<JobInstance>): RunStatus {
  switch (s.state) {
    case 'running':
    case 'replacing':
      return 'running';
    case 'backing-off':
      return s.crashLooping ? 'crash-looping' : 'backing-off';
    case 'stopping':
      return 'stopping';
    case 'stopped':
      return 'stopped';
    case 'config-error':
      return 'failed';
    default:
      return 'starting';
  }
}

/** a process a dead supervisor left, if the job's record names one that still runs as it was */
export function orphanOfRecord(rec: JobRecord | null): Orphan | null {
  if (!rec?.pid || rec.startTicks === null) return null;
  const info = processInfo(rec.pid);
  if (!info || info.startTicks !== rec.startTicks || info.uid !== process.getuid?.()) return null;
  // a job process leads its own group
  return { pid: rec.pid, pgid: info.pgid, port: null };
}

export class JobUnit {
  readonly spec: JobSpec;
  readonly #o: JobUnitOptions;
  readonly unit: Unit<JobInstance>;
  readonly #health: HealthTimings;
  #startedAt = Date.now();
  #lastCause: ExitCause | null = null;
  #limits: LimitsSummary | null = null;
  #lastSnapshot: UnitSnapshot<JobInstance> | null = null;
  #notice: NoticeNote | null = null;
  readonly #alerts: UnitAlerts;
  /** its output, opened at the first start and kept across restarts */
  #output: ChildOutput | null = null;

  constructor(options: JobUnitOptions) {
    this.#o = options;
    this.spec = options.spec;
    this.#health = { ...HEALTH, ...options.health };
    // every death of a continuous job is a failure to report, and so is a crash loop
    this.#alerts = new UnitAlerts({ everyExit: true, log: (line) => options.log(`job ${options.spec.name}: ${line}`), emit: (kind, summary) => void this.#notify(kind, summary) });
    const publish = options.spec.publish === true && options.registrar !== null;
    const driver: UnitDriver<JobInstance> = {
      noun: 'job',
      replace: 'stop-first',
      launch: (signal) => this.#launch(signal),
      ...(publish
        ? {
            route: async (i: JobInstance) => {
              await options.registrar?.register(i.port as number, options.description);
            },
            unroute: (port: number) => (options.registrar as RegistrarClient).unregister(port),
          }
        : {}),
      describeExit: (i, code, signal) => {
        this.#lastCause = i.guard.cause(code, signal);
        return describeExit(this.#lastCause);
      },
      probe: options.spec.healthCheckScript ? () => this.#check() : null,
      livenessIntervalMs: this.#health.livenessIntervalMs,
      livenessFailures: this.#health.livenessFailures,
      publish: (s) => this.#publish(s),
      log: (line) => options.log(`job ${options.spec.name}: ${line}`),
      afterStop: async () => {
        await this.#output?.drain();
      },
    };
    this.unit = new Unit(`job ${options.spec.name}`, driver, { orphan: options.orphan ?? null });
  }

  async #notify(kind: EventKind, summary: string): Promise<void> {
    const peer = this.#o.registrar;
    const note = await noticeJob({ tool: this.#o.tool, runtimeDir: this.#o.runtimeDir, spec: this.spec, peer, why: peer ? undefined : 'no registrar on this host' }, kind, summary, kind === 'recovered' ? null : this.#lastCause);
    if (!note) return;
    this.#notice = note;
    if (this.#lastSnapshot) this.#publish(this.#lastSnapshot);
  }

  /** stopped for good (deleted, or defined anew): its cgroup released, its output written out and closed */
  async stop(): Promise<void> {
    await this.unit.stop();
    this.#alerts.close();
    await this.#guard?.release();
    const output = this.#output;
    this.#output = null;
    await output?.close();
  }

  #guard: UnitGuard | null = null;

  async #launch(signal: AbortSignal): Promise<JobInstance> {
    // a log file that cannot be opened is a failed start, retried with the backoff
    this.#output ??= await openJobOutput(this.#o.logs, { tool: this.#o.tool, runtimeDir: this.#o.runtimeDir, spec: this.spec, fresh: false, pipeName: `job-${this.spec.name}` });
    // admitted again at every start: the quota may have filled or freed meanwhile
    const guard = await UnitGuard.admit(this.#o.registrar, { unit: unitName('continuous', this.spec.name), ...resourcesOf(this.spec) });
    this.#guard = guard;
    this.#limits = guard.summary();
    if (guard.warning) this.#o.log(`job ${this.spec.name}: ${guard.warning}`);
    const proc = await startJobProcess({ tool: this.#o.tool, runtimeDir: this.#o.runtimeDir, spec: this.spec, env: this.#o.env, output: this.#output, guard });
    const info = proc.pid ? processInfo(proc.pid) : null;
    const port = this.spec.port ?? null;
    const instance: JobInstance = { process: proc, startedAt: Date.now(), port, url: null, startTicks: info?.startTicks ?? null, guard };
    try {
      if (this.spec.healthCheckScript) await this.#startup(proc, signal);
      // a published job is ready once it listens where proxies will reach it
      if (this.spec.publish && port !== null) await this.#listening(proc, port, signal);
    } catch (err) {
      await proc.stop(2000);
      throw err;
    }
    return instance;
  }

  /** the startup phase: the check once a second until it passes; too many failures are a failed start */
  async #startup(proc: ManagedProcess, signal: AbortSignal): Promise<void> {
    for (let failures = 0; ; ) {
      if (signal.aborted) throw new StartAborted(`job ${this.spec.name}`);
      if (!proc.running) throw new StartError(`the job exited during its startup checks (${proc.exitInfo?.signal ?? `exit code ${proc.exitInfo?.code}`})`, proc.exitInfo);
      if (await this.#check()) return;
      if (++failures >= this.#health.startupFailures) throw new StartError(`the health check failed ${failures} times in a row at startup`, null);
      await sleep(this.#health.startupIntervalMs);
    }
  }

  async #listening(proc: ManagedProcess, port: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!(await tcpProbe(this.#o.address, port, 500))) {
      if (signal.aborted) throw new StartAborted(`job ${this.spec.name}`);
      if (!proc.running) throw new StartError(`the job exited before it listened on ${this.#o.address}:${port}`, proc.exitInfo);
      if (Date.now() > deadline) throw new StartError(`the job did not listen on ${this.#o.address}:${port} within 60 s (publish needs it there)`, null);
      await sleep(50);
    }
  }

  #check(): Promise<boolean> {
    const script = this.spec.healthCheckScript as string;
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', script], { cwd: this.#o.tool.home, timeout: 10_000, env: { ...process.env, ...(this.spec.port !== undefined ? { PORT: String(this.spec.port) } : {}) } }, (err) => resolve(!err));
    });
  }

  #publish(s: UnitSnapshot<JobInstance>): void {
    const first = this.#lastSnapshot !== s;
    this.#lastSnapshot = s;
    if (first) this.#alerts.observe(s);
    const c = s.current;
    writeRecord(this.#o.runtimeDir, {
      job: this.spec.name,
      runId: `${process.pid}-${this.#startedAt}`,
      runner: c ? { pid: process.pid, startTicks: processInfo(process.pid)?.startTicks ?? 0 } : null,
      trigger: 'supervisor',
      status: runStatus(s),
      pid: c?.process.pid ?? null,
      startTicks: c?.startTicks ?? null,
      scheduledFor: null,
      startedAt: c?.startedAt ?? null,
      finishedAt: null,
      exitCode: null,
      signal: null,
      cause: s.state === 'running' ? null : this.#lastCause,
      limits: this.#limits,
      notice: this.#notice,
      attempt: 1,
      attempts: 1,
      restarts: s.restarts,
      message: s.lastExit && s.state !== 'running' ? `${s.message}` : s.message,
      updatedAt: Date.now(),
    });
  }
}
