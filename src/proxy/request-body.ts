// Request bodies held by the proxy until they are complete, before a backend is chosen and
// connected, as nginx does (`proxy_request_buffering on`, its default): a client that sends its
// body slowly then holds a proxy connection, never one of the tool's workers. The first 64 KB
// stay in memory, the rest goes to a temp file that is unlinked as soon as it is open (nothing is
// left behind by a crash). Bodies larger than the per-request limit, or arriving while every
// buffered body together is at the total limit, are streamed instead.
import { close, open, read, unlink, write } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';

export interface BodyBufferOptions {
  /** bodies up to this size are buffered; larger ones stream (0: never buffer) */
  readonly maxBytes: number;
  /** all buffered bodies together (memory and temp files) */
  readonly totalBytes: number;
  /** where temp files are made */
  readonly tempDir: string;
}

/** held in memory per body; beyond it, a temp file (nginx's client_body_buffer_size is 8-16 KB) */
const MEMORY_BYTES = 64 * 1024;
/** temp-file writes queued before the client is asked to pause */
const PENDING_WRITE_BYTES = 1024 * 1024;
const READ_BYTES = 64 * 1024;

let counter = 0;

export class BodyBuffers {
  readonly #o: BodyBufferOptions;
  #reserved = 0;

  constructor(options: BodyBufferOptions) {
    this.#o = options;
  }

  /** the largest body that is buffered */
  get maxBytes(): number {
    return this.#o.maxBytes;
  }

  /** bytes held by buffered bodies now (memory and files) */
  get held(): number {
    return this.#reserved;
  }

  /**
   * A buffer for a body of `length` bytes (-1: not known yet), or null when it should stream:
   * too large, or no room left in the total.
   */
  create(length: number): BufferedBody | null {
    if (length > this.#o.maxBytes) return null;
    // a known length is reserved whole now, so such a body never runs out of room half-way
    if (length >= 0 && !this.reserve(length)) return null;
    if (length < 0 && this.#reserved + MEMORY_BYTES > this.#o.totalBytes) return null;
    return new BufferedBody(this, this.#o.tempDir, Math.max(0, length));
  }

  /** false: the total is reached (the caller streams the rest) */
  reserve(bytes: number): boolean {
    if (this.#reserved + bytes > this.#o.totalBytes) return false;
    this.#reserved += bytes;
    return true;
  }

  unreserve(bytes: number): void {
    this.#reserved -= bytes;
  }
}

type BodyState = 'receiving' | 'complete' | 'failed' | 'released';

export class BufferedBody {
  readonly #owner: BodyBuffers;
  readonly #tempDir: string;
  #state: BodyState = 'receiving';
  readonly #memory: Buffer[] = [];
  #memoryBytes = 0;
  #size = 0;
  #fd = -1;
  #opening = false;
  /** chunks waiting for the temp file, in order */
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #writing = false;
  #fileBytes = 0;
  #error: NodeJS.ErrnoException | null = null;
  #full = false;
  #onSettled: ((err: NodeJS.ErrnoException | null) => void) | null = null;
  #onDrain: (() => void) | null = null;
  /** file operations in flight: the descriptor is closed only when none is (a closed number can be reused at once) */
  #io = 0;

  /** bytes reserved when the body was created (its known length) */
  readonly #prereserved: number;

  constructor(owner: BodyBuffers, tempDir: string, prereserved: number) {
    this.#owner = owner;
    this.#tempDir = tempDir;
    this.#prereserved = prereserved;
  }

  get size(): number {
    return this.#size;
  }

  /** the whole body is in memory (no temp file) */
  get inMemory(): boolean {
    return this.#fd < 0 && !this.#opening;
  }

  /**
   * Add the next bytes (the caller hands them over: they are not copied). Returns false when
   * the temp file is behind: pause the client until onDrain. Returns false too when the total
   * of all buffered bodies is reached; `full` then says so and the caller streams instead.
   */
  append(chunk: Buffer): boolean {
    if (this.#state !== 'receiving') throw new Error(`append in state ${this.#state}`);
    if (this.#size + chunk.length > this.#prereserved && !this.#owner.reserve(this.#size + chunk.length - Math.max(this.#size, this.#prereserved))) {
      this.#full = true;
      return false;
    }
    this.#size += chunk.length;
    if (this.#fd < 0 && !this.#opening && this.#memoryBytes + chunk.length <= MEMORY_BYTES) {
      this.#memory.push(chunk);
      this.#memoryBytes += chunk.length;
      return true;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.#pump();
    return this.#queued < PENDING_WRITE_BYTES;
  }

  /** the total buffering room ran out: stream this body instead */
  get full(): boolean {
    return this.#full;
  }

  /** called once after append returned false for a slow temp file, when it has caught up */
  onDrain(fn: () => void): void {
    this.#onDrain = fn;
  }

  /** the body is all appended: `done` once it is all held (or the temp file failed) */
  finish(done: (err: NodeJS.ErrnoException | null) => void): void {
    if (this.#state !== 'receiving') throw new Error(`finish in state ${this.#state}`);
    this.#state = 'complete';
    this.#onSettled = done;
    this.#settle();
  }

  #settle(): void {
    if (this.#error && this.#state === 'complete') {
      this.#state = 'failed';
      const done = this.#onSettled;
      this.#onSettled = null;
      done?.(this.#error);
      return;
    }
    if (this.#state === 'complete' && this.#queue.length === 0 && !this.#writing && !this.#opening && this.#onSettled) {
      const done = this.#onSettled;
      this.#onSettled = null;
      done(null);
    }
  }

  #pump(): void {
    if (this.#writing || this.#error || this.#state === 'released') return;
    if (this.#fd < 0) {
      if (this.#opening) return;
      this.#opening = true;
      const file = path.join(this.#tempDir, `toolhost-body-${process.pid}-${++counter}`);
      open(file, 'wx+', 0o600, (err, fd) => {
        this.#opening = false;
        if (err) return this.#fail(err);
        // unlinked at once: the descriptor is all that is needed, and a crash leaves nothing
        unlink(file, () => {});
        if (this.#state === 'released') {
          close(fd, () => {});
          return;
        }
        this.#fd = fd;
        this.#pump();
      });
      return;
    }
    if (this.#queue.length === 0) {
      this.#settle();
      return;
    }
    const batch = this.#queue.length === 1 ? (this.#queue[0] as Buffer) : Buffer.concat(this.#queue);
    this.#queue.length = 0;
    this.#writing = true;
    this.#writeAll(batch, 0);
  }

  #writeAll(batch: Buffer, from: number): void {
    this.#io++;
    write(this.#fd, batch, from, batch.length - from, this.#fileBytes, (err, n) => {
      this.#io--;
      if (this.#state === 'released') return this.#closeFile();
      if (err) {
        this.#writing = false;
        return this.#fail(err);
      }
      this.#fileBytes += n;
      if (from + n < batch.length) return this.#writeAll(batch, from + n);
      this.#writing = false;
      const wasBehind = this.#queued >= PENDING_WRITE_BYTES;
      this.#queued -= batch.length;
      if (wasBehind && this.#queued < PENDING_WRITE_BYTES) {
        const drain = this.#onDrain;
        this.#onDrain = null;
        drain?.();
      }
      this.#pump();
    });
  }

  #fail(err: NodeJS.ErrnoException): void {
    this.#error ??= err;
    const drain = this.#onDrain;
    this.#onDrain = null;
    drain?.();
    this.#settle();
  }

  /** the body, from its first byte (it can be read again, for a retry) */
  async *chunks(): AsyncGenerator<Buffer> {
    for (const c of this.#memory) yield c;
    let at = 0;
    while (at < this.#fileBytes && !this.#released()) {
      const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, this.#fileBytes - at));
      this.#io++;
      const n = await new Promise<number>((resolve, reject) =>
        read(this.#fd, buf, 0, buf.length, at, (err, got) => {
          this.#io--;
          if (this.#state === 'released') this.#closeFile();
          if (err) reject(err);
          else resolve(got);
        }),
      );
      if (n === 0 || this.#released()) return;
      at += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }

  /** write the whole body to `dest` with its backpressure; done(null) when all is written */
  writeTo(dest: Writable, done: (err: Error | null) => void): void {
    if (this.inMemory) {
      for (const c of this.#memory) dest.write(c);
      done(null);
      return;
    }
    const it = this.chunks();
    const step = (): void => {
      it.next().then(
        (r) => {
          if (r.done) return done(null);
          if (dest.destroyed) return done(new Error('destination closed'));
          if (dest.write(r.value)) step();
          else dest.once('drain', step);
        },
        (err: Error) => done(err),
      );
    };
    step();
  }

  /** give back the memory and the temp file */
  release(): void {
    if (this.#state === 'released') return;
    this.#state = 'released';
    this.#owner.unreserve(Math.max(this.#size, this.#prereserved));
    this.#memory.length = 0;
    this.#queue.length = 0;
    this.#onDrain = null;
    this.#onSettled = null;
    this.#closeFile();
  }

  #released(): boolean {
    return this.#state === 'released';
  }

  #closeFile(): void {
    if (this.#fd < 0 || this.#io > 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    close(fd, () => {});
  }
}
