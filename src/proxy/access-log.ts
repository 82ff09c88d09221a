// The proxy's own access log: combined format, one line per request, with the tool, the
// upstream time and no client address ("-" where combined has one). One buffered stream,
// rotated by size (file -> file.1 -> ... -> file.N), reopened on SIGHUP for logrotate.
import { createWriteStream, renameSync, statSync, type WriteStream } from 'node:fs';

export interface AccessLogOptions {
  readonly file: string;
  readonly maxBytes?: number;
  readonly keep?: number;
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
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

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
  return `- - - [${clfDate(r.time)}] ${quoted(`${r.method} ${r.url} HTTP/${r.httpVersion}`)} ${r.status} ${r.bytes} ${quoted(r.referer)} ${quoted(r.userAgent)} tool=${r.tool || '-'} ms=${r.durationMs.toFixed(1)}\n`;
}

export class AccessLog {
  readonly #file: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #stream: WriteStream;
  #size: number;

  constructor(options: AccessLogOptions) {
    this.#file = options.file;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#keep = options.keep ?? 5;
    this.#stream = this.#open();
    this.#size = this.#currentSize();
  }

  #open(): WriteStream {
    const s = createWriteStream(this.#file, { flags: 'a' });
    s.on('error', () => {
      // a full disk must not take the proxy down; lines are lost until the next rotation
    });
    return s;
  }

  #currentSize(): number {
    try {
      return statSync(this.#file).size;
    } catch {
      return 0;
    }
  }

  write(record: AccessRecord): void {
    const line = formatAccessLine(record);
    this.#size += Buffer.byteLength(line);
    this.#stream.write(line);
    if (this.#size >= this.#maxBytes) this.rotate();
  }

  /** file -> file.1 -> ... -> file.keep, then a new file */
  rotate(): void {
    const old = this.#stream;
    old.end();
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.#file}.${i}`, `${this.#file}.${i + 1}`);
      } catch {
        // no such generation yet
      }
    }
    try {
      renameSync(this.#file, `${this.#file}.1`);
    } catch {
      // nothing written yet
    }
    this.#stream = this.#open();
    this.#size = 0;
  }

  /** after an external rotation (logrotate + SIGHUP): continue in a new file of the same name */
  reopen(): void {
    this.#stream.end();
    this.#stream = this.#open();
    this.#size = this.#currentSize();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(resolve));
  }
}
