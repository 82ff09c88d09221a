// The kernel's side of limits: control groups, version 1 (one hierarchy per controller, as this
// kind of host mounts them under /sys/fs/cgroup/memory, …/cpu, …/pids) or version 2 (one
// hierarchy). toolhost's tree, the same in every hierarchy:
//
//   <root>/<tool>/             pids: the tool's quota of processes (everything below)
//   <root>/<tool>/jobs/        memory and cpu: the tool's quota (its units together)
//   <root>/<tool>/jobs/<unit>  memory, cpu, pids: what one unit asked for (web, job-X, run-X)
//   <root>/<tool>/toolhost/    the tool's supervisor and job runners (toolhost's own helpers)
//
// Only root writes here. Directories are root's and 0755; the files stay root's, readable by all:
// a tool reads its units' OOM counts, nothing more.
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ToolQuota, UnitUsage } from './quota.js';
import { unitKind, UNIT_NAME_PATTERN } from './quota.js';

export type Controller = 'memory' | 'cpu' | 'pids';
const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'pids'];

/** where each controller's hierarchy is mounted, as the host has them */
export interface CgroupMounts {
  readonly version: 1 | 2;
  /** v1: a mount point per controller; v2: the one mount point for every controller */
  readonly mounts: Readonly<Partial<Record<Controller, string>>>;
  /** controllers the host does not offer (their limit is not enforced) */
  readonly missing: readonly Controller[];
}

/** the helpers' own memory and CPU: a supervisor and a few runners, never the tool's jobs */
export const HELPERS_MEMORY = 1024 ** 3;
export const HELPERS_CPU = 1000;
const CPU_PERIOD_US = 100_000;
export const HELPERS_UNIT = 'toolhost';

/**
 * The host's cgroups: version 2 when its hierarchy offers memory, cpu and pids (they cannot be in
 * both), else the version-1 hierarchies there are; null when there is no memory controller at all.
 */
export function detectCgroups(mountinfo = '/proc/self/mountinfo'): CgroupMounts | null {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return null;
  }
  const v1: Partial<Record<Controller, string>> = {};
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [fsType, , superOptions] = right.split(' ');
    if (!mountPoint) continue;
    const point = mountPoint.replace(/\\040/g, ' ');
    if (fsType === 'cgroup2') v2 ??= point;
    if (fsType === 'cgroup') {
      const options = (superOptions ?? '').split(',');
      for (const c of CONTROLLERS) if (options.includes(c)) v1[c] ??= point;
    }
  }
  if (v2) {
    let offered: string[] = [];
    try {
      offered = readFileSync(path.join(v2, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      // no controllers file: not usable
    }
    if (offered.includes('memory')) {
      const mounts = Object.fromEntries(CONTROLLERS.filter((c) => offered.includes(c)).map((c) => [c, v2]));
      return { version: 2, mounts, missing: CONTROLLERS.filter((c) => !offered.includes(c)) };
    }
  }
  if (!v1.memory) return null;
  return { version: 1, mounts: v1, missing: CONTROLLERS.filter((c) => !v1[c]) };
}

export function describeCgroups(m: CgroupMounts): string {
  return `cgroup v${m.version} (${CONTROLLERS.filter((c) => m.mounts[c]).join(', ')}${m.missing.length ? `; no ${m.missing.join(', ')} controller` : ''})`;
}

export interface UnitLimits {
  readonly memory: number;
  readonly cpu: number;
  readonly pids: number;
}

/** what the kernel says one unit went through */
export interface UnitEvents {
  /** processes of the unit the OOM killer chose */
  readonly oomKills: number;
  /** whether the unit reached its own memory limit (else the tool's quota was full) */
  readonly hitOwnLimit: boolean;
}

function write(file: string, value: string): void {
  writeFileSync(file, value);
}

function readNumber(file: string): number | null {
  try {
    const v = Number(readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** `key value` lines (memory.events, memory.oom_control) */
function readKeyed(file: string): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined) out.set(k, Number(v));
    }
  } catch {
    // gone
  }
  return out;
}

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export class CgroupTree {
  readonly mounts: CgroupMounts;
  readonly #root: string;

  /** root: toolhost's directory in every hierarchy (a test names its own) */
  constructor(mounts: CgroupMounts, root = 'toolhost') {
    if (!/^[A-Za-z0-9_.-]+$/.test(root)) throw new Error(`cgroup root "${root}" must be one plain name`);
    this.mounts = mounts;
    this.#root = root;
  }

  get root(): string {
    return this.#root;
  }

  #dirs(...parts: string[]): { controller: Controller; dir: string }[] {
    const out: { controller: Controller; dir: string }[] = [];
    const seen = new Set<string>();
    for (const c of CONTROLLERS) {
      const mount = this.mounts.mounts[c];
      if (!mount) continue;
      const dir = path.join(mount, this.#root, ...parts);
      // v2: every controller is in the one hierarchy
      if (seen.has(dir)) continue;
      seen.add(dir);
      out.push({ controller: c, dir });
    }
    return out;
  }

  #dir(controller: Controller, ...parts: string[]): string | null {
    const mount = this.mounts.mounts[controller];
    return mount ? path.join(mount, this.#root, ...parts) : null;
  }

  /** v2: a child uses a controller only if its parent hands it down */
  #enableControllers(dir: string): void {
    if (this.mounts.version !== 2) return;
    const wanted = CONTROLLERS.filter((c) => this.mounts.mounts[c]).map((c) => `+${c}`).join(' ');
    write(path.join(dir, 'cgroup.subtree_control'), wanted);
  }

  #mkdir(dir: string, handDown: boolean): void {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    // whatever the creator's umask (the registrar's is 077): tools read their units' OOM counts
    chmodSync(dir, 0o755);
    if (handDown) this.#enableControllers(dir);
  }

  #setMemory(dir: string, bytes: number): void {
    if (this.mounts.version === 2) {
      write(path.join(dir, 'memory.max'), String(bytes));
      // no swap beyond the limit (where swap accounting exists)
      try {
        write(path.join(dir, 'memory.swap.max'), '0');
      } catch {
        // no swap accounting
      }
      return;
    }
    const limit = path.join(dir, 'memory.limit_in_bytes');
    const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
    // memory+swap may never be below memory: raise in the order the kernel accepts
    const current = readNumber(limit) ?? 0;
    const order = bytes > current ? [memsw, limit] : [limit, memsw];
    for (const file of order) {
      try {
        write(file, String(bytes));
      } catch (err) {
        if (file === limit) throw err;
        // no swap accounting on this kernel
      }
    }
  }

  #setCpu(dir: string, millis: number): void {
    const quotaUs = Math.max(1000, Math.round((millis / 1000) * CPU_PERIOD_US));
    if (this.mounts.version === 2) write(path.join(dir, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`);
    else {
      write(path.join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      write(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    }
  }

  #setPids(dir: string, max: number): void {
    write(path.join(dir, 'pids.max'), String(max));
  }

  #apply(controller: Controller, dir: string, l: Partial<UnitLimits>): void {
    const v2 = this.mounts.version === 2;
    if ((v2 || controller === 'memory') && l.memory !== undefined && this.mounts.mounts.memory) this.#setMemory(dir, l.memory);
    if ((v2 || controller === 'cpu') && l.cpu !== undefined && this.mounts.mounts.cpu) this.#setCpu(dir, l.cpu);
    if ((v2 || controller === 'pids') && l.pids !== undefined && this.mounts.mounts.pids) this.#setPids(dir, l.pids);
  }

  /** the tool's part of the tree, with its quota applied (again: an administrator may have changed it) */
  ensureTool(tool: string, quota: ToolQuota): void {
    for (const top of this.#dirs()) this.#mkdir(top.dir, true);
    for (const { controller, dir } of this.#dirs(tool)) {
      this.#mkdir(dir, true);
      this.#apply(controller, dir, { pids: quota.pids });
    }
    for (const { controller, dir } of this.#dirs(tool, 'jobs')) {
      this.#mkdir(dir, true);
      this.#apply(controller, dir, { memory: quota.memory, cpu: quota.cpu });
    }
    for (const { controller, dir } of this.#dirs(tool, HELPERS_UNIT)) {
      this.#mkdir(dir, false);
      this.#apply(controller, dir, { memory: HELPERS_MEMORY, cpu: HELPERS_CPU });
    }
  }

  /** a unit's cgroup with its limits (made, or changed for a new start) */
  ensureUnit(tool: string, unit: string, limits: UnitLimits): void {
    if (!UNIT_NAME_PATTERN.test(unit)) throw new Error(`not a unit name: ${unit}`);
    for (const { controller, dir } of this.#dirs(tool, 'jobs', unit)) {
      this.#mkdir(dir, false);
      this.#apply(controller, dir, limits);
    }
  }

  #unitParts(unit: string): string[] {
    return unit === HELPERS_UNIT ? [HELPERS_UNIT] : ['jobs', unit];
  }

  /** whether the process sits in the tool's part of the tree below PARTS (its jobs: the quota), as the kernel says */
  holds(tool: string, pid: number, ...parts: string[]): boolean {
    const controller = this.mounts.version === 2 ? '' : 'memory';
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return false;
    }
    const inside = path.posix.join('/', this.#root, tool, ...parts);
    for (const line of text.split('\n')) {
      // ID:CONTROLLERS:PATH, where v2's one hierarchy lists no controller
      const [, controllers, where] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (where === undefined || controllers === undefined) continue;
      if (this.mounts.version === 2 ? controllers !== '' : !controllers.split(',').includes(controller)) continue;
      return where === inside || where.startsWith(`${inside}/`);
    }
    return false;
  }

  /** move a process (and so everything it starts from now on) into the unit, in every hierarchy */
  place(tool: string, unit: string, pid: number): void {
    for (const { dir } of this.#dirs(tool, ...this.#unitParts(unit))) write(path.join(dir, 'cgroup.procs'), String(pid));
  }

  /** the unit's memory cgroup, where a tool reads its OOM count (world-readable) */
  memoryDir(tool: string, unit: string): string | null {
    return this.#dir('memory', tool, ...this.#unitParts(unit));
  }

  events(tool: string, unit: string): UnitEvents {
    return readUnitEvents(this.mounts.version, this.memoryDir(tool, unit));
  }

  /** the units the kernel holds for the tool, with the limits they were given */
  units(tool: string): (UnitUsage & { readonly populated: boolean; readonly createdAt: number })[] {
    const base = this.#dir('memory', tool, 'jobs');
    if (!base) return [];
    let names: string[];
    try {
      names = readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory() && UNIT_NAME_PATTERN.test(d.name)).map((d) => d.name);
    } catch {
      return [];
    }
    return names.map((unit) => {
      const dir = path.join(base, unit);
      const memory = readNumber(path.join(dir, this.mounts.version === 2 ? 'memory.max' : 'memory.limit_in_bytes')) ?? 0;
      const cpuDir = this.#dir('cpu', tool, 'jobs', unit);
      let cpu = 0;
      if (cpuDir) {
        if (this.mounts.version === 2) {
          const [q, p] = (readFileSafe(path.join(cpuDir, 'cpu.max')) ?? 'max 100000').split(/\s+/);
          cpu = q === 'max' ? 0 : Math.round((Number(q) / Number(p)) * 1000);
        } else {
          const q = readNumber(path.join(cpuDir, 'cpu.cfs_quota_us')) ?? -1;
          const p = readNumber(path.join(cpuDir, 'cpu.cfs_period_us')) ?? CPU_PERIOD_US;
          cpu = q < 0 ? 0 : Math.round((q / p) * 1000);
        }
      }
      let createdAt = 0;
      try {
        createdAt = statSync(dir).ctimeMs;
      } catch {
        // gone meanwhile
      }
      return { unit, kind: unitKind(unit), memory, cpu, populated: this.#populated(tool, unit), createdAt };
    });
  }

  #populated(tool: string, unit: string): boolean {
    return this.#dirs(tool, ...this.#unitParts(unit)).some(({ dir }) => pidsIn(dir).length > 0);
  }

  /** the tools with a part of the tree */
  tools(): string[] {
    const base = this.#dir('memory');
    try {
      return base ? readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];
    } catch {
      return [];
    }
  }

  /** every process of the unit killed (a fork bomb too: again until none is left) */
  async kill(tool: string, unit: string): Promise<void> {
    const dirs = this.#dirs(tool, ...this.#unitParts(unit)).map((d) => d.dir);
    if (this.mounts.version === 2) {
      for (const dir of dirs) {
        try {
          write(path.join(dir, 'cgroup.kill'), '1');
        } catch {
          // before Linux 5.14, or gone: the loop below
        }
      }
    }
    for (let round = 0; round < 200; round++) {
      const pids = new Set(dirs.flatMap(pidsIn));
      if (pids.size === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(round < 10 ? 5 : 50);
    }
  }

  /** the unit's cgroups removed, after its processes are killed */
  async remove(tool: string, unit: string): Promise<void> {
    await this.kill(tool, unit);
    for (const { dir } of this.#dirs(tool, ...this.#unitParts(unit))) await removeDir(dir);
  }

  /** the tool's whole part of the tree (a deleted tool) */
  async removeTool(tool: string): Promise<void> {
    // from every hierarchy: a unit made halfway (the memory part missing) still holds its parent
    const names = new Set<string>();
    for (const { dir } of this.#dirs(tool, 'jobs')) for (const name of subdirectories(dir)) if (UNIT_NAME_PATTERN.test(name)) names.add(name);
    for (const unit of names) await this.remove(tool, unit);
    await this.kill(tool, HELPERS_UNIT);
    for (const parts of [[HELPERS_UNIT], ['jobs'], []]) for (const { dir } of this.#dirs(tool, ...parts)) await removeDir(dir);
  }

  /** toolhost's whole tree (tests) */
  async removeAll(): Promise<void> {
    for (const tool of this.tools()) await this.removeTool(tool);
    for (const { dir } of this.#dirs()) await removeDir(dir);
  }
}

function readFileSafe(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** rmdir, retried while the kernel still counts exiting processes (seconds on a loaded host) */
async function removeDir(dir: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      await sleep(10);
    }
  }
}

/** a unit's OOM kills from its memory cgroup directory (what the tool itself may read) */
export function readUnitEvents(version: 1 | 2, memoryDir: string | null): UnitEvents {
  if (!memoryDir) return { oomKills: 0, hitOwnLimit: false };
  if (version === 2) {
    const e = readKeyed(path.join(memoryDir, 'memory.events'));
    return { oomKills: e.get('oom_kill') ?? 0, hitOwnLimit: (e.get('max') ?? 0) > 0 };
  }
  const e = readKeyed(path.join(memoryDir, 'memory.oom_control'));
  return { oomKills: e.get('oom_kill') ?? 0, hitOwnLimit: reachedOwnLimitV1(memoryDir) };
}

/** how close to its limit a v1 unit's peak must come to count as having hit it (the kernel
 * charges in batches of pages) */
const PEAK_SLACK = 1024 * 1024;

/** recent kernels no longer count memory.failcnt for v1, so the peak usage is the witness */
function reachedOwnLimitV1(memoryDir: string): boolean {
  const failures = (readNumber(path.join(memoryDir, 'memory.failcnt')) ?? 0) + (readNumber(path.join(memoryDir, 'memory.memsw.failcnt')) ?? 0);
  if (failures > 0) return true;
  return (['memory', 'memory.memsw'] as const).some((prefix) => {
    const limit = readNumber(path.join(memoryDir, `${prefix}.limit_in_bytes`));
    const peak = readNumber(path.join(memoryDir, `${prefix}.max_usage_in_bytes`));
    return limit !== null && peak !== null && peak + PEAK_SLACK >= limit;
  });
}
