// One client connection in the fast lane, as a state machine whose timers belong to its states:
//
//   awaiting-head ──► exchanging ──► awaiting-head ...      (keep-alive, pipelining in order)
//        │   (head timeout 408,          │
//        │    idle timeout)              └──► draining ──► awaiting-head
//        │                                    (the client is not reading our answers)
//        ├──► closing        (a refused head, Connection: close, the proxy closing)
//        └──► handed-over    (a request for Node's server: HTTP/1.0, chunked, Expect, Upgrade)
//   any ──► closed
//
// Each head is read by request-head.ts and admitted by the proxy's one admission decision; the
// connection then either runs an Exchange with a backend or writes the proxy's own answer.
import { refusalCode } from '../error-pages.js';
import { answerBytes } from '../proxy-answers.js';
import { closingAnswer, endWith } from './answers.js';
import { Exchange } from './exchange.js';
import { IN_FLIGHT_LIMIT, type ExchangeClient, type LaneContext, type SocketLike } from './lane-context.js';
import { isRefusal, parseRequestHead } from './request-head.js';
import type { Proto } from '../admission.js';

type ConnState = 'awaiting-head' | 'exchanging' | 'draining' | 'closing' | 'handed-over' | 'closed';

const NEXT: Readonly<Record<ConnState, readonly ConnState[]>> = {
  'awaiting-head': ['exchanging', 'draining', 'closing', 'handed-over', 'closed'],
  exchanging: ['awaiting-head', 'draining', 'closing', 'closed'],
  draining: ['awaiting-head', 'closing', 'closed'],
  closing: ['closed'],
  'handed-over': [],
  closed: [],
};

const EMPTY = Buffer.alloc(0);

export class ClientConnection implements ExchangeClient {
  readonly #ctx: LaneContext;
  readonly socket: SocketLike;
  readonly proto: Proto;
  readonly #address: string;
  #state: ConnState = 'awaiting-head';
  /** bytes read and not yet used: the next head, or pipelined requests waiting their turn */
  #buffer: Buffer = EMPTY;
  #exchange: Exchange | null = null;
  /** when the state's limit runs out (head, idle or drain timeout); the exchange keeps its own */
  #deadline: number;
  /** what runs out at #deadline while awaiting a head: the head timer (408) or the idle timer */
  #headStarted = false;
  /** the client asked to close, or the proxy is closing: no request after the one in progress */
  #closeAfter = false;
  readonly #onData = (chunk: Buffer): void => this.#data(chunk);
  readonly #onEnd = (): void => this.#end();
  readonly #onDrain = (): void => this.#drained();
  readonly #onClose = (): void => this.#closed();
  readonly #onError = (): void => {
    this.socket.destroy();
  };

  constructor(ctx: LaneContext, socket: SocketLike, proto: Proto) {
    this.#ctx = ctx;
    this.socket = socket;
    this.proto = proto;
    this.#address = socket.remoteAddress ?? '';
    // a new connection has the head timeout to send its first request
    this.#deadline = Date.now() + ctx.options.headersTimeoutMs;
  }

  #to(next: ConnState): void {
    if (!NEXT[this.#state].includes(next)) throw new Error(`fast lane connection: ${this.#state} -> ${next}`);
    this.#state = next;
  }

  /** the lane's listeners, attached at the start and all removed at a hand-over */
  #listeners(): [string, ((chunk: Buffer) => void) | (() => void)][] {
    return [
      ['data', this.#onData],
      ['end', this.#onEnd],
      ['drain', this.#onDrain],
      ['close', this.#onClose],
      ['error', this.#onError],
    ];
  }

  begin(): void {
    for (const [event, listener] of this.#listeners()) this.socket.on(event, listener);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  closeWhenIdle(): void {
    this.#closeAfter = true;
    if (this.#state === 'awaiting-head' || this.#state === 'draining') this.#close(null);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #data(chunk: Buffer): void {
    if (this.#state === 'exchanging') {
      const rest = (this.#exchange as Exchange).requestBody(chunk);
      if (rest === null) return;
      chunk = rest;
    }
    if (chunk.length === 0 || this.#state === 'closing' || this.#state === 'closed' || this.#state === 'handed-over') return;
    if (this.#buffer.length === 0) {
      this.#buffer = chunk;
      if (!this.#headStarted && this.#state === 'awaiting-head') this.#startHead();
    } else this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#state !== 'awaiting-head') {
      // a pipelined request waits its turn; beyond a head's worth, stop reading
      if (this.#buffer.length > this.#ctx.options.maxHeadBytes) this.socket.pause();
      return;
    }
    this.#next();
  }

  #startHead(): void {
    this.#headStarted = true;
    this.#deadline = Date.now() + this.#ctx.options.headersTimeoutMs;
  }

  /** read and act on the heads in the buffer, in order, until one needs to wait */
  #next(): void {
    while (this.#state === 'awaiting-head' && this.#buffer.length > 0 && !this.#closeAfter) {
      const head = parseRequestHead(this.#buffer, this.#ctx.options.maxHeadBytes);
      if (head === 'incomplete') return;
      if (head === 'delegate') {
        this.#handOver();
        return;
      }
      if (isRefusal(head)) {
        this.#ctx.host.refused(refusalCode(head.refuse));
        this.#close(closingAnswer(refusalCode(head.refuse)));
        return;
      }
      this.#buffer = this.#buffer.length === head.size ? EMPTY : this.#buffer.subarray(head.size);
      this.#headStarted = false;
      if (head.close) this.#closeAfter = true;
      const decision = this.#ctx.host.admit(head, this.proto, this.#address);
      if (decision.kind === 'answer') {
        const started = performance.now();
        const answer = this.#ctx.host.render(decision.answer);
        const headOnly = head.method === 'HEAD';
        // a request body the proxy does not forward is not read: the connection ends after the answer
        const close = this.#closeAfter || head.contentLength > 0 || this.#ctx.closing();
        this.socket.write(answerBytes(answer, { headOnly, close, hstsLine: this.#ctx.hstsLine(this.proto) }));
        this.#ctx.host.record({
          method: head.method,
          target: head.rawTarget,
          httpVersion: '1.1',
          referer: head.referer,
          userAgent: head.userAgent,
          tool: decision.tool,
          status: answer.status,
          bytes: headOnly ? 0 : Buffer.byteLength(answer.body),
          durationMs: performance.now() - started,
          error: answer.headers['x-toolhost-error'],
        });
        this.#afterAnswer(close);
        continue;
      }
      const exchange = new Exchange(this.#ctx, this, head, decision);
      this.#to('exchanging');
      this.#exchange = exchange;
      exchange.start();
      if (this.#buffer.length > 0 && this.#exchange === exchange) {
        const pending = this.#buffer;
        this.#buffer = EMPTY;
        const rest = exchange.requestBody(pending);
        if (rest !== null && rest.length > 0) this.#buffer = rest;
      }
    }
  }

  /** an answer (the proxy's own, or a backend's) has been written */
  #afterAnswer(close: boolean): void {
    if (close || this.#closeAfter || this.#ctx.closing()) {
      this.#closeAfter = true;
      this.#close(null);
      return;
    }
    const now = Date.now();
    if (this.socket.writableLength > IN_FLIGHT_LIMIT) {
      // the client does not read what it asked for: read no more requests until it does
      this.#to('draining');
      this.#deadline = now + this.#ctx.options.keepAliveTimeoutMs;
      return;
    }
    if (this.#state !== 'awaiting-head') this.#to('awaiting-head');
    this.#deadline = now + this.#ctx.options.keepAliveTimeoutMs;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buffer.length > 0) this.#startHead();
  }

  #drained(): void {
    if (this.#state === 'exchanging') {
      (this.#exchange as Exchange).onClientDrain();
      return;
    }
    if (this.#state !== 'draining') return;
    this.#to('awaiting-head');
    this.#deadline = Date.now() + this.#ctx.options.keepAliveTimeoutMs;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buffer.length > 0) {
      this.#startHead();
      this.#next();
    }
  }

  #handOver(): void {
    this.#to('handed-over');
    const s = this.socket;
    for (const [event, listener] of this.#listeners()) s.off(event, listener);
    this.#ctx.forget(this);
    s.pause();
    if (this.#buffer.length > 0) s.unshift(this.#buffer);
    this.#buffer = EMPTY;
    this.#ctx.host.delegate(s, this.proto);
    s.resume();
  }

  /** the exchange is over; its response (or error page) has been written */
  exchangeDone(closeClient: boolean): void {
    this.#exchange = null;
    this.#afterAnswer(closeClient);
    if (this.#state === 'awaiting-head') this.#next();
  }

  responseBroken(reset: boolean): void {
    this.#exchange = null;
    this.#closeAfter = true;
    if (reset) this.socket.destroy();
    else this.#close(null);
  }

  /** end the connection after `last` (or what was written), reading and dropping the rest */
  #close(last: string | null): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#to('closing');
    this.#buffer = EMPTY;
    endWith(this.socket, last ?? '');
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  #end(): void {
    // A client that closes its side while waiting has gone away, as Node's server and nginx
    // (its 499) take it: the backend request is dropped, not finished for nobody.
    this.#closeAfter = true;
    if (this.#state === 'exchanging') {
      (this.#exchange as Exchange).onClientGone();
      this.#exchange = null;
      this.socket.destroy();
      return;
    }
    this.#close(null);
  }

  #closed(): void {
    this.#ctx.forget(this);
    this.#exchange?.onClientGone();
    this.#exchange = null;
    if (this.#state !== 'closed' && this.#state !== 'handed-over') this.#to('closed');
  }

  /** the lane's sweep: act on a deadline that has passed */
  checkTimers(now: number): void {
    if (this.#state === 'exchanging') {
      (this.#exchange as Exchange).checkTimers(now);
      return;
    }
    if (now < this.#deadline) return;
    if (this.#state === 'awaiting-head' && this.#headStarted && this.#buffer.length > 0) {
      this.#ctx.host.refused('TH_ERR_PROXY_REQUEST_TIMEOUT');
      this.#close(closingAnswer('TH_ERR_PROXY_REQUEST_TIMEOUT'));
    } else if (this.#state === 'awaiting-head' || this.#state === 'draining') {
      this.socket.destroy();
    }
  }
}
