// One log file toolhost keeps for a tool, under its cap. Lines toolhost writes itself (a server's
// or a job's output, read from its pipe) go through write(): before a batch would take the file
// past its cap, the lines that fit are written, the file is rotated (rotate.ts) and the rest goes
// to the new file. A file is rotated only at the end of a line, so a line is never cut in two
// (one longer than 64 KiB may be). Other writers of the same file (lighttpd writing ~/access.log
// itself) are checked every checkMs, and told to reopen it after a rotation (onRotate).
//
// Writes are asynchronous and in order, one batch at a time; the size is read from the open file
// before each batch, so what other writers added counts. A write that fails (disk full) is
// reported once and its lines dropped; the next batch tries again.
import { open, type FileHandle } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { formatMessage } from '../errors.js';
import type { LogCap } from './log-policy.js';
import { rotateNow } from './rotate.js';

export interface CappedLogOptions {
  readonly file: string;
  /** null: not capped (the policy could not be read; onProblem said so) */
  readonly cap: LogCap | null;
  /** one line for the tool's ~/service.log (coded) */
  readonly onProblem: (line: string) => void;
  /** start the file afresh (a new run's internal log) */
  readonly truncate?: boolean;
  /** look at the file this often for writers toolhost does not see (lighttpd's own); 0: never */
  readonly checkMs?: number;
}

/** how much one write takes at a time */
const BATCH_BYTES = 256 * 1024;
/** a line is held back until its end comes, up to this long (longer: written in pieces) */
export const LONG_LINE_BYTES = 64 * 1024;
/** a line begun and not ended this long (a prompt, a progress bar) is written as it is */
const HOLD_MS = 500;
const NL = 0x0a;

/**
 * What to do with buf when the file holds size bytes: write its first `now` bytes, then rotate
 * or not. Whole lines only, as many as fit; a file that ends inside a line (a piece written as it
 * was, after a pause) gets the rest of that line first; a line longer than the cap gets a file of
 * its own.
 */
export function planWrite(size: number, buf: Buffer, maxBytes: number, midLine: boolean): { now: number; rotate: boolean } {
  if (size + buf.length <= maxBytes) return { now: buf.length, rotate: false };
  const room = maxBytes - size;
  const cut = room > 0 ? buf.lastIndexOf(NL, room - 1) + 1 : 0;
  if (cut > 0) return { now: cut, rotate: true };
  if (midLine) {
    const nl = buf.indexOf(NL);
    if (nl >= 0 && nl < LONG_LINE_BYTES) return { now: nl + 1, rotate: true };
    return { now: 0, rotate: true };
  }
  if (size > 0) return { now: 0, rotate: true };
  // an empty file, and a first line longer than the cap: that line alone
  const nl = buf.indexOf(NL);
  return nl >= 0 ? { now: nl + 1, rotate: true } : { now: buf.length, rotate: false };
}

/** what the log's name holds now, without following it */
function nameHolds(file: string): Stats | 'missing' {
  try {
    return lstatSync(file);
  } catch {
    return 'missing';
  }
}

const APPEND = 'a';

export class CappedLog {
  readonly file: string;
  readonly #cap: LogCap | null;
  readonly #onProblem: (line: string) => void;
  #fh: FileHandle;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** the start of a line whose end has not come yet: written with it (so no file ends inside a line) */
  #held: Buffer | null = null;
  #heldTimer: NodeJS.Timeout | null = null;
  /** write what is held as it is (flush, close, or the line waited HOLD_MS) */
  #force = false;
  #busy = false;
  #closed = false;
  /** the file ends inside a line toolhost wrote */
  #midLine = false;
  #problem: string | null = null;
  /** the name is a link or a device: written through, never rotated (said once) */
  #unmanagedSaid = false;
  #rotations = 0;
  readonly #hooks = new Set<() => void>();
  #waiters: (() => void)[] = [];
  #writtenWaiters: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout | null;

  private constructor(o: CappedLogOptions, fh: FileHandle) {
    this.file = o.file;
    this.#cap = o.cap;
    this.#onProblem = o.onProblem;
    this.#fh = fh;
    this.#timer = o.checkMs ? setInterval(() => this.#kick(), o.checkMs) : null;
    this.#timer?.unref();
  }

  /** the log, opened (created 0640 when missing); throws what opening it says */
  static async open(o: CappedLogOptions): Promise<CappedLog> {
    return new CappedLog(o, await open(o.file, o.truncate ? 'w' : APPEND, 0o640));
  }

  /** rotations so far (a writer started meanwhile may hold the old file) */
  get rotations(): number {
    return this.#rotations;
  }

  /** bytes waiting to be written */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** run after every rotation (and after the file was replaced by someone else): reopen it */
  onRotate(hook: () => void): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  write(chunk: Buffer | string): void {
    if (this.#closed) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (buf.length === 0) return;
    this.#pending.push(buf);
    this.#pendingBytes += buf.length;
    this.#kick();
  }

  /** resolves once what was written so far has gone to the file, but a line not ended yet (backpressure) */
  written(): Promise<void> {
    if (!this.#busy && this.#pendingBytes === 0) return Promise.resolve();
    return new Promise((resolve) => this.#writtenWaiters.push(resolve));
  }

  /** resolves once everything written so far is in the file */
  flush(): Promise<void> {
    if (!this.#busy && this.#pendingBytes === 0 && this.#held === null) return Promise.resolve();
    this.#force = true;
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#kick();
    return done;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#heldTimer) clearTimeout(this.#heldTimer);
    await this.#fh.close().catch(() => {});
  }

  /** something to write now */
  #due(): boolean {
    return this.#pendingBytes > 0 || (this.#force && this.#held !== null);
  }

  #kick(): void {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    void this.#run().finally(() => {
      this.#busy = false;
      if (this.#due() && !this.#closed) return this.#kick();
      const written = this.#writtenWaiters;
      this.#writtenWaiters = [];
      for (const w of written) w();
      if (this.#held !== null) return;
      this.#force = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    });
  }

  async #run(): Promise<void> {
    if (!this.#due()) {
      // a periodic look: rotate what other writers grew, follow a file replaced under us
      await this.#look();
      return;
    }
    while (this.#due()) {
      let batch = this.#take();
      if (!this.#force && batch[batch.length - 1] !== NL) {
        // the end of its last line has not come yet: that line waits for it
        const end = batch.lastIndexOf(NL) + 1;
        if (batch.length - end < LONG_LINE_BYTES) {
          this.#hold(Buffer.from(batch.subarray(end)));
          batch = batch.subarray(0, end);
        }
      }
      if (batch.length > 0) await this.#writeCapped(batch);
    }
  }

  #hold(part: Buffer): void {
    this.#held = part;
    this.#heldTimer ??= setTimeout(() => {
      this.#heldTimer = null;
      const waited = this.#held;
      // after the poll phase: a process that was not scheduled for a while reads what arrived
      // meanwhile (the line's end, most likely) before the line is given up on
      setImmediate(() => {
        if (this.#held === null || this.#held !== waited) return;
        if (this.#busy) {
          // writing: look again later
          this.#hold(waited);
          return;
        }
        this.#force = true;
        this.#kick();
      });
    }, HOLD_MS);
    this.#heldTimer.unref();
  }

  #take(): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    if (this.#held) {
      parts.push(this.#held);
      n = this.#held.length;
      this.#held = null;
      if (this.#heldTimer) clearTimeout(this.#heldTimer);
      this.#heldTimer = null;
    }
    let taken = 0;
    while (this.#pending.length && n < BATCH_BYTES) {
      const b = this.#pending.shift() as Buffer;
      parts.push(b);
      n += b.length;
      taken += b.length;
    }
    this.#pendingBytes -= taken;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }

  async #writeCapped(buf: Buffer): Promise<void> {
    let rest = buf;
    while (rest.length > 0) {
      let plan = { now: rest.length, rotate: false };
      if (this.#cap) {
        const size = await this.#size();
        plan = planWrite(size, rest, this.#cap.maxBytes, this.#midLine);
      }
      if (plan.now > 0) {
        await this.#writeAll(rest.subarray(0, plan.now));
        rest = rest.subarray(plan.now);
      }
      // a name toolhost may not rotate: everything goes through it as it is
      if (plan.rotate && !(await this.#rotate())) {
        if (rest.length) await this.#writeAll(rest);
        return;
      }
    }
  }

  async #size(): Promise<number> {
    try {
      return (await this.#fh.stat()).size;
    } catch {
      return 0;
    }
  }

  async #writeAll(buf: Buffer): Promise<void> {
    try {
      let off = 0;
      while (off < buf.length) off += (await this.#fh.write(buf, off, buf.length - off)).bytesWritten;
      this.#midLine = buf[buf.length - 1] !== NL;
      if (this.#problem) {
        this.#onProblem(`${this.file}: written again`);
        this.#problem = null;
      }
    } catch (err) {
      if (this.#problem === null) {
        this.#problem = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        this.#onProblem(`${formatMessage('TH_ERR_LOG_UNWRITABLE', [this.file, this.#problem])} [TH_ERR_LOG_UNWRITABLE]`);
      }
    }
  }

  /** the periodic look */
  async #look(): Promise<void> {
    const here = nameHolds(this.file);
    const mine = await this.#fh.stat().catch(() => null);
    if (!mine) return;
    if (here === 'missing' || (here.isFile() && (here.ino !== mine.ino || here.dev !== mine.dev))) {
      await this.#reopen();
      return;
    }
    if (this.#cap && mine.size >= this.#cap.maxBytes) await this.#rotate();
  }

  /**
   * Rotate the file if its name still holds the very file written here; follow it if someone
   * else rotated or removed it. False when the name is a link or a device (never rotated).
   */
  async #rotate(): Promise<boolean> {
    const here = nameHolds(this.file);
    const mine = await this.#fh.stat().catch(() => null);
    if (here !== 'missing' && !here.isFile()) {
      if (!this.#unmanagedSaid) {
        this.#unmanagedSaid = true;
        this.#onProblem(`${formatMessage('TH_ERR_LOG_NOT_ROTATED', [this.file])} [TH_ERR_LOG_NOT_ROTATED]`);
      }
      return false;
    }
    if (here !== 'missing' && mine && here.ino === mine.ino && here.dev === mine.dev) {
      try {
        rotateNow(this.file, this.#cap?.keep ?? 1);
      } catch (err) {
        this.#onProblem(`${formatMessage('TH_ERR_LOG_UNWRITABLE', [this.file, `cannot rotate it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`])} [TH_ERR_LOG_UNWRITABLE]`);
        return false;
      }
      this.#rotations++;
    }
    return this.#reopen();
  }

  /** a new file at the name, then every other writer told to reopen it */
  async #reopen(): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.file, APPEND, 0o640);
    } catch (err) {
      this.#onProblem(`${formatMessage('TH_ERR_LOG_UNWRITABLE', [this.file, (err as NodeJS.ErrnoException).code ?? (err as Error).message])} [TH_ERR_LOG_UNWRITABLE]`);
      return false;
    }
    const old = this.#fh;
    this.#fh = fh;
    this.#midLine = false;
    await old.close().catch(() => {});
    for (const hook of this.#hooks) hook();
    return true;
  }
}
