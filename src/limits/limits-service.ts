// The root side of limits, served by the node registrar over each tool's own socket (the kernel
// has already said which tool is calling). Before a unit starts, its supervisor or runner asks
// to be admitted: the tool's quota is checked against what runs now, the unit's cgroup is made
// with its limits, and the gated process is placed in it before it runs a line of the tool's
// code. Without cgroups (the registrar is not root, or the host has no memory controller) the
// admission still counts what runs, and the answer says limits are not enforced, so the caller
// falls back to rlimits and says so.
import { readFileSync } from 'node:fs';
import type { Owner } from '../accounts/index.js';
import { CgroupTree, describeCgroups, detectCgroups, HELPERS_UNIT, type UnitLimits } from './cgroups.js';
import { admit, readQuota, unitKind, UNIT_NAME_PATTERN, type Refusal, type ToolQuota, type UnitUsage } from './quota.js';

/** whether the kernel enforces a unit's limits, and how */
export interface Enforcement {
  readonly cgroups: boolean;
  /** "cgroup v1 (memory, cpu, pids)", or why not */
  readonly detail: string;
  readonly version: 1 | 2 | null;
}

export interface Admission {
  readonly unit: string;
  readonly limits: UnitLimits;
  readonly enforcement: Enforcement;
  /** the unit's memory cgroup, where the caller reads its OOM kills */
  readonly memoryDir: string | null;
  /** the tool's memory quota (a unit killed when its jobs together used it up) */
  readonly toolMemory: number | null;
}

export interface QuotaView {
  readonly quota: ToolQuota;
  readonly running: readonly UnitUsage[];
  readonly enforcement: Enforcement;
}

export type LimitsResult =
  | { readonly ok: true; readonly admission?: Admission; readonly quota?: QuotaView }
  | { readonly ok: false; readonly code: Refusal['code'] | 'TH_ERR_LIMITS_FAILED'; readonly args: readonly string[] };

function failed(unit: string, why: string): LimitsResult {
  return { ok: false, code: 'TH_ERR_LIMITS_FAILED', args: [unit, why] };
}

export interface LimitsServiceOptions {
  /** where administrators' quotas are (quotas/<tool>.json) */
  readonly stateDir: string;
  /** the cgroup tree's top directory name (default toolhost) */
  readonly cgroupRoot?: string;
  /** false: never touch cgroups (a registrar that is not root) */
  readonly useCgroups: boolean;
  readonly log: (line: string) => void;
}

/** a unit admitted this recently counts as running before its process is placed */
const ADMITTED_GRACE_MS = 10_000;

interface LedgerEntry {
  usage: UnitUsage;
  readonly pids: Set<number>;
  admittedAt: number;
}

function processUids(pid: number): number[] | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    return m ? m.slice(1, 5).map(Number) : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  return processUids(pid) !== null;
}

export class LimitsService {
  readonly #o: LimitsServiceOptions;
  readonly #tree: CgroupTree | null;
  readonly enforcement: Enforcement;
  /** what was admitted, per tool and unit: the whole truth without cgroups, the recent part with them */
  readonly #ledger = new Map<string, Map<string, LedgerEntry>>();

  constructor(options: LimitsServiceOptions) {
    this.#o = options;
    const mounts = options.useCgroups ? detectCgroups() : null;
    this.#tree = mounts ? new CgroupTree(mounts, options.cgroupRoot) : null;
    this.enforcement = mounts
      ? { cgroups: true, detail: describeCgroups(mounts), version: mounts.version }
      : { cgroups: false, detail: options.useCgroups ? 'this host has no memory cgroup controller' : 'the registrar does not run as root', version: null };
  }

  get tree(): CgroupTree | null {
    return this.#tree;
  }

  #entries(tool: string): Map<string, LedgerEntry> {
    let m = this.#ledger.get(tool);
    if (!m) this.#ledger.set(tool, (m = new Map<string, LedgerEntry>()));
    return m;
  }

  /** what the tool runs now, by the kernel's count where there are cgroups */
  running(tool: string, now = Date.now()): UnitUsage[] {
    const entries = this.#entries(tool);
    const recent = (unit: string): boolean => now - (entries.get(unit)?.admittedAt ?? 0) < ADMITTED_GRACE_MS;
    if (this.#tree) return this.#tree.units(tool).filter((u) => u.populated || recent(u.unit)).map(({ unit, kind, memory, cpu }) => ({ unit, kind, memory, cpu }));
    return [...entries.values()].filter((e) => recent(e.usage.unit) || [...e.pids].some(alive)).map((e) => e.usage);
  }

  quota(tool: string): QuotaView {
    return { quota: readQuota(this.#o.stateDir, tool), running: this.running(tool), enforcement: this.enforcement };
  }

  admit(tool: string, unit: string, memory: number, cpu: number): LimitsResult {
    if (!UNIT_NAME_PATTERN.test(unit)) return failed(unit, 'not a unit name');
    const quota = readQuota(this.#o.stateDir, tool);
    const usage: UnitUsage = { unit, kind: unitKind(unit), memory, cpu };
    const refusal = admit(usage, this.running(tool), quota);
    if (refusal) return { ok: false, code: refusal.code, args: refusal.args };
    const limits: UnitLimits = { memory, cpu, pids: quota.unitPids };
    if (this.#tree) {
      try {
        this.#tree.ensureTool(tool, quota);
        this.#tree.ensureUnit(tool, unit, limits);
      } catch (err) {
        this.#o.log(`${tool}: cannot make the cgroup of ${unit}: ${(err as Error).message}`);
        return failed(unit, `cannot make its cgroup: ${(err as Error).message}`);
      }
    }
    const entries = this.#entries(tool);
    const entry = entries.get(unit);
    if (entry) {
      entry.usage = usage;
      entry.admittedAt = Date.now();
    } else entries.set(unit, { usage, pids: new Set(), admittedAt: Date.now() });
    return { ok: true, admission: { unit, limits, enforcement: this.enforcement, memoryDir: this.#tree?.memoryDir(tool, unit) ?? null, toolMemory: quota.memory } };
  }

  /** move the tool's own process into its unit (or into its helpers' group) */
  place(tool: string, owner: Owner, unit: string, pid: number): LimitsResult {
    if (unit !== HELPERS_UNIT && !this.#entries(tool).has(unit) && !this.#tree?.units(tool).some((u) => u.unit === unit)) {
      return failed(unit, 'it was not admitted');
    }
    const uids = processUids(pid);
    // every uid of the process is the tool's: never another tool's process, never root's
    if (!uids || uids.some((u) => u !== owner.uid) || pid === process.pid) return failed(unit, `process ${pid} is not a process of this tool`);
    // a process under the tool's quota stays under it: the helpers' group is beside the quota, not in it
    if (unit === HELPERS_UNIT && this.#tree?.holds(tool, pid, 'jobs')) return failed(unit, `process ${pid} runs in one of the tool's units and stays within its quota`);
    const entry = this.#entries(tool).get(unit);
    entry?.pids.add(pid);
    if (!this.#tree) return { ok: true };
    try {
      if (unit === HELPERS_UNIT) this.#tree.ensureTool(tool, readQuota(this.#o.stateDir, tool));
      this.#tree.place(tool, unit, pid);
    } catch (err) {
      return failed(unit, `cannot place process ${pid}: ${(err as Error).message}`);
    }
    return { ok: true };
  }

  /** the unit is over: whatever is left of it killed, its cgroup removed */
  async release(tool: string, unit: string): Promise<LimitsResult> {
    if (!UNIT_NAME_PATTERN.test(unit)) return failed(unit, 'not a unit name');
    this.#entries(tool).delete(unit);
    if (this.#tree) {
      try {
        await this.#tree.remove(tool, unit);
      } catch (err) {
        return failed(unit, `cannot remove its cgroup: ${(err as Error).message}`);
      }
    }
    return { ok: true };
  }

  /** empty units nobody released (a runner killed outright): their cgroups go, their quota is free; quotas applied again */
  async reap(now = Date.now()): Promise<void> {
    for (const [tool, entries] of this.#ledger) {
      for (const [unit, e] of entries) if (now - e.admittedAt > ADMITTED_GRACE_MS && ![...e.pids].some(alive)) entries.delete(unit);
      if (entries.size === 0) this.#ledger.delete(tool);
    }
    if (!this.#tree) return;
    for (const tool of this.#tree.tools()) {
      // an administrator's new quota reaches what runs (toolhost tool quota)
      try {
        this.#tree.ensureTool(tool, readQuota(this.#o.stateDir, tool));
      } catch (err) {
        this.#o.log(`${tool}: cannot apply its quota: ${(err as Error).message}`);
      }
      for (const u of this.#tree.units(tool)) {
        const admittedAt = this.#ledger.get(tool)?.get(u.unit)?.admittedAt ?? u.createdAt;
        if (u.populated || now - admittedAt < ADMITTED_GRACE_MS) continue;
        await this.#tree.remove(tool, u.unit).catch((err: Error) => this.#o.log(`${tool}: cannot remove the empty cgroup of ${u.unit}: ${err.message}`));
      }
    }
  }

  /** a deleted tool: its part of the tree goes */
  async forget(tool: string): Promise<void> {
    this.#ledger.delete(tool);
    await this.#tree?.removeTool(tool).catch((err: Error) => this.#o.log(`${tool}: cannot remove its cgroups: ${err.message}`));
  }
}
