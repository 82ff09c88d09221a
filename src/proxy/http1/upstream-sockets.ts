// Keep-alive TCP connections to backends for the fast lane, idle ones kept per HOST:PORT. One
// set of listeners per socket for its whole life; each event goes to whichever exchange holds
// the socket now, so reuse costs no listener churn.
//
// Reads land in a 64 KB buffer the connection reuses, not a new allocation per read: the 100 KB
// relay spent much of its time allocating and collecting read buffers. The bytes of one read are
// handed out as a ReadChunk, and the connection alone decides when the buffer may be reused: a
// chunk written on with `writeTo` that the destination has not taken in whole by the end of the
// read keeps the buffer, and the next read goes into a new one. Nothing else can hold on to the
// bytes but a `copy()`.
import net from 'node:net';
import type { Writable } from 'node:stream';

export interface UpstreamUser {
  /** the connection is established (a reused one is already) */
  onUpstreamConnect(): void;
  onUpstreamData(chunk: ReadChunk): void;
  /** the backend closed its side, or the connection failed: err says which */
  onUpstreamGone(err: NodeJS.ErrnoException | null): void;
  onUpstreamDrain(): void;
}

/** bytes read from a backend at a time, into the connection's own reusable buffer */
const READ_BUFFER_BYTES = 64 * 1024;

/** the bytes of one read, valid while the read is being handled */
export class ReadChunk {
  readonly #owner: UpstreamConnection;
  readonly #bytes: Buffer;

  constructor(owner: UpstreamConnection, bytes: Buffer) {
    this.#owner = owner;
    this.#bytes = bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** look at the bytes now (to parse them); the Buffer must not be kept past this read */
  peek(): Buffer {
    return this.#bytes;
  }

  /** part of the chunk, with the same ownership */
  slice(start: number, end?: number): ReadChunk {
    return start === 0 && (end === undefined || end === this.#bytes.length) ? this : new ReadChunk(this.#owner, this.#bytes.subarray(start, end));
  }

  /** the bytes in a buffer of their own, to keep */
  copy(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** write the bytes on; the read buffer is kept aside if `dest` still holds them when the read is over */
  writeTo(dest: Writable): void {
    dest.write(this.#bytes);
    this.#owner.wroteTo(dest);
  }
}

export class UpstreamConnection {
  user: UpstreamUser | null = null;
  /** this connection carried a request before (a reset on it may just be the idle-close race) */
  reused = false;
  connected = false;
  idleSince = 0;
  readonly socket: net.Socket;
  #gone = false;
  #readBuffer: Buffer | null = null;
  /** where bytes of the current read were written */
  #dest: Writable | null = null;

  constructor(
    host: string,
    port: number,
    readonly key: string,
    onGone: (c: UpstreamConnection) => void,
  ) {
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.#nextBuffer(),
        callback: (n: number, buf: Uint8Array) => {
          if (!this.user) {
            socket.destroy(); // bytes from a backend nobody asked: the connection is not trustworthy
            return true;
          }
          this.#dest = null;
          this.user.onUpstreamData(new ReadChunk(this, (buf as Buffer).subarray(0, n)));
          // a write that did not complete at once still references the read buffer
          if (this.#dest !== null && (this.#dest as Writable).writableLength > 0) this.#readBuffer = null;
          this.#dest = null;
          return true;
        },
      },
    });
    this.socket = socket;
    socket.once('connect', () => {
      this.connected = true;
      this.user?.onUpstreamConnect();
    });
    socket.on('drain', () => this.user?.onUpstreamDrain());
    const gone = (err: NodeJS.ErrnoException | null): void => {
      if (this.#gone) return;
      this.#gone = true;
      onGone(this);
      const user = this.user;
      this.user = null;
      user?.onUpstreamGone(err);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => gone(err));
    socket.on('end', () => gone(null));
    socket.on('close', () => gone(null));
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** ReadChunk.writeTo: bytes of the current read went to dest */
  wroteTo(dest: Writable): void {
    this.#dest = dest;
  }

  #nextBuffer(): Buffer {
    this.#readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
    return this.#readBuffer;
  }
}

export class UpstreamSockets {
  readonly #idle = new Map<string, UpstreamConnection[]>();
  readonly #keepAliveMs: number;
  #open = 0;

  /** keepAliveMs: an idle connection is closed after this long (below the backends' own idle limit) */
  constructor(keepAliveMs: number) {
    this.#keepAliveMs = keepAliveMs;
  }

  get open(): number {
    return this.#open;
  }

  acquire(host: string, port: number, user: UpstreamUser): UpstreamConnection {
    const key = `${host}:${port}`;
    const idle = this.#idle.get(key);
    let conn = idle?.pop();
    while (conn?.gone) conn = idle?.pop();
    if (!conn) {
      this.#open++;
      conn = new UpstreamConnection(host, port, key, (c) => this.#forget(c));
    } else conn.reused = true;
    conn.user = user;
    return conn;
  }

  /** the exchange is over and the connection is clean: keep it for the next request */
  release(conn: UpstreamConnection, now: number): void {
    conn.user = null;
    if (conn.gone) return;
    if (conn.socket.isPaused()) conn.socket.resume();
    conn.idleSince = now;
    let list = this.#idle.get(conn.key);
    if (!list) {
      list = [];
      this.#idle.set(conn.key, list);
    }
    list.push(conn);
  }

  discard(conn: UpstreamConnection): void {
    conn.user = null;
    conn.socket.destroy();
  }

  #forget(conn: UpstreamConnection): void {
    this.#open--;
    const list = this.#idle.get(conn.key);
    if (!list) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#idle.delete(conn.key);
  }

  /** close connections idle for too long; called from the fast lane's sweep */
  sweep(now: number): void {
    for (const list of [...this.#idle.values()]) {
      for (const conn of [...list]) if (now - conn.idleSince >= this.#keepAliveMs) conn.socket.destroy();
    }
  }

  destroyAll(): void {
    for (const list of [...this.#idle.values()]) for (const conn of [...list]) conn.socket.destroy();
  }
}
