// Keep-alive TCP connections to backends for the fast lane, idle ones kept per HOST:PORT. One
// set of listeners per socket for its whole life; each event goes to whichever exchange holds
// the socket now, so reuse costs no listener churn.
import net from 'node:net';

export interface UpstreamUser {
  onUpstreamData(chunk: Buffer): void;
  /** the backend closed its side, or the connection failed: err says which */
  onUpstreamGone(err: NodeJS.ErrnoException | null): void;
  onUpstreamDrain(): void;
}

/** bytes read from a backend at a time, into the connection's own reusable buffer */
const READ_BUFFER_BYTES = 64 * 1024;

export class UpstreamConnection {
  user: UpstreamUser | null = null;
  /** this connection carried a request before (a reset on it may just be the idle-close race) */
  reused = false;
  idleSince = 0;
  readonly socket: net.Socket;
  #gone = false;
  #readBuffer: Buffer | null = null;
  /** the bytes of the last read are still referenced (a write in progress): read into a new buffer */
  #retained = false;

  constructor(
    host: string,
    port: number,
    readonly key: string,
    onGone: (c: UpstreamConnection) => void,
  ) {
    // Reads land in a buffer the connection reuses, not a new allocation per read: the 100 KB
    // relay spent much of its time allocating and collecting read buffers.
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.#nextBuffer(),
        callback: (n: number, buf: Uint8Array) => {
          const chunk = (buf as Buffer).subarray(0, n);
          if (this.user) this.user.onUpstreamData(chunk);
          else socket.destroy(); // bytes from a backend nobody asked: the connection is not trustworthy
          return true;
        },
      },
    });
    this.socket = socket;
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

  /**
   * The user keeps a reference to the chunk it was given beyond the callback (a write that did
   * not complete at once, a head waiting for its end): the next read must go elsewhere.
   */
  retainLastChunk(): void {
    this.#retained = true;
  }

  #nextBuffer(): Buffer {
    if (this.#readBuffer === null || this.#retained) {
      this.#readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      this.#retained = false;
    }
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
