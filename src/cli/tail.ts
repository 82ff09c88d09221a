// `logs [-f] [-l N]` for webservice and jobs: the last lines of one or more log files, then, with
// -f, what is written to them until interrupted. Logs are rotated by size (src/logs/): the last
// lines may begin in the rotated FILE.1, and following goes on in the new file after a rotation
// (as `tail -F`), after the rest of the old one.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { ToolhostError } from '../errors.js';
import { olderGenerations } from '../logs/index.js';
import type { CliIo } from './io.js';

/** the last n lines of a file, reading backwards from its end in blocks */
export function lastLines(file: string, n: number, upTo?: number): string[] {
  const size = upTo ?? statSync(file).size;
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

/** the last n lines of a rotated log: from the file, and from its older generations when it holds fewer */
export function lastLinesAcross(file: string, n: number, upTo?: number): string[] {
  const lines = existsSync(file) ? lastLines(file, n, upTo) : [];
  for (const older of olderGenerations(file).reverse()) {
    if (lines.length >= n) break;
    lines.unshift(...lastLines(older, n - lines.length));
  }
  return lines;
}

/** one followed file: an open descriptor read to its end, reopened when the name holds a new file */
export class Followed {
  readonly #file: string;
  #fd = -1;
  #ino = -1;
  #offset = 0;

  constructor(file: string) {
    this.#file = file;
    if (existsSync(file)) this.#open(true);
  }

  /** where following starts in the file as it is now (undefined: not there yet) */
  get start(): number | undefined {
    return this.#fd >= 0 ? this.#offset : undefined;
  }

  #open(atEnd: boolean): void {
    try {
      this.#fd = openSync(this.#file, 'r');
    } catch {
      this.#fd = -1;
      return;
    }
    const st = fstatSync(this.#fd);
    this.#ino = st.ino;
    this.#offset = atEnd ? st.size : 0;
  }

  /** what was written since the last call */
  read(): string {
    let out = '';
    if (this.#fd >= 0) {
      out += this.#drain();
      let now: number | null = null;
      try {
        now = statSync(this.#file).ino;
      } catch {
        // gone for now (between a rotation's renames): looked at again next time
      }
      if (now !== null && now !== this.#ino) {
        // rotated: the rest of the old file was read above; the new one from its start
        closeSync(this.#fd);
        this.#open(false);
        if (this.#fd >= 0) out += this.#drain();
      }
    } else if (existsSync(this.#file)) {
      this.#open(false);
      if (this.#fd >= 0) out += this.#drain();
    }
    return out;
  }

  #drain(): string {
    const size = fstatSync(this.#fd).size;
    if (size < this.#offset) this.#offset = 0; // truncated in place
    if (size === this.#offset) return '';
    const buf = Buffer.alloc(size - this.#offset);
    const n = readSync(this.#fd, buf, 0, buf.length, this.#offset);
    this.#offset += n;
    return buf.subarray(0, n).toString('utf8');
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** print the last n lines of each file; with follow, keep printing until SIGINT/SIGTERM */
export async function tailFiles(files: readonly string[], n: number, follow: boolean, io: CliIo): Promise<void> {
  // the follow starts where the last lines end: a line written meanwhile is printed once
  const followed = follow ? files.map((f) => new Followed(f)) : [];
  files.forEach((f, i) => {
    for (const l of lastLinesAcross(f, n, followed[i]?.start)) io.out(`${l}\n`);
  });
  if (!follow) return;
  await new Promise<void>((resolve) => {
    // a plain poll: fs.watch follows an inode, and a rotation gives the name a new one
    const timer = setInterval(() => {
      for (const f of followed) {
        const text = f.read();
        if (text) io.out(text);
      }
    }, 200);
    const stop = (): void => {
      clearInterval(timer);
      for (const f of followed) f.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
