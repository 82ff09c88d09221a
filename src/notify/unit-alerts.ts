// What a supervised unit's maintainers hear, read from the unit's published snapshots: a crash
// loop (once per episode), a configuration the unit refused, each death of a continuous job, and
// the all-clear after an alert — at once for a configuration fixed, after a stable run for a crash
// loop (a unit still dying every minute has not recovered).
//
//   clear ──alert──► alerted ──running──► recovering ──stable run──► clear (recovered)
//                       ▲                    │
//                       └──── dies again ────┘       (configuration fixed: alerted ──► clear)
import type { UnitSnapshot, UnitInstance } from '../supervisor/index.js';
import type { EventKind } from './policy.js';

type AlertState = 'clear' | 'alerted' | 'recovering';

const TRANSITIONS: Readonly<Record<AlertState, readonly AlertState[]>> = {
  clear: ['alerted'],
  alerted: ['alerted', 'recovering', 'clear'],
  recovering: ['alerted', 'clear'],
};

/** a run this long after a crash loop is a recovery (the restart policy's stable run) */
export const DEFAULT_STABLE_MS = 60_000;

export interface UnitAlertsOptions {
  readonly emit: (kind: EventKind, summary: string) => void;
  /** every death is a failure to report (continuous jobs), not only crash loops (servers) */
  readonly everyExit: boolean;
  readonly stableMs?: number;
  /** where a fault of the alerts themselves is said (they never stop the unit they watch) */
  readonly log: (line: string) => void;
}

export class UnitAlerts {
  readonly #o: UnitAlertsOptions;
  #state: AlertState = 'clear';
  #timer: NodeJS.Timeout | null = null;
  #crashLoop = false;
  #config: string | null = null;
  #restarts = 0;

  constructor(options: UnitAlertsOptions) {
    this.#o = options;
  }

  #move(to: AlertState): void {
    if (!TRANSITIONS[this.#state].includes(to)) throw new Error(`unit alerts: no transition from ${this.#state} to ${to}`);
    // the stable-run timer belongs to recovering
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#state = to;
  }

  /** called from the unit's publish: a fault here is logged, never thrown into the supervisor */
  observe(s: UnitSnapshot<UnitInstance>): void {
    try {
      this.#observe(s);
    } catch (err) {
      this.#o.log(`notices: ${(err as Error).message}`);
    }
  }

  #observe(s: UnitSnapshot<UnitInstance>): void {
    if (s.state === 'stopping' || s.state === 'stopped') {
      // stopped on purpose: nothing to recover from
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.#state = 'clear';
      this.#crashLoop = false;
      return;
    }
    if (this.#o.everyExit && s.restarts > this.#restarts && s.state === 'backing-off') this.#o.emit('failed', s.message);
    this.#restarts = s.restarts;
    const config = s.configError?.join('\n') ?? null;
    if (config !== null && config !== this.#config) {
      // the last line is the verdict with its code (the lines before it say where)
      this.#o.emit('config-rejected', s.configError?.at(-1) ?? 'configuration error');
      this.#move('alerted');
    }
    this.#config = config;
    if (s.crashLooping && s.state === 'backing-off') {
      if (!this.#crashLoop) {
        this.#crashLoop = true;
        this.#o.emit('crash-loop', s.message);
      }
      if (this.#state !== 'alerted') this.#move('alerted');
      return;
    }
    if (this.#state === 'clear' || s.state !== 'running' || config !== null) return;
    if (!this.#crashLoop) {
      this.#move('clear');
      this.#o.emit('recovered', s.message);
      return;
    }
    if (this.#state === 'recovering') return;
    this.#move('recovering');
    this.#timer = setTimeout(() => {
      this.#move('clear');
      this.#crashLoop = false;
      this.#o.emit('recovered', `running again for ${Math.round((this.#o.stableMs ?? DEFAULT_STABLE_MS) / 1000)} s`);
    }, this.#o.stableMs ?? DEFAULT_STABLE_MS);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
