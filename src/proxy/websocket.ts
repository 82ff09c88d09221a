// WebSocket (and any HTTP/1.1 Upgrade) through the same routing. Error handlers go on both
// sockets first thing (an unhandled socket error would take the proxy down); a backend that
// answers without 101 has its response relayed and both sides closed; either side closing or
// going idle closes the other, so no half-open pair is left behind.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { BackendPool, CompiledRoute } from './backend-pool.js';
import { downstreamHeaderObject, upstreamRequestHeaders, type ForwardFacts } from './header-policy.js';
import { refuse } from './http1/answers.js';

export interface UpgradeOptions {
  readonly idleTimeoutMs: number;
  readonly responseTimeoutMs: number;
}

function rawResponse(status: number, statusText: string, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusText}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

export class UpgradeForwarder {
  readonly #pool: BackendPool;
  readonly #options: UpgradeOptions;
  #open = 0;

  constructor(pool: BackendPool, options: UpgradeOptions) {
    this.#pool = pool;
    this.#options = options;
  }

  /** upstream websocket sockets now open */
  get openSockets(): number {
    return this.#open;
  }

  forward(req: http.IncomingMessage, client: Duplex, head: Buffer, compiled: CompiledRoute, facts: ForwardFacts, done: (status: number) => void): void {
    // upgrades get their own connection (node:http): it leaves the pool for good once upgraded
    const backend = this.#pool.pick(compiled, Date.now());
    if (!backend) {
      refuse(client, 503);
      done(503);
      return;
    }
    const up = http.request({
      host: backend.backend.host,
      port: backend.backend.port,
      method: req.method,
      path: req.url,
      headers: upstreamRequestHeaders(req.headers, facts, true),
      agent: false,
    });
    const timer = setTimeout(() => {
      up.destroy();
      refuse(client, 504);
      done(504);
    }, this.#options.responseTimeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      up.destroy();
    });

    up.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') this.#pool.markDown(backend, Date.now());
      refuse(client, 502);
      done(502);
    });

    // the backend declined to switch protocols: relay its answer, then close both sides
    up.on('response', (ures) => {
      clearTimeout(timer);
      const { 'content-length': _length, ...headers } = downstreamHeaderObject(ures.headers);
      const chunks: Buffer[] = [];
      ures.on('data', (c: Buffer) => chunks.push(c));
      ures.on('error', () => client.destroy());
      ures.on('end', () => {
        const body = Buffer.concat(chunks);
        const filtered: string[] = [];
        for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) filtered.push(name, v);
        filtered.push('Content-Length', String(body.length), 'Connection', 'close');
        if (client.writable) client.end(Buffer.concat([Buffer.from(rawResponse(ures.statusCode ?? 502, ures.statusMessage ?? '', filtered)), body]));
        client.destroy();
        done(ures.statusCode ?? 502);
      });
    });

    up.on('upgrade', (ures, upstream, upHead) => {
      clearTimeout(timer);
      upstream.on('error', () => client.destroy());
      this.#open++;
      upstream.once('close', () => {
        this.#open--;
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      const headers = ures.rawHeaders.slice();
      client.write(rawResponse(101, ures.statusMessage || 'Switching Protocols', headers));
      if (upHead.length) client.write(upHead);
      if (head.length) upstream.write(head);
      const idle = this.#options.idleTimeoutMs;
      if (idle > 0) {
        const onIdle = (): void => {
          client.destroy();
          upstream.destroy();
        };
        upstream.setTimeout(idle, onIdle);
        (client as { setTimeout?: (ms: number, cb: () => void) => void }).setTimeout?.(idle, onIdle);
      }
      upstream.pipe(client);
      client.pipe(upstream);
      done(101);
    });

    up.end();
  }
}
