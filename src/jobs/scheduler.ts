// Firing scheduled jobs: part of the root-run monitor, one for the whole host. Every second it
// starts, as the tool, each run whose time has just come (within FIRE_WINDOW_MS); a time that
// passed while nothing was firing (the monitor down, the host off) is recorded as missed and not
// run late by surprise; a run whose previous run still runs is skipped and recorded. What it
// knows survives its restart: a state file per tool in a root-owned directory, readable by the
// tool's group (`toolhost jobs list|show` print it), written by root in root's directory only.
import { chmodSync, chownSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { scheduleStatePath, schedulesDirectory } from '../state-dir.js';
import { requireRootOwnedDirectory, type Owner, type Tool } from '../accounts/index.js';
import { processInfo } from '../supervisor/index.js';
import { readRecord } from './job-record.js';
import type { JobSpec } from './job-spec.js';
import { parseSchedule, type Schedule } from './schedule.js';

/** a time is fired if it came at most this long ago; older ones were missed */
export const FIRE_WINDOW_MS = 30_000;
const KEEP_EVENTS = 20;

export interface ScheduleEvent {
  readonly at: string;
  readonly reason: string;
}

export interface JobScheduleState {
  readonly cron: string;
  readonly timezone: string;
  /** until when every time has been looked at */
  readonly checkedUntil: string;
  readonly lastFired: string | null;
  readonly lastRunId: string | null;
  readonly next: string | null;
  readonly skipped: readonly ScheduleEvent[];
  readonly missed: readonly ScheduleEvent[];
}

export interface ToolScheduleState {
  readonly tool: string;
  readonly jobs: Readonly<Record<string, JobScheduleState>>;
}


export { scheduleStatePath };

/** what the monitor knows of a tool's schedules (the tool reads it through its group) */
export function readScheduleState(stateDir: string, tool: string): ToolScheduleState | null {
  try {
    return JSON.parse(readFileSync(scheduleStatePath(stateDir, tool), 'utf8')) as ToolScheduleState;
  } catch {
    return null;
  }
}

export interface ScheduledTool {
  readonly tool: Tool;
  readonly owner: Owner;
  readonly runtimeDir: string;
  readonly jobs: readonly JobSpec[];
}

export interface SchedulerOptions {
  readonly stateDir: string;
  /** start one run of a job, as the tool; returns its run id */
  readonly fire: (t: ScheduledTool, job: JobSpec, scheduledFor: Date) => string;
  readonly log: (line: string) => void;
}

interface Compiled {
  readonly spec: JobSpec;
  readonly schedule: Schedule;
}

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #tools = new Map<string, { t: ScheduledTool; compiled: Compiled[] }>();
  readonly #states = new Map<string, Record<string, JobScheduleState>>();
  readonly #dirty = new Set<string>();

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** the tools and their scheduled jobs as the last scan found them */
  update(tools: readonly ScheduledTool[]): void {
    const seen = new Set<string>();
    for (const t of tools) {
      seen.add(t.tool.name);
      const compiled: Compiled[] = [];
      for (const spec of t.jobs) {
        if (spec.type !== 'scheduled' || !spec.schedule) continue;
        const schedule = parseSchedule(spec.schedule, t.tool.name, spec.name, spec.timezone ?? 'UTC');
        if (typeof schedule === 'string') {
          this.#o.log(`${t.tool.name}: job ${spec.name}: ${schedule}`);
          continue;
        }
        compiled.push({ spec, schedule });
      }
      this.#tools.set(t.tool.name, { t, compiled });
      if (!this.#states.has(t.tool.name)) this.#states.set(t.tool.name, { ...(readScheduleState(this.#o.stateDir, t.tool.name)?.jobs ?? {}) });
    }
    for (const name of [...this.#tools.keys()]) if (!seen.has(name)) this.#tools.delete(name);
  }

  /** fire what is due; record what was missed or skipped */
  tick(now = new Date()): void {
    for (const [name, { t, compiled }] of this.#tools) {
      const states = this.#states.get(name) ?? {};
      const wanted = new Set(compiled.map((c) => c.spec.name));
      for (const job of Object.keys(states)) {
        if (!wanted.has(job)) {
          delete states[job];
          this.#dirty.add(name);
        }
      }
      for (const c of compiled) {
        const next = this.#tickJob(t, c, states[c.spec.name], now);
        if (next !== states[c.spec.name]) {
          states[c.spec.name] = next;
          this.#dirty.add(name);
        }
      }
      this.#states.set(name, states);
    }
  }

  #tickJob(t: ScheduledTool, c: Compiled, st: JobScheduleState | undefined, now: Date): JobScheduleState {
    // a new or changed schedule counts from now: nothing before it is "missed"
    if (!st || st.cron !== c.schedule.cron || st.timezone !== c.schedule.timezone) {
      return { cron: c.schedule.cron, timezone: c.schedule.timezone, checkedUntil: now.toISOString(), lastFired: st?.lastFired ?? null, lastRunId: st?.lastRunId ?? null, next: c.schedule.next(now)?.toISOString() ?? null, skipped: st?.skipped ?? [], missed: st?.missed ?? [] };
    }
    if (st.next !== null && Date.parse(st.next) > now.getTime()) return st;
    const from = new Date(Math.max(Date.parse(st.checkedUntil), st.lastFired ? Date.parse(st.lastFired) : 0));
    const due = c.schedule.between(from, now);
    if (due.length === 0) return { ...st, checkedUntil: now.toISOString(), next: c.schedule.next(now)?.toISOString() ?? null };
    let next: JobScheduleState = { ...st, checkedUntil: now.toISOString(), next: c.schedule.next(now)?.toISOString() ?? null };
    const latest = due[due.length - 1] as Date;
    const missed = due.filter((d) => d !== latest || now.getTime() - d.getTime() > FIRE_WINDOW_MS);
    if (missed.length) {
      this.#o.log(`${t.tool.name}: job ${c.spec.name}: ${missed.length} run(s) missed while nothing fired them (last ${missed[missed.length - 1]?.toISOString()})`);
      next = { ...next, missed: [...next.missed, ...missed.map((d) => ({ at: d.toISOString(), reason: 'nothing was firing schedules then (the monitor was not running)' }))].slice(-KEEP_EVENTS) };
    }
    if (missed.includes(latest)) return next;
    const running = this.#stillRunning(t, c.spec.name);
    if (running) {
      this.#o.log(`${t.tool.name}: job ${c.spec.name}: skipped the run of ${latest.toISOString()}: ${running}`);
      return { ...next, skipped: [...next.skipped, { at: latest.toISOString(), reason: running }].slice(-KEEP_EVENTS) };
    }
    const runId = this.#o.fire(t, c.spec, latest);
    return { ...next, lastFired: latest.toISOString(), lastRunId: runId };
  }

  /** why the job's previous run still counts as running, or null */
  #stillRunning(t: ScheduledTool, job: string): string | null {
    const rec = readRecord(t.runtimeDir, job, t.owner);
    if (!rec?.runner || rec.finishedAt !== null) return null;
    const info = processInfo(rec.runner.pid);
    if (!info || info.startTicks !== rec.runner.startTicks || info.uid !== t.owner.uid) return null;
    return `the previous run (started ${rec.startedAt ? new Date(rec.startedAt).toISOString() : 'earlier'}) is still running`;
  }

  /** write what changed, each tool's file in root's directory, readable by the tool's group */
  persist(): void {
    if (this.#dirty.size === 0) return;
    requireRootOwnedDirectory(this.#o.stateDir);
    requireRootOwnedDirectory(schedulesDirectory(this.#o.stateDir));
    for (const name of this.#dirty) {
      const entry = this.#tools.get(name);
      const file = scheduleStatePath(this.#o.stateDir, name);
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ tool: name, jobs: this.#states.get(name) ?? {} } satisfies ToolScheduleState)}\n`, { mode: 0o640 });
      // root's own directory, closed to others: nothing can be swapped in between
      if (entry && process.getuid?.() === 0) chownSync(tmp, 0, entry.t.owner.gid);
      chmodSync(tmp, 0o640);
      renameSync(tmp, file);
    }
    this.#dirty.clear();
  }

  /** every time looked at so far is written down (at a scan), so a restart knows what it missed */
  checkpoint(now = new Date()): void {
    for (const [name, states] of this.#states) {
      for (const [job, st] of Object.entries(states)) states[job] = { ...st, checkedUntil: new Date(Math.max(Date.parse(st.checkedUntil), now.getTime())).toISOString() };
      if (Object.keys(states).length) this.#dirty.add(name);
    }
    this.persist();
  }
}
