// WebSocket (and any HTTP/1.1 Upgrade), after the same admission as every request. Error
// handlers go on both sockets first thing (an unhandled socket error would take the proxy down);
// a backend that answers without 101 has its response relayed (its body capped) and both sides
// closed; either side closing or going idle closes the other, so no half-open pair is left.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { BackendPool, CompiledRoute } from './backend-pool.js';
import { downstreamHeaderObject, upstreamRequestHeaders, type ForwardFacts } from './header-policy.js';
import { endWith, refuse } from './http1/answers.js';
import { proxyStatus } from './error-pages.js';
import { classifyUpstreamError, failureOutcome } from './upstream-failure.js';

export interface UpgradeOptions {
  readonly idleTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** the largest refusal (a non-101 answer) relayed; a bigger one is cut and answered 502 */
export const MAX_REFUSAL_BYTES = 64 * 1024;

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

  /** done: the status the client got, and the bytes of a relayed refusal's body */
  forward(req: http.IncomingMessage, client: Duplex, head: Buffer, path: string, compiled: CompiledRoute, facts: ForwardFacts, done: (status: number, bytes: number) => void): void {
    // upgrades get their own connection (node:http): it leaves the pool for good once upgraded
    const backend = this.#pool.pick(compiled, Date.now());
    if (!backend) {
      refuse(client, 'TH_ERR_PROXY_TOOL_DOWN');
      done(proxyStatus('TH_ERR_PROXY_TOOL_DOWN'), 0);
      return;
    }
    let settled = false;
    const settle = (status: number, bytes = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(status, bytes);
    };
    const up = http.request({
      host: backend.backend.host,
      port: backend.backend.port,
      method: req.method,
      path,
      headers: upstreamRequestHeaders(req.headers, facts, true),
      agent: false,
    });
    // a silent backend: its connect timeout (then skipped for a while, as on the other paths)
    up.once('socket', (s) => {
      const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'TH_CONNECT_TIMEOUT' })), this.#options.connectTimeoutMs);
      s.once('connect', () => clearTimeout(connectTimer));
      s.once('close', () => clearTimeout(connectTimer));
    });
    const timer = setTimeout(() => up.destroy(Object.assign(new Error('response timeout'), { code: 'TH_RESPONSE_TIMEOUT' })), this.#options.responseTimeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      up.destroy();
      settle(499);
    });

    up.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      const outcome = failureOutcome(classifyUpstreamError(err.code), { idempotent: false, replayable: false });
      if (outcome.markDown) this.#pool.markDown(backend, Date.now());
      const status = proxyStatus(outcome.answer);
      refuse(client, outcome.answer);
      settle(status);
    });

    // the backend declined to switch protocols: relay its answer, then close both sides
    up.on('response', (ures) => {
      clearTimeout(timer);
      const { 'content-length': _length, ...headers } = downstreamHeaderObject(ures.headers);
      const chunks: Buffer[] = [];
      let size = 0;
      ures.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REFUSAL_BYTES) {
          up.destroy();
          refuse(client, 'TH_ERR_PROXY_BACKEND_FAILED');
          settle(proxyStatus('TH_ERR_PROXY_BACKEND_FAILED'));
          return;
        }
        chunks.push(c);
      });
      ures.on('error', () => client.destroy());
      ures.on('end', () => {
        if (settled) return;
        const body = Buffer.concat(chunks);
        const filtered: string[] = [];
        for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) filtered.push(name, v);
        filtered.push('Content-Length', String(body.length), 'Connection', 'close');
        const status = ures.statusCode ?? 502;
        endWith(client, Buffer.concat([Buffer.from(rawResponse(status, ures.statusMessage ?? '', filtered)), body]));
        settle(status, body.length);
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
      } else upstream.setTimeout(0);
      upstream.pipe(client);
      client.pipe(upstream);
      settle(101);
    });

    up.end();
  }
}
