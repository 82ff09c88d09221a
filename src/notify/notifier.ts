// The notifier, in the root monitor: takes the notices out of the spool and mails each tool's
// maintainers. Per tool, a small state machine keeps the mail readable and bounded:
//   quiet      -> a notice arrives: mailed at once (the first failure is never held back),
//                 then gathering for the digest window
//   gathering  -> notices are gathered; when the window ends they go out in one digest and the
//                 window starts again; a window with nothing in it ends in quiet
// and at most `hourlyCap` mails per tool per hour: past it, notices wait for the next slot (the
// status says so). Without a relay, or without recipients, a notice is recorded as not mailed,
// with the reason, and dropped from the spool.
import { DEFAULT_SETTINGS } from '../defaults.js';
import os from 'node:os';
import { toolByName, toolOwner, type Owner, type Tool } from '../accounts/index.js';
import { readDeliveryLog, writeDeliveryLog, type Delivery, type DeliveryEntry } from './delivery.js';
import type { NotifyEvent } from './event.js';
import type { Mailer } from './mailer.js';
import { composeMail } from './message.js';
import { recipientsOf } from './recipients.js';
import { spooled, unspool, type Spooled } from './spool.js';

export const DEFAULT_DIGEST_MS = DEFAULT_SETTINGS.mail.digestSeconds * 1000;
export const DEFAULT_HOURLY_CAP = DEFAULT_SETTINGS.mail.hourlyCap;
const HOUR_MS = 60 * 60_000;
/** after the relay failed, before trying again */
const RETRY_MS = 30_000;
export const NO_RELAY = 'no SMTP relay configured (TOOLHOST_SMTP_URL)';

export interface NotifierOptions {
  readonly stateDir: string;
  readonly homeRoot: string;
  /** null: no relay configured; notices are recorded as not mailed */
  readonly mailer: Mailer | null;
  readonly digestMs?: number;
  readonly hourlyCap?: number;
  readonly host?: string;
  readonly log: (line: string) => void;
}

type MailState = 'quiet' | 'gathering';

const TRANSITIONS: Readonly<Record<MailState, readonly MailState[]>> = {
  quiet: ['gathering'],
  gathering: ['gathering', 'quiet'],
};

interface ToolMail {
  state: MailState;
  /** the end of the digest window (gathering), or the next try after a relay failure */
  until: number;
  readonly pending: Spooled[];
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #tools = new Map<string, ToolMail>();
  #busy: Promise<void> | null = null;

  constructor(options: NotifierOptions) {
    this.#o = options;
  }

  /** one pass: new notices taken in, mails sent that are due (calls never overlap) */
  async tick(now = Date.now()): Promise<void> {
    if (this.#busy) return this.#busy;
    this.#busy = this.#pass(now).finally(() => {
      this.#busy = null;
    });
    return this.#busy;
  }

  /** the state of a tool's mail (tests, status) */
  stateOf(tool: string): MailState {
    return this.#tools.get(tool)?.state ?? 'quiet';
  }

  #move(tool: string, m: ToolMail, to: MailState, until: number): void {
    if (!TRANSITIONS[m.state].includes(to)) throw new Error(`notifier ${tool}: no transition from ${m.state} to ${to}`);
    m.state = to;
    m.until = until;
  }

  async #pass(now: number): Promise<void> {
    for (const s of spooled(this.#o.stateDir)) {
      const m = this.#mail(s.tool);
      if (m.pending.some((p) => p.id === s.id)) continue;
      m.pending.push(s);
      this.#record(s.tool, [s], { state: 'pending', reason: m.state === 'quiet' ? 'being mailed' : `gathered for the digest at ${iso(m.until)}` });
    }
    for (const [tool, m] of this.#tools) {
      try {
        await this.#advance(tool, m, now);
      } catch (err) {
        this.#o.log(`notify ${tool}: ${(err as Error).message}`);
      }
    }
  }

  #mail(tool: string): ToolMail {
    let m = this.#tools.get(tool);
    if (!m) this.#tools.set(tool, (m = { state: 'quiet', until: 0, pending: [] }));
    return m;
  }

  async #advance(tool: string, m: ToolMail, now: number): Promise<void> {
    const digestMs = this.#o.digestMs ?? DEFAULT_DIGEST_MS;
    if (!this.#o.mailer) {
      // nothing to gather for: each notice is recorded as not mailed as soon as it comes
      if (m.pending.length) await this.#send(tool, m, now, false);
      return;
    }
    if (m.state === 'quiet') {
      if (!m.pending.length) return;
      const sent = await this.#send(tool, m, now, false);
      this.#move(tool, m, 'gathering', sent === 'retry' ? now + RETRY_MS : sent === 'capped' ? this.#nextSlot(tool, now) : now + digestMs);
      return;
    }
    if (now < m.until) return;
    if (!m.pending.length) {
      this.#move(tool, m, 'quiet', 0);
      this.#tools.delete(tool);
      return;
    }
    const sent = await this.#send(tool, m, now, true);
    this.#move(tool, m, 'gathering', sent === 'retry' ? now + RETRY_MS : sent === 'capped' ? this.#nextSlot(tool, now) : now + digestMs);
  }

  #nextSlot(tool: string, now: number): number {
    const recent = readDeliveryLog(this.#o.stateDir, tool).sent.filter((t) => now - t < HOUR_MS);
    return recent.length ? Math.min(...recent) + HOUR_MS : now + (this.#o.digestMs ?? DEFAULT_DIGEST_MS);
  }

  /** mail what is pending: 'sent' (or settled without a mail), 'capped', or 'retry' */
  async #send(tool: string, m: ToolMail, now: number, digest: boolean): Promise<'sent' | 'capped' | 'retry'> {
    const batch = m.pending.splice(0);
    const settle = (delivery: Delivery): void => {
      this.#record(tool, batch, delivery, delivery.state === 'mailed' ? now : undefined);
      for (const s of batch) unspool(s);
    };
    const who = this.#who(tool);
    if (!this.#o.mailer) {
      settle({ state: 'not-mailed', reason: NO_RELAY });
      return 'sent';
    }
    if (!who) {
      settle({ state: 'not-mailed', reason: 'the tool has no account on this host' });
      return 'sent';
    }
    const to = recipientsOf(who.tool, who.owner, this.#o.stateDir);
    if (!to.to.length) {
      settle({ state: 'not-mailed', reason: `no recipients: no ~/.forward and no maintainer address recorded (toolhost tool add-maintainer ${tool} USER --email ADDRESS)${to.refused ? `; ${to.refused}` : ''}` });
      return 'sent';
    }
    const cap = this.#o.hourlyCap ?? DEFAULT_HOURLY_CAP;
    const recent = readDeliveryLog(this.#o.stateDir, tool).sent.filter((t) => now - t < HOUR_MS);
    if (recent.length >= cap) {
      m.pending.unshift(...batch);
      this.#record(tool, batch, { state: 'pending', reason: `the tool's hourly cap of ${cap} mail(s) is reached; held for the next digest at ${iso(this.#nextSlot(tool, now))}` });
      return 'capped';
    }
    const events: NotifyEvent[] = batch.map((s) => s.event);
    try {
      await this.#o.mailer.send(to.to, composeMail(tool, events, this.#o.host ?? os.hostname()));
    } catch (err) {
      m.pending.unshift(...batch);
      const why = (err as Error).message.split('\n')[0] ?? 'error';
      this.#record(tool, batch, { state: 'pending', reason: `the relay did not take it (${why}); trying again at ${iso(now + RETRY_MS)}` });
      this.#o.log(`notify ${tool}: the relay did not take a mail: ${why}`);
      return 'retry';
    }
    settle({ state: 'mailed', at: now, recipients: to.to.length, digest: digest && batch.length > 1 });
    this.#o.log(`notify ${tool}: mailed ${batch.length} event(s) to ${to.to.length} recipient(s) from ${to.from}`);
    return 'sent';
  }

  #who(tool: string): { tool: Tool; owner: Owner } | null {
    try {
      const t = toolByName(tool, this.#o.homeRoot);
      const owner = toolOwner(t);
      return owner ? { tool: t, owner } : null;
    } catch {
      return null;
    }
  }

  /** the delivery of these notices, in the tool's status file */
  #record(tool: string, batch: readonly Spooled[], delivery: Delivery, sentAt?: number): void {
    const log = readDeliveryLog(this.#o.stateDir, tool);
    const entries = [...log.entries];
    for (const s of batch) {
      const entry: DeliveryEntry = { id: s.id, source: s.event.source, name: s.event.name, kind: s.event.kind, at: s.event.at, summary: s.event.summary, delivery };
      const i = entries.findIndex((e) => e.id === s.id);
      if (i >= 0) entries[i] = entry;
      else entries.push(entry);
    }
    const sent = [...log.sent.filter((t) => Date.now() - t < HOUR_MS), ...(sentAt !== undefined ? [sentAt] : [])];
    writeDeliveryLog(this.#o.stateDir, tool, { entries, sent }, this.#who(tool)?.owner.gid);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
