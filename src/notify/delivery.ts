// What became of a tool's notices: kept by the notifier (root) in <state>/notify/status/<tool>.json,
// readable by the tool's group, so `jobs show` and `webservice status` can say whether a failure
// was mailed, is waiting for the digest, or why it was not mailed. No addresses are kept here.
import path from 'node:path';
import type { EventKind } from './policy.js';
import { notifyDirectory, readJson, rootDirectory, writeWhole } from './root-files.js';

export type Delivery =
  | { readonly state: 'pending'; readonly reason: string }
  | { readonly state: 'mailed'; readonly at: number; readonly recipients: number; readonly digest: boolean }
  | { readonly state: 'not-mailed'; readonly reason: string };

export interface DeliveryEntry {
  readonly id: string;
  readonly source: 'job' | 'webservice';
  readonly name: string;
  readonly kind: EventKind;
  readonly at: number;
  readonly summary: string;
  readonly delivery: Delivery;
}

export interface DeliveryLog {
  readonly entries: readonly DeliveryEntry[];
  /** when mails went out in the last hour (the hourly cap counts these) */
  readonly sent: readonly number[];
}

/** entries kept per tool */
const KEEP = 50;

function statusFile(stateDir: string, tool: string): string {
  return path.join(notifyDirectory(stateDir), 'status', `${tool}.json`);
}

export function readDeliveryLog(stateDir: string, tool: string): DeliveryLog {
  const v = readJson(statusFile(stateDir, tool)) as Partial<DeliveryLog> | null;
  return { entries: Array.isArray(v?.entries) ? v.entries : [], sent: Array.isArray(v?.sent) ? v.sent.filter((n) => typeof n === 'number') : [] };
}

export function writeDeliveryLog(stateDir: string, tool: string, log: DeliveryLog, gid: number | undefined): void {
  // a tool reads its own record (its group's): the way there must be open to it
  rootDirectory(stateDir, 0o755);
  rootDirectory(notifyDirectory(stateDir), 0o755);
  rootDirectory(path.join(notifyDirectory(stateDir), 'status'), 0o755);
  const trimmed: DeliveryLog = { entries: log.entries.slice(-KEEP), sent: log.sent };
  writeWhole(statusFile(stateDir, tool), `${JSON.stringify(trimmed)}\n`, 0o640, gid);
}

/** the newest entry about one job or the webservice */
export function lastDelivery(stateDir: string, tool: string, source: DeliveryEntry['source'], name?: string): DeliveryEntry | null {
  const entries = readDeliveryLog(stateDir, tool).entries.filter((e) => e.source === source && (name === undefined || e.name === name));
  return entries.at(-1) ?? null;
}

/** one line for a status: what became of the last notice */
export function deliveryText(e: DeliveryEntry): string {
  const when = new Date(e.at).toISOString().replace(/\.\d+Z$/, 'Z');
  const what = `${e.kind} at ${when}`;
  switch (e.delivery.state) {
    case 'mailed':
      return `${what}: mailed to ${e.delivery.recipients} recipient(s)${e.delivery.digest ? ' in a digest' : ''} at ${new Date(e.delivery.at).toISOString().replace(/\.\d+Z$/, 'Z')}`;
    case 'pending':
      return `${what}: not mailed yet (${e.delivery.reason})`;
    case 'not-mailed':
      return `${what}: not mailed: ${e.delivery.reason}`;
  }
}

/**
 * What a status says of a unit's last notice: the notifier's word when it has dealt with it (read
 * from its status file), else what the producer knew (handed over, or why not). null: none yet.
 */
export function noticeStatus(stateDir: string, tool: string, source: DeliveryEntry['source'], name: string | undefined, note: { readonly kind: string; readonly at: number; readonly note: string } | null | undefined): string | null {
  const entry = lastDelivery(stateDir, tool, source, name);
  if (entry && (!note || entry.at >= note.at)) return deliveryText(entry);
  if (!note) return null;
  return `${note.kind} at ${new Date(note.at).toISOString().replace(/\.\d+Z$/, 'Z')}: ${note.note}`;
}
