// The output of a tool's server or job, on its way to a capped log file: a FIFO in the tool's
// runtime directory, read by the process that supervises them (running as the tool) and written
// to a CappedLog. The server cannot reopen its standard output after a rotation; with the pipe in
// between it never has to: toolhost rotates the file between two of its own writes, and no line
// is lost or cut.
//
// Each child gets the FIFO opened for reading and writing (open()), an open file description of
// its own: while the child lives the pipe has a reader, so its writes never fail with EPIPE. When
// the supervisor is killed outright, the server keeps running (it is replaced by the next
// supervisor), and what it writes waits in the pipe (64 KiB; a writer blocks beyond) until that
// supervisor opens the same FIFO and reads it: nothing is killed by SIGPIPE, and nothing is lost
// but what the killed supervisor had read and not yet written (at most 128 KiB).
import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CappedLog } from './capped-log.js';

/**
 * Beyond this much read and not yet written, the pipe is not read: the writers wait, nothing is
 * dropped, and what is not read yet stays in the kernel's pipe, where a supervisor killed outright
 * cannot lose it (only what it had read and not yet written: at most this, plus one read).
 */
const HIGH_WATER_BYTES = 64 * 1024;
/** how long close() waits for what is in the pipe */
const DRAIN_MS = 5000;

/** the FIFO at this path, made if there is none (something else there is replaced) */
function makeFifo(fifo: string): void {
  try {
    if (lstatSync(fifo).isFIFO()) return;
    rmSync(fifo, { force: true });
  } catch {
    // nothing there
  }
  const r = spawnSync('mkfifo', ['-m', '0600', fifo], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot make the pipe ${fifo}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
}

export class LogPipe {
  readonly fifo: string;
  readonly #log: CappedLog;
  readonly #socket: net.Socket;
  /** while draining: the marker written after everything to be drained, and what may hold its start */
  #marker: Buffer | null = null;
  #carry: Buffer = Buffer.alloc(0);
  #markerSeen: (() => void) | null = null;
  #draining: Promise<boolean> | null = null;
  #closed = false;

  private constructor(fifo: string, log: CappedLog, socket: net.Socket) {
    this.fifo = fifo;
    this.#log = log;
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    // a read error ends reading; the writers then block on a full pipe, visible in the log's stop
    socket.on('error', () => {});
  }

  /** read the FIFO at this path (made when missing: a new one, or the one a killed supervisor left) into log */
  static open(fifo: string, log: CappedLog): LogPipe {
    makeFifo(fifo);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NOFOLLOW);
    return new LogPipe(fifo, log, new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true }));
  }

  /** a descriptor of the pipe for a child's stdout/stderr; the caller closes it once the child is spawned */
  open(): number {
    return openSync(this.fifo, constants.O_RDWR | constants.O_NOFOLLOW);
  }

  #data(chunk: Buffer): void {
    let data = chunk;
    if (this.#marker) {
      const joined = this.#carry.length ? Buffer.concat([this.#carry, chunk]) : chunk;
      const at = joined.indexOf(this.#marker);
      if (at >= 0) {
        data = Buffer.concat([joined.subarray(0, at), joined.subarray(at + this.#marker.length)]);
        this.#carry = Buffer.alloc(0);
        this.#marker = null;
        const seen = this.#markerSeen;
        this.#markerSeen = null;
        this.#log.write(data);
        seen?.();
        return;
      }
      // the marker's first bytes may end this chunk
      const keep = Math.min(joined.length, this.#marker.length - 1);
      this.#carry = Buffer.from(joined.subarray(joined.length - keep));
      data = joined.subarray(0, joined.length - keep);
    }
    this.#log.write(data);
    if (this.#log.pendingBytes > HIGH_WATER_BYTES && !this.#socket.isPaused()) {
      this.#socket.pause();
      void this.#log.written().then(() => {
        if (!this.#closed) this.#socket.resume();
      });
    }
  }

  /**
   * Everything written to the pipe so far is read and in the log: a marker goes in behind it and
   * is read out again (the pipe keeps order). False when that took longer than timeoutMs.
   */
  drain(timeoutMs = DRAIN_MS): Promise<boolean> {
    if (this.#closed) return Promise.resolve(true);
    this.#draining ??= this.#drain(timeoutMs).finally(() => (this.#draining = null));
    return this.#draining;
  }

  async #drain(timeoutMs: number): Promise<boolean> {
    const marker = Buffer.from(`\0toolhost-drain-${randomBytes(8).toString('hex')}\0`);
    const deadline = Date.now() + timeoutMs;
    const fd = openSync(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    let seen: Promise<void>;
    try {
      for (;;) {
        try {
          // at most PIPE_BUF bytes: written whole or not at all
          writeSync(fd, marker);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) return false;
          this.#socket.resume();
          await sleep(10);
        }
      }
      // no data event runs between the write and these lines
      this.#marker = marker;
      seen = new Promise<void>((resolve) => (this.#markerSeen = resolve));
    } finally {
      closeSync(fd);
    }
    this.#socket.resume();
    const timer = sleep(Math.max(0, deadline - Date.now())).then(() => false);
    const ok = await Promise.race([seen.then(() => true), timer]);
    if (!ok) {
      // give up on the marker; what was held back for it is output like the rest
      this.#marker = null;
      this.#markerSeen = null;
      this.#log.write(this.#carry);
      this.#carry = Buffer.alloc(0);
    }
    await this.#log.flush();
    return ok;
  }

  /** read what is left, stop reading, remove the FIFO (writers still holding it keep an anonymous pipe) */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.drain();
    this.#closed = true;
    this.#socket.destroy();
    rmSync(this.fifo, { force: true });
  }
}
