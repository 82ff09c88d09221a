// A tool's side of the registrar: the supervisor, portgrabber and `webservice status` talk to
// the node registrar over the tool's own socket. The client keeps its connection and, if the
// registrar restarts, connects again and registers its ports again (the registrar keeps them
// anyway; this covers a registrar that lost its state).
import type { NotifyEvent } from '../notify/index.js';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolhostError } from '../errors.js';
import type { Admission, QuotaView } from '../limits/index.js';
import { socketPath, type Hello, type Listing, type RegisteredBackend, type Reply } from './protocol.js';

export interface RegistrarClientOptions {
  /** the registrar's socket directory (TOOLHOST_REGISTRAR_DIR) */
  readonly dir: string;
  readonly tool: string;
  /** reconnect after the registrar went away (a supervisor); one-shot commands say no */
  readonly reconnect?: boolean;
  readonly log?: (line: string) => void;
}

interface Pending {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
}

export class RegistrarClient {
  readonly #o: RegistrarClientOptions;
  #socket: net.Socket | null = null;
  #hello: Hello | null = null;
  #n = 0;
  readonly #pending = new Map<number, Pending>();
  /** ports this client registered and has not unregistered: registered again after a reconnect */
  readonly #held = new Map<number, string | null>();
  #closed = false;
  #reconnecting = false;

  constructor(options: RegistrarClientOptions) {
    this.#o = options;
  }

  get path(): string {
    return socketPath(this.#o.dir, this.#o.tool);
  }

  get hello(): Hello {
    if (!this.#hello) throw new Error('registrar client: not connected');
    return this.#hello;
  }

  /** connect, retrying until timeoutMs (a registrar that is starting, a tool created a moment ago) */
  async connect(timeoutMs = 5000): Promise<Hello> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.#connectOnce();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') throw new ToolhostError('TH_ERR_REGISTRAR_DENIED', this.path, this.#o.tool);
        // no registrar directory at all is a setting to fix, not a registrar still starting
        if (Date.now() > deadline || !existsSync(this.#o.dir)) throw new ToolhostError('TH_ERR_REGISTRAR_UNREACHABLE', this.path, code ?? (err as Error).message);
        await sleep(100);
      }
    }
  }

  #connectOnce(): Promise<Hello> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.path);
      let buffered = '';
      let greeted = false;
      socket.setEncoding('utf8');
      socket.once('error', (err) => {
        if (!greeted) reject(err);
      });
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          let msg: { hello?: Hello } & Partial<Reply>;
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            continue;
          }
          if (!greeted && msg.hello) {
            greeted = true;
            this.#hello = msg.hello;
            this.#socket = socket;
            resolve(msg.hello);
            continue;
          }
          const p = typeof msg.n === 'number' ? this.#pending.get(msg.n) : undefined;
          if (p && msg.n !== undefined) {
            this.#pending.delete(msg.n);
            p.resolve(msg as Reply);
          }
        }
      });
      socket.on('close', () => {
        if (!greeted) {
          reject(Object.assign(new Error('the registrar closed the connection'), { code: 'ECONNRESET' }));
          return;
        }
        if (this.#socket === socket) this.#socket = null;
        for (const p of this.#pending.values()) p.reject(new ToolhostError('TH_ERR_REGISTRAR_UNREACHABLE', this.path, 'the connection was lost'));
        this.#pending.clear();
        if (!this.#closed && this.#o.reconnect) void this.#reconnect();
      });
    });
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    let delay = 100;
    while (!this.#closed && !this.#socket) {
      try {
        await this.#connectOnce();
        this.#o.log?.('registrar: connected again; registering this tool\'s ports again');
        for (const [port, description] of this.#held) await this.register(port, description).catch((err: Error) => this.#o.log?.(`registrar: ${err.message}`));
      } catch {
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
    this.#reconnecting = false;
  }

  async #request(body: Record<string, unknown>): Promise<Reply> {
    if (!this.#socket) {
      if (this.#closed) throw new ToolhostError('TH_ERR_REGISTRAR_UNREACHABLE', this.path, 'the client is closed');
      await this.connect();
    }
    const n = ++this.#n;
    const socket = this.#socket as net.Socket;
    const reply = new Promise<Reply>((resolve, reject) => this.#pending.set(n, { resolve, reject }));
    socket.write(`${JSON.stringify({ n, ...body })}\n`);
    const r = await reply;
    if (!r.ok) throw ToolhostError.withMessage(r.code, r.message);
    return r;
  }

  /** route this tool to PORT (a server of the tool must listen on it at hello.address) */
  async register(port: number, description: string | null = null): Promise<RegisteredBackend> {
    const r = await this.#request({ op: 'register', port, description });
    this.#held.set(port, description);
    if (!r.ok || !r.backend) throw new ToolhostError('TH_ERR_REGISTRAR_PROTOCOL', 'no backend in the answer');
    return r.backend;
  }

  async unregister(port: number): Promise<void> {
    this.#held.delete(port);
    await this.#request({ op: 'unregister', port });
  }

  async list(): Promise<Listing> {
    const r = await this.#request({ op: 'list' });
    if (!r.ok || !r.listing) throw new ToolhostError('TH_ERR_REGISTRAR_PROTOCOL', 'no listing in the answer');
    return r.listing;
  }

  /** ask to start a unit with these limits (throws the quota's refusal, TH_ERR_QUOTA_EXCEEDED) */
  async admit(unit: string, memory: number, cpu: number): Promise<Admission> {
    const r = await this.#request({ op: 'admit', unit, memory, cpu });
    if (!r.ok || !r.admission) throw new ToolhostError('TH_ERR_REGISTRAR_PROTOCOL', 'no admission in the answer');
    return r.admission;
  }

  /** move this tool's process pid into the admitted unit (or into the tool's helpers: "toolhost") */
  async place(unit: string, pid: number): Promise<void> {
    await this.#request({ op: 'place', unit, pid });
  }

  async release(unit: string): Promise<void> {
    await this.#request({ op: 'release', unit });
  }

  async quota(): Promise<QuotaView> {
    const r = await this.#request({ op: 'quota' });
    if (!r.ok || !r.quota) throw new ToolhostError('TH_ERR_REGISTRAR_PROTOCOL', 'no quota in the answer');
    return r.quota;
  }

  /** hand a notice to the platform's notifier (throws when refused: a backlog, a bad event) */
  async notify(event: NotifyEvent): Promise<void> {
    await this.#request({ op: 'notify', event });
  }

  close(): void {
    this.#closed = true;
    this.#socket?.end();
    this.#socket = null;
  }
}

/** one conversation with the registrar (status, a test) */
export async function withRegistrar<T>(dir: string, tool: string, fn: (c: RegistrarClient) => Promise<T>, timeoutMs = 2000): Promise<T> {
  const client = new RegistrarClient({ dir, tool });
  await client.connect(timeoutMs);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
