// A notice about something that happened to a tool's job or webservice: what the producer (the
// tool's runner or supervisor, as the tool; the root monitor) hands to the registrar, and what
// the mail is made of. Everything in it comes from the tool, so it is checked and bounded here
// before root keeps it.
import type { ExitCause } from '../limits/index.js';
import { EVENT_KINDS, type EventKind } from './policy.js';

export interface NotifyEvent {
  readonly source: 'job' | 'webservice';
  /** the job's name; the webservice's type */
  readonly name: string;
  readonly kind: EventKind;
  /** when it happened (ms since the epoch) */
  readonly at: number;
  /** one line: what happened */
  readonly summary: string;
  readonly cause: ExitCause | null;
  /** the last lines of its error output */
  readonly stderr: readonly string[];
  /** the command that shows more */
  readonly look: string;
}

export const STDERR_LINES = 20;
const LINE_CHARS = 300;
const NAME_CHARS = 64;

function clip(s: string, n: number): string {
  // one line each: a tool's text never adds headers or lines of its own to a mail
  const flat = s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ').replace(/\n/g, ' ');
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

/** the last n lines of a text (an error log's tail) */
export function lastLines(text: string, n = STDERR_LINES): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n);
}

function parseCause(v: unknown): ExitCause | null | string {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return 'cause must be an object';
  const c = v as Record<string, unknown>;
  const int = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
  switch (c.kind) {
    case 'exit':
      return int(c.code) ? { kind: 'exit', code: c.code } : 'cause.code must be an integer';
    case 'signal':
      return typeof c.signal === 'string' && /^SIG[A-Z0-9]{1,10}$/.test(c.signal) ? { kind: 'signal', signal: c.signal } : 'cause.signal must be a signal name';
    case 'oom':
      return int(c.limit) && (c.scope === 'unit' || c.scope === 'quota') ? { kind: 'oom', limit: c.limit, scope: c.scope } : 'cause of kind oom needs limit and scope';
    case 'timeout':
      return int(c.seconds) ? { kind: 'timeout', seconds: c.seconds } : 'cause.seconds must be an integer';
    default:
      return 'unknown cause kind';
  }
}

/** the last time a Date holds (ECMAScript: 8.64e15 ms after 1970) */
const LAST_DATE_MS = 8.64e15;

/** a notice as received from a tool: checked, bounded, or the reason it is refused */
export function parseEvent(v: unknown): NotifyEvent | string {
  if (typeof v !== 'object' || v === null) return 'the event must be an object';
  const o = v as Record<string, unknown>;
  if (o.source !== 'job' && o.source !== 'webservice') return 'source must be job or webservice';
  if (typeof o.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(o.name) || o.name.length > NAME_CHARS) return 'name must be a job name or a webservice type';
  if (typeof o.kind !== 'string' || !(EVENT_KINDS as readonly string[]).includes(o.kind)) return `kind must be one of ${EVENT_KINDS.join(', ')}`;
  // a time a Date holds (mail prints it): one past that made composing the mail throw, and held back every later notice of the tool
  if (typeof o.at !== 'number' || !Number.isSafeInteger(o.at) || o.at <= 0 || o.at > LAST_DATE_MS) return 'at must be a time in ms';
  if (typeof o.summary !== 'string') return 'summary must be text';
  if (typeof o.look !== 'string') return 'look must be text';
  if (!Array.isArray(o.stderr) || !o.stderr.every((l) => typeof l === 'string')) return 'stderr must be lines of text';
  const cause = parseCause(o.cause);
  if (typeof cause === 'string') return cause;
  return {
    source: o.source,
    name: o.name,
    kind: o.kind as EventKind,
    at: o.at,
    summary: clip(o.summary, LINE_CHARS),
    cause,
    stderr: (o.stderr).slice(-STDERR_LINES).map((l) => clip(l, LINE_CHARS)),
    look: clip(o.look, LINE_CHARS),
  };
}
