// What a tool may run at once and what one job may ask for, modelled on Toolforge's quota table
// (`toolforge jobs quota`, seed 001): defaults here, a tool's own quota set by an administrator
// (`toolhost tool quota NAME …`) in a root-owned file, and the one admission decision every
// start goes through: the registrar's (running units, counted from the kernel's cgroups) and the
// CLI's (job definitions, counted from the manifests).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatCpu, formatMemory, parseCpu, parseMemory } from './quantities.js';
import { removeStateFile } from '../state-dir.js';

const MI = 1024 ** 2;
const GI = 1024 ** 3;

/** what a job or webservice gets when it asks for nothing (Toolforge: 512Mi and 0.5 CPU) */
export const DEFAULT_MEMORY = 512 * MI;
export const DEFAULT_CPU = 500;

/** the memory (bytes) and CPU (thousandths) a job or webservice runs with: what it asked for (--mem, --cpu), else the defaults */
export function resourcesOf(asked: { readonly mem?: string | undefined; readonly cpu?: string | undefined }): { memory: number; cpu: number } {
  return { memory: asked.mem ? parseMemory(asked.mem) : DEFAULT_MEMORY, cpu: asked.cpu ? parseCpu(asked.cpu) : DEFAULT_CPU };
}

export interface ToolQuota {
  /** units running at once: webservice, continuous jobs, one-off and scheduled runs */
  readonly running: number;
  /** one-off and scheduled runs at once */
  readonly runs: number;
  /** the sum of the running units' CPU, in thousandths */
  readonly cpu: number;
  /** the sum of the running units' memory, in bytes */
  readonly memory: number;
  /** the most one unit may ask for */
  readonly jobCpu: number;
  readonly jobMemory: number;
  /** definitions: scheduled jobs, and continuous jobs counting the webservice */
  readonly cron: number;
  readonly continuous: number;
  /** every process of the tool toolhost started (a fork bomb stops here), and of one unit */
  readonly pids: number;
  readonly unitPids: number;
}

export const DEFAULT_QUOTA: ToolQuota = {
  running: 10,
  runs: 15,
  cpu: 2000,
  memory: 8 * GI,
  jobCpu: 1000,
  jobMemory: 4 * GI,
  cron: 50,
  continuous: 3,
  pids: 1024,
  unitPids: 256,
};

export const QUOTA_KEYS = Object.keys(DEFAULT_QUOTA) as (keyof ToolQuota)[];

export type UnitKind = 'web' | 'continuous' | 'run';

/** one unit asking to run, or running */
export interface UnitUsage {
  readonly unit: string;
  readonly kind: UnitKind;
  readonly memory: number;
  readonly cpu: number;
}

export interface Definitions {
  readonly cron: number;
  /** continuous jobs and the webservice */
  readonly continuous: number;
}

/** the unit's name in the cgroup tree and in the registrar: web, job-NAME, run-NAME */
export function unitName(kind: UnitKind, job?: string): string {
  if (kind === 'web') return 'web';
  return `${kind === 'continuous' ? 'job' : 'run'}-${job ?? ''}`;
}

export const UNIT_NAME_PATTERN = /^(web|(job|run)-[a-z0-9][a-z0-9.-]{0,51})$/;

export function unitKind(unit: string): UnitKind {
  return unit === 'web' ? 'web' : unit.startsWith('job-') ? 'continuous' : 'run';
}

/** why a start is refused, in Toolforge's words ("Unable to start, out of quota for memory: …") */
export interface Refusal {
  readonly code: 'TH_ERR_QUOTA_EXCEEDED' | 'TH_ERR_JOB_LIMIT_EXCEEDED';
  readonly args: readonly string[];
}

function held(what: string, used: string, limit: string, asks: string): string {
  return `running jobs hold ${used} of ${limit}${what ? ` ${what}` : ''} and this one asks for ${asks}`;
}

/**
 * Whether `request` may start beside `running` (the tool's other running units; a unit of the
 * same name is being replaced and does not count twice).
 */
export function admit(request: UnitUsage, running: readonly UnitUsage[], quota: ToolQuota): Refusal | null {
  if (request.memory > quota.jobMemory) return { code: 'TH_ERR_JOB_LIMIT_EXCEEDED', args: [`${formatMemory(request.memory)} of memory`, formatMemory(quota.jobMemory)] };
  if (request.cpu > quota.jobCpu) return { code: 'TH_ERR_JOB_LIMIT_EXCEEDED', args: [`${formatCpu(request.cpu)} CPU`, formatCpu(quota.jobCpu)] };
  const others = running.filter((u) => u.unit !== request.unit);
  const memory = others.reduce((s, u) => s + u.memory, 0);
  if (memory + request.memory > quota.memory) return { code: 'TH_ERR_QUOTA_EXCEEDED', args: ['memory', held('', formatMemory(memory), formatMemory(quota.memory), formatMemory(request.memory))] };
  const cpu = others.reduce((s, u) => s + u.cpu, 0);
  if (cpu + request.cpu > quota.cpu) return { code: 'TH_ERR_QUOTA_EXCEEDED', args: ['cpu', held('CPU', formatCpu(cpu), formatCpu(quota.cpu), formatCpu(request.cpu))] };
  if (others.length + 1 > quota.running) return { code: 'TH_ERR_QUOTA_EXCEEDED', args: ['running jobs', `${others.length} of ${quota.running} run already`] };
  const runs = others.filter((u) => u.kind === 'run').length;
  if (request.kind === 'run' && runs + 1 > quota.runs) return { code: 'TH_ERR_QUOTA_EXCEEDED', args: ['one-off and cron jobs', `${runs} of ${quota.runs} run already`] };
  const continuous = others.filter((u) => u.kind !== 'run').length;
  if (request.kind !== 'run' && continuous + 1 > quota.continuous) {
    return { code: 'TH_ERR_QUOTA_EXCEEDED', args: ['continuous jobs (including web services)', `${continuous} of ${quota.continuous} run already`] };
  }
  return null;
}

/** whether the tool may define what `after` counts (a new scheduled or continuous job, a webservice) */
export function admitDefinitions(before: Definitions, after: Definitions, quota: ToolQuota): { readonly code: 'TH_ERR_QUOTA_DEFINITIONS'; readonly args: readonly string[] } | null {
  if (after.cron > quota.cron && after.cron > before.cron) return { code: 'TH_ERR_QUOTA_DEFINITIONS', args: ['cron jobs', String(after.cron), String(quota.cron)] };
  if (after.continuous > quota.continuous && after.continuous > before.continuous) {
    return { code: 'TH_ERR_QUOTA_DEFINITIONS', args: ['continuous jobs (including web services)', String(after.continuous), String(quota.continuous)] };
  }
  return null;
}

// ---- the administrator's settings --------------------------------------------------------------

export function quotaDirectory(stateDir: string): string {
  return path.join(stateDir, 'quotas');
}

function quotaFile(stateDir: string, tool: string): string {
  return path.join(quotaDirectory(stateDir), `${tool}.json`);
}

/** the tool's quota: the defaults with what an administrator changed */
export function readQuota(stateDir: string, tool: string): ToolQuota {
  let saved: Partial<Record<keyof ToolQuota, unknown>> = {};
  try {
    saved = JSON.parse(readFileSync(quotaFile(stateDir, tool), 'utf8')) as typeof saved;
  } catch {
    // none set: the defaults
  }
  const out: Record<string, number> = { ...DEFAULT_QUOTA };
  for (const key of QUOTA_KEYS) {
    const v = saved[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[key] = v;
  }
  return out as unknown as ToolQuota;
}

/** only the values that differ from the defaults are kept: a later change of a default reaches the tool */
export function writeQuota(stateDir: string, tool: string, quota: ToolQuota): void {
  const dir = quotaDirectory(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const changed = Object.fromEntries(QUOTA_KEYS.filter((k) => quota[k] !== DEFAULT_QUOTA[k]).map((k) => [k, quota[k]]));
  const file = quotaFile(stateDir, tool);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(changed, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/** the tool is deleted: a tool made later under its name starts from the defaults */
export function forgetQuota(stateDir: string, tool: string): void {
  removeStateFile(quotaFile(stateDir, tool));
}
