// `webservice logs [-f] [-l N]` shows ~/error.log; `webservice logs --access [--since W] [--json]`
// reviews the anonymized ~/access.log.
import { createReadStream, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseAccessLine, renderReview, review, type AccessEntry } from '../accesslog/index.js';
import { ToolhostError } from '../errors.js';
import type { Tool } from '../accounts/index.js';
import { ERROR_LOG } from '../webservice/index.js';
import type { CliIo } from './io.js';

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

/** the last n lines of a file, reading backwards from its end in blocks */
function lastLines(file: string, n: number): string[] {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    let pos = size;
    let text = '';
    while (pos > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(64 * 1024, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, pos);
      text = buf.toString('utf8') + text;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

async function accessReview(tool: Tool, opts: LogOptions, io: CliIo): Promise<number> {
  const since = opts.since ? parseSince(opts.since) : null;
  const files = ['access.log.1', 'access.log'].map((f) => path.join(tool.home, f)).filter((f) => existsSync(f));
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
  const n = opts.lines ? Number(opts.lines) : 100;
  if (!Number.isInteger(n) || n < 0) throw new ToolhostError('TH_ERR_USAGE', `--lines takes a whole number, not "${opts.lines}"`);
  for (const l of lastLines(file, n)) io.out(`${l}\n`);
  if (!opts.follow) return 0;
  let offset = statSync(file).size;
  await new Promise<void>((resolve) => {
    const onChange = (): void => {
      const size = statSync(file).size;
      if (size < offset) offset = 0; // truncated or rotated
      if (size === offset) return;
      const fd = openSync(file, 'r');
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      closeSync(fd);
      offset = size;
      io.out(buf.toString('utf8'));
    };
    // a plain poll of the size: fs.watchFile's first stat is asynchronous, so a line written
    // right after the tail was printed could be taken as the baseline and never shown
    const timer = setInterval(onChange, 200);
    const stop = (): void => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
