// The producing side, in the tool's own processes (a job's runner, the tool's supervisor): an
// event the tool's --emails setting wants is handed to the registrar, which knows from its socket
// which tool is calling and spools it for the root notifier. What became of it is written in the
// job's record or the webservice's state, so a status can say it even where nobody mails.
import { readFileSync } from 'node:fs';
import type { NotifyEvent } from './event.js';
import { lastLines } from './event.js';
import { wants, type EmailPolicy } from './policy.js';

export interface NotifyPeer {
  notify(event: NotifyEvent): Promise<void>;
}

/** what the producer knows of a notice it made */
export interface NoticeNote {
  readonly kind: NotifyEvent['kind'];
  readonly at: number;
  /** handed to the platform, or why not */
  readonly note: string;
}

export const HANDED_OVER = 'handed to the platform\'s notifier';

/** the event when the policy wants it: handed over, or why it could not be */
export async function notify(peer: NotifyPeer | null, unavailable: string | undefined, policy: EmailPolicy, event: NotifyEvent): Promise<NoticeNote | null> {
  if (!wants(policy, event.kind)) return null;
  if (!peer) return { kind: event.kind, at: event.at, note: `not mailed: ${unavailable ?? 'no registrar on this host to take it'}` };
  try {
    await peer.notify(event);
    return { kind: event.kind, at: event.at, note: HANDED_OVER };
  } catch (err) {
    return { kind: event.kind, at: event.at, note: `not mailed: ${(err as Error).message}` };
  }
}

/** the last lines of a log the calling process may read (its own tool's), or none */
export function tailOf(file: string | null): string[] {
  if (!file) return [];
  try {
    const text = readFileSync(file, 'utf8');
    return lastLines(text.length > 64 * 1024 ? text.slice(-64 * 1024) : text);
  } catch {
    return [];
  }
}
