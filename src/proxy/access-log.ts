// The proxy's own access log: combined format, one line per request, with the tool, the time
// taken and no client address ("-" where combined has one).
//
// Lines go to the file in batches (one write per event-loop turn at most), never from the request
// path: a request only appends its line to a bounded queue. When the queue is full (a disk slower
// than the requests) lines are dropped and counted. Rotation by size (file -> file.1 -> ... ->
// file.N) and reopening after logrotate (SIGHUP) happen between batches, asynchronously.
//
// A write that fails (disk full, file system read-only, file removed with its directory) does not
// stop logging for good: the log says so once (the proxy's own log, healthz, metrics), keeps
// retrying every second on a newly opened file, and says when it writes again.
import { close, fstat, open, rename, write } from 'node:fs';
import { formatMessage } from '../errors.js';
import { rotationMoves } from '../log-generations.js';

export interface AccessLogOptions {
  readonly file: string;
  readonly maxBytes?: number;
  readonly keep?: number;
  /** a failure to write, and the recovery, in one line each */
  readonly onProblem?: (line: string) => void;
  /** time between attempts while the log cannot be written (default 1 s) */
  readonly retryMs?: number;
}

export interface AccessRecord {
  readonly time: Date;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly status: number;
  readonly bytes: number;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  readonly tool: string;
  readonly durationMs: number;
  /** the proxy's TH_ERR_PROXY_* code, when it answered with an error page of its own */
  readonly error?: string | undefined;
}

export interface AccessLogStatus {
  /** false while lines cannot be written */
  readonly writable: boolean;
  /** why, when not writable: the coded message */
  readonly problem: string | null;
  /** lines dropped since the start (write failures and a full queue) */
  readonly linesLost: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** lines waiting for the disk; beyond this they are dropped (and counted) rather than held */
const MAX_PENDING_BYTES = 1024 * 1024;

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** [21/Nov/2026:13:49:55 +0000] (always UTC) */
export function clfDate(d: Date): string {
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function quoted(s: string | undefined): string {
  if (s === undefined || s === '') return '"-"';
  return `"${s.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

export function formatAccessLine(r: AccessRecord): string {
  const request = r.method === '-' ? '-' : `${r.method} ${r.url} HTTP/${r.httpVersion}`;
  return `- - - [${clfDate(r.time)}] ${quoted(request)} ${r.status} ${r.bytes} ${quoted(r.referer)} ${quoted(r.userAgent)} tool=${r.tool || '-'} ms=${r.durationMs.toFixed(1)}${r.error ? ` error=${r.error}` : ''}\n`;
}

type Step = 'idle' | 'opening' | 'writing' | 'rotating' | 'waiting-to-retry' | 'closed';

export class AccessLog {
  readonly #file: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #retryMs: number;
  readonly #onProblem: (line: string) => void;
  #step: Step = 'idle';
  #fd = -1;
  #size = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #lost = 0;
  #flushQueued = false;
  #reopenDue = false;
  /** the last failed write stopped inside a line: the next write starts with a line break */
  #midLine = false;
  #problem: string | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #closed: (() => void) | null = null;

  constructor(options: AccessLogOptions) {
    this.#file = options.file;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#keep = options.keep ?? 5;
    this.#retryMs = options.retryMs ?? 1000;
    this.#onProblem = options.onProblem ?? (() => {});
  }

  get status(): AccessLogStatus {
    return { writable: this.#problem === null, problem: this.#problem, linesLost: this.#lost };
  }

  write(record: AccessRecord): void {
    if (this.#step === 'closed') return;
    const line = formatAccessLine(record);
    if (this.#pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.#lost++;
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (!this.#flushQueued && this.#step === 'idle') {
      this.#flushQueued = true;
      setImmediate(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
  }

  /** after an external rotation (logrotate + SIGHUP): continue in a new file of the same name */
  reopen(): void {
    this.#reopenDue = true;
    if (this.#step === 'idle') this.#flush();
  }

  /** write what is queued (one attempt if the log is failing), then close the file */
  close(): Promise<void> {
    if (this.#step === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      this.#closed = resolve;
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
        this.#step = 'idle';
      }
      if (this.#step === 'idle') this.#flush();
    });
  }

  #flush(): void {
    if (this.#step !== 'idle') return;
    if (this.#reopenDue && this.#fd >= 0) {
      this.#reopenDue = false;
      this.#closeFd();
    }
    if (this.#pending.length === 0) {
      if (this.#closed) this.#finishClose();
      return;
    }
    if (this.#fd < 0) {
      this.#open();
      return;
    }
    const text = (this.#midLine ? '\n' : '') + this.#pending.join('');
    const lines = this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#step = 'writing';
    this.#writeAll(Buffer.from(text), 0, lines);
  }

  #open(): void {
    this.#step = 'opening';
    open(this.#file, 'a', 0o640, (err, fd) => {
      if (err) return this.#failed(err, 0);
      fstat(fd, (statErr, st) => {
        this.#fd = fd;
        this.#size = statErr ? 0 : st.size;
        this.#step = 'idle';
        this.#flush();
      });
    });
  }

  #writeAll(buf: Buffer, from: number, lines: number): void {
    write(this.#fd, buf, from, buf.length - from, null, (err, n) => {
      if (err) {
        this.#midLine = from > 0;
        return this.#failed(err, lines);
      }
      this.#size += n;
      if (from + n < buf.length) return this.#writeAll(buf, from + n, lines);
      this.#midLine = false;
      if (this.#problem !== null) {
        this.#onProblem(`access log: writing to ${this.#file} again (${this.#lost} lines lost while it could not be written)`);
        this.#problem = null;
      }
      this.#step = 'idle';
      if (this.#size >= this.#maxBytes) this.#rotate();
      else this.#flush();
    });
  }

  #failed(err: NodeJS.ErrnoException, lines: number): void {
    this.#lost += lines;
    this.#closeFd();
    if (this.#problem === null) {
      this.#problem = `${formatMessage('TH_ERR_ACCESS_LOG_UNWRITABLE', [this.#file, err.code ?? err.message])} [TH_ERR_ACCESS_LOG_UNWRITABLE]`;
      this.#onProblem(this.#problem);
    }
    if (this.#closed) {
      this.#lost += this.#pending.length;
      this.#pending = [];
      this.#finishClose();
      return;
    }
    this.#step = 'waiting-to-retry';
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#step = 'idle';
      this.#flush();
    }, this.#retryMs);
    this.#retryTimer.unref();
  }

  /** file -> file.1 -> ... -> file.keep, then a new file; lines meanwhile wait in the queue */
  #rotate(): void {
    this.#step = 'rotating';
    this.#closeFd();
    const moves = rotationMoves(this.#file, this.#keep);
    const next = (): void => {
      const move = moves.shift();
      if (!move) {
        this.#step = 'idle';
        this.#flush();
        return;
      }
      // a generation that does not exist yet is simply not moved
      rename(move[0], move[1], () => next());
    };
    next();
  }

  #closeFd(): void {
    if (this.#fd < 0) return;
    close(this.#fd, () => {});
    this.#fd = -1;
  }

  #finishClose(): void {
    this.#step = 'closed';
    this.#closeFd();
    const done = this.#closed;
    this.#closed = null;
    done?.();
  }
}
