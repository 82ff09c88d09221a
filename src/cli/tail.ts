// `logs [-f] [-l N]` for webservice and jobs: the last lines of one or more log files, then, with
// -f, what is written to them until interrupted.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { ToolhostError } from '../errors.js';
import type { CliIo } from './io.js';

/** the last n lines of a file, reading backwards from its end in blocks */
export function lastLines(file: string, n: number): string[] {
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

/** -l N: a whole number of lines (default 100) */
export function lineCount(value: string | undefined): number {
  const n = value === undefined ? 100 : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ToolhostError('TH_ERR_USAGE', `--lines takes a whole number, not "${value}"`);
  return n;
}

/** print the last n lines of each existing file; with follow, keep printing until SIGINT/SIGTERM */
export async function tailFiles(files: readonly string[], n: number, follow: boolean, io: CliIo): Promise<void> {
  for (const f of files) if (existsSync(f)) for (const l of lastLines(f, n)) io.out(`${l}\n`);
  if (!follow) return;
  const offsets = new Map(files.map((f) => [f, existsSync(f) ? statSync(f).size : 0]));
  await new Promise<void>((resolve) => {
    const onChange = (): void => {
      for (const file of files) {
        if (!existsSync(file)) continue;
        let offset = offsets.get(file) ?? 0;
        const size = statSync(file).size;
        if (size < offset) offset = 0; // truncated or rotated
        if (size === offset) continue;
        const fd = openSync(file, 'r');
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        closeSync(fd);
        offsets.set(file, size);
        io.out(buf.toString('utf8'));
      }
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
}
