// What the proxy answers itself (an admission answer: the health check, the home page, a
// redirect, an error page), rendered once into status, headers and body for every path to write:
// the fast lane and refused upgrades as raw bytes (answerBytes), Node's server through its
// ServerResponse. So a request gets the same answer whichever path it took.
import type { Answer } from './admission.js';
import type { ErrorPages } from './error-pages.js';
import type { HomePage } from './home-page.js';
import { statusLine } from './http1/answers.js';
import { dateLine } from './http1/http-date.js';

export interface RenderedAnswer {
  readonly status: number;
  /** lower-case names */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface HealthSource {
  /** what keeps the proxy from doing all its work, one line each (empty: all is well) */
  problems(): readonly string[];
}

const NO_CACHE = 'no-cache';

export class ProxyAnswers {
  readonly #pages: ErrorPages;
  readonly #home: HomePage;
  readonly #health: HealthSource;

  constructor(pages: ErrorPages, home: HomePage, health: HealthSource) {
    this.#pages = pages;
    this.#home = home;
    this.#health = health;
  }

  render(answer: Answer): RenderedAnswer {
    switch (answer.kind) {
      case 'health': {
        // 200 while the proxy serves: a load balancer must not take it out for a full log disk
        const problems = this.#health.problems();
        return text(200, 'text/plain; charset=utf-8', problems.length === 0 ? 'ok\n' : `degraded\n${problems.join('\n')}\n`);
      }
      case 'home':
        return answer.json ? text(200, 'application/json', this.#home.json()) : text(200, 'text/html; charset=utf-8', this.#home.html());
      case 'redirect':
        return { status: 301, headers: { location: answer.location, 'content-length': '0' }, body: '' };
      case 'error': {
        if (answer.json === true && answer.error === 'TH_ERR_PROXY_TOOL_DOWN') {
          const json = this.#pages.notRunningJson(answer.tool);
          return { status: this.#pages.status(answer.error), headers: { ...this.#pages.headers(answer.error, json), 'content-type': 'application/json' }, body: json };
        }
        const body = this.#pages.render(answer.error, answer.tool);
        return { status: this.#pages.status(answer.error), headers: this.#pages.headers(answer.error, body), body };
      }
    }
  }
}

function text(status: number, type: string, body: string): RenderedAnswer {
  return { status, headers: { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': NO_CACHE }, body };
}

export interface RawAnswerOptions {
  /** the request was HEAD: headers only */
  readonly headOnly: boolean;
  /** the connection closes after this answer */
  readonly close: boolean;
  /** `strict-transport-security: ...\r\n` on HTTPS, else '' */
  readonly hstsLine: string;
}

/** the answer as bytes on a raw connection (with Date, as Node's server adds it on its lane) */
export function answerBytes(a: RenderedAnswer, o: RawAnswerOptions): Buffer {
  let head = `${statusLine(a.status)}\r\n${dateLine()}`;
  for (const name in a.headers) head += `${name}: ${a.headers[name] as string}\r\n`;
  head += `${o.hstsLine}${o.close ? 'connection: close\r\n' : ''}\r\n`;
  return Buffer.from(o.headOnly || a.body === '' ? head : head + a.body, 'utf8');
}
