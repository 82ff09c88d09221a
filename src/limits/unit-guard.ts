// A unit's limits from the side that starts it (a tool's supervisor or job runner, as the tool):
// admitted by the registrar before it starts (a refusal is the quota's, in Toolforge's words),
// its process placed in its cgroup while it waits at its gate, its end explained (the kernel's
// OOM count says whether memory killed it), its cgroup released when the unit is over. With no
// cgroups to enforce them, the limits become rlimits on the process, and a warning says so.
import { formatMessage } from '../errors.js';
import type { Admission } from './limits-service.js';
import { readUnitEvents } from './cgroups.js';
import { exitCause, type ExitCause } from './exit-report.js';
import { formatMemory } from './quantities.js';
import { DEFAULT_QUOTA } from './quota.js';

/** what the registrar offers (RegistrarClient) */
export interface LimitsPeer {
  admit(unit: string, memory: number, cpu: number): Promise<Admission>;
  place(unit: string, pid: number): Promise<void>;
  release(unit: string): Promise<void>;
}

/** what a status shows of a unit's limits */
export interface LimitsSummary {
  readonly memory: number;
  readonly cpu: number;
  /** by cgroups; false: rlimits only (warning says why) */
  readonly enforced: boolean;
  readonly warning: string | null;
}

export interface UnitRequest {
  readonly unit: string;
  readonly memory: number;
  readonly cpu: number;
}

const PRLIMIT = '/usr/bin/prlimit';

export class UnitGuard {
  readonly #peer: LimitsPeer | null;
  readonly request: UnitRequest;
  readonly admission: Admission | null;
  /** one line for the unit's log when the kernel does not enforce its limits */
  readonly warning: string | null;
  #oomSeen: number;

  private constructor(peer: LimitsPeer | null, request: UnitRequest, admission: Admission | null, fallbackWhy: string | null) {
    this.#peer = peer;
    this.request = request;
    this.admission = admission;
    this.warning =
      fallbackWhy === null ? null : `${formatMessage('TH_WARN_LIMITS_NOT_ENFORCED', [request.unit, fallbackWhy, formatMemory(request.memory), DEFAULT_QUOTA.pids])} [TH_WARN_LIMITS_NOT_ENFORCED]`;
    this.#oomSeen = this.#oomKills();
  }

  /**
   * Admitted by the registrar (peer), which throws the quota's refusal; with no registrar to ask
   * (peer null, noPeerWhy says why) the unit runs under rlimits.
   */
  static async admit(peer: LimitsPeer | null, request: UnitRequest, noPeerWhy = 'no toolhost registrar on this host'): Promise<UnitGuard> {
    if (!peer) return new UnitGuard(null, request, null, noPeerWhy);
    const admission = await peer.admit(request.unit, request.memory, request.cpu);
    return new UnitGuard(peer, request, admission, admission.enforcement.cgroups ? null : admission.enforcement.detail);
  }

  summary(): LimitsSummary {
    return { memory: this.request.memory, cpu: this.request.cpu, enforced: this.enforced, warning: this.warning };
  }

  get enforced(): boolean {
    return this.admission?.enforcement.cgroups === true;
  }

  /** the program, with rlimits in front when there are no cgroups */
  argv(argv: readonly string[]): string[] {
    if (this.enforced) return [...argv];
    return [PRLIMIT, `--data=${this.request.memory}`, `--nproc=${DEFAULT_QUOTA.pids}`, '--', ...argv];
  }

  /** put the waiting process in the unit's cgroup (the registrar checks it is the tool's) */
  async place(pid: number): Promise<void> {
    if (this.#peer) await this.#peer.place(this.request.unit, pid);
  }

  #oomKills(): number {
    const a = this.admission;
    if (!a?.enforcement.cgroups || !a.enforcement.version) return 0;
    return readUnitEvents(a.enforcement.version, a.memoryDir).oomKills;
  }

  /** why the process ended: the OOM killer when the unit's count went up since the last look */
  cause(code: number | null, signal: string | null): ExitCause {
    const kills = this.#oomKills();
    const oom = kills > this.#oomSeen;
    this.#oomSeen = kills;
    const a = this.admission;
    if (!oom || !a?.enforcement.version) return exitCause(code, signal);
    const own = readUnitEvents(a.enforcement.version, a.memoryDir).hitOwnLimit;
    return own || a.toolMemory === null ? { kind: 'oom', limit: this.request.memory, scope: 'unit' } : { kind: 'oom', limit: a.toolMemory, scope: 'quota' };
  }

  /** the unit is over: its cgroup (and anything a process left in it) goes */
  async release(): Promise<void> {
    await this.#peer?.release(this.request.unit).catch(() => {
      // the registrar reaps units nobody released
    });
  }
}
