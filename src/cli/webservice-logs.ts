// `webservice logs [-f] [-l N]` shows ~/error.log; `webservice logs --access [--since W] [--json]`
// reviews the anonymized ~/access.log.
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseAccessLine, renderReview, review, type AccessEntry } from '../accesslog/index.js';
import { ToolhostError } from '../errors.js';
import { olderGenerations } from '../logs/index.js';
import type { Tool } from '../accounts/index.js';
import { ERROR_LOG } from '../webservice/index.js';
import type { CliIo } from './io.js';
import { lineCount, tailFiles } from './tail.js';

interface LogOptions {
  follow?: boolean;
  lines?: string;
  access?: boolean;
  since?: string;
  json?: boolean;
}

export function parseSince(value: string, now = Date.now()): Date {
  const rel = /^(\d+)\s*(m|h|d|w)$/.exec(value.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(rel[1]) * unit);
  }
  const abs = new Date(value);
  if (Number.isNaN(abs.getTime())) throw new ToolhostError('TH_ERR_USAGE', `--since "${value}" is neither a duration (30m, 2h, 3d, 1w) nor a date (2026-11-01)`);
  return abs;
}

async function accessReview(tool: Tool, opts: LogOptions, io: CliIo): Promise<number> {
  const since = opts.since ? parseSince(opts.since) : null;
  const current = path.join(tool.home, 'access.log');
  // every generation the supervisor's rotation kept, oldest first
  const files = [...olderGenerations(current), current].filter((f) => existsSync(f));
  if (!files.length) throw new ToolhostError('TH_ERR_FILE_UNREADABLE', path.join(tool.home, 'access.log'), 'ENOENT');
  const entries: AccessEntry[] = [];
  let unparsed = 0;
  for (const file of files) {
    const rl = readline.createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line) continue;
      const e = parseAccessLine(line);
      if (!e) unparsed++;
      else if (!since || e.time >= since) entries.push(e);
    }
  }
  const r = review(entries, unparsed);
  io.out(opts.json ? `${JSON.stringify(r)}\n` : renderReview(r));
  return 0;
}

export async function showLogs(tool: Tool, opts: LogOptions, io: CliIo): Promise<number> {
  if (opts.access) return accessReview(tool, opts, io);
  const file = path.join(tool.home, ERROR_LOG);
  if (!existsSync(file)) {
    io.err(`${file} does not exist yet: your webservice has not logged anything.\n`);
    return 0;
  }
  await tailFiles([file], lineCount(opts.lines), opts.follow === true, io);
  return 0;
}
