// The spool: notices root has accepted and not yet dealt with, one file each, in a directory only
// root can read (<state>/notify/spool). The registrar puts a tool's notices there (after its
// socket said which tool is calling), the monitor its own; the notifier takes them out.
import { readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isToolName } from '../tool-name.js';
import { parseEvent, type NotifyEvent } from './event.js';
import { notifyDirectory, readJson, rootDirectory, writeWhole } from './root-files.js';

/** notices of one tool waiting in the spool beyond which more are refused (a tool cannot fill root's disk) */
export const SPOOL_LIMIT_PER_TOOL = 100;

export interface Spooled {
  readonly id: string;
  readonly tool: string;
  readonly event: NotifyEvent;
  readonly file: string;
}

function spoolDirectory(stateDir: string): string {
  rootDirectory(notifyDirectory(stateDir), 0o755);
  return rootDirectory(path.join(notifyDirectory(stateDir), 'spool'), 0o700);
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
}

export type SpoolResult = { readonly ok: true; readonly id: string } | { readonly ok: false; readonly backlog: number };

/** keep a notice for the notifier; refused when the tool already has too many waiting */
export function spoolEvent(stateDir: string, tool: string, event: NotifyEvent): SpoolResult {
  const dir = spoolDirectory(stateDir);
  const waiting = names(dir).filter((n) => n.startsWith(`${tool}.`)).length;
  if (waiting >= SPOOL_LIMIT_PER_TOOL) return { ok: false, backlog: waiting };
  const id = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  writeWhole(path.join(dir, `${tool}.${id}.json`), `${JSON.stringify({ tool, id, event })}\n`, 0o600);
  return { ok: true, id };
}

/** every notice waiting, oldest first; a file that is not a notice is dropped */
export function spooled(stateDir: string): Spooled[] {
  const dir = spoolDirectory(stateDir);
  const out: Spooled[] = [];
  for (const name of names(dir)) {
    const file = path.join(dir, name);
    const v = readJson(file) as { tool?: unknown; id?: unknown; event?: unknown } | null;
    const event = v ? parseEvent(v.event) : 'unreadable';
    if (!v || typeof v.tool !== 'string' || !isToolName(v.tool) || typeof v.id !== 'string' || typeof event === 'string') {
      rmSync(file, { force: true });
      continue;
    }
    out.push({ id: v.id, tool: v.tool, event, file });
  }
  return out.sort((x, y) => x.event.at - y.event.at || x.id.localeCompare(y.id));
}

export function unspool(s: Spooled): void {
  rmSync(s.file, { force: true });
}
