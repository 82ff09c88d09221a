// The proxy's own error pages: loaded at start and rendered from memory (never a disk read per
// error). A tool's own responses, error pages included, always pass through untouched.
import type { ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { ToolEntry } from '../routes/index.js';
import { escapeHtml, PageTemplate } from './html.js';

/** what the proxy answers a visitor with: a TH_ERR_* code of src/errors.ts, which carries the status */
export type ProxyErrorCode = Extract<
  ErrorCode,
  | 'TH_ERR_PROXY_TOOL_UNKNOWN'
  | 'TH_ERR_PROXY_TOOL_DOWN'
  | 'TH_ERR_PROXY_BACKEND_FAILED'
  | 'TH_ERR_PROXY_BACKEND_TIMEOUT'
  | 'TH_ERR_PROXY_BAD_REQUEST'
  | 'TH_ERR_PROXY_INTERNAL'
  | 'TH_ERR_PROXY_RATE_LIMITED'
  | 'TH_ERR_PROXY_BODY_TOO_LARGE'
  | 'TH_ERR_PROXY_NO_USER_AGENT'
  | 'TH_ERR_PROXY_METHOD_NOT_ALLOWED'
  | 'TH_ERR_PROXY_REQUEST_TIMEOUT'
  | 'TH_ERR_PROXY_HEADERS_TOO_LARGE'
>;

/** the code of a head refused (or timed out) before it could be read as a request */
export function refusalCode(status: 400 | 408 | 431): ProxyErrorCode {
  return status === 408 ? 'TH_ERR_PROXY_REQUEST_TIMEOUT' : status === 431 ? 'TH_ERR_PROXY_HEADERS_TOO_LARGE' : 'TH_ERR_PROXY_BAD_REQUEST';
}

/** the HTTP status of a proxy answer: the one its code has in src/errors.ts */
export function proxyStatus(code: ProxyErrorCode): number {
  return ERRORS[code].status;
}

/** the visitor's words for a code (the operator's are its message in src/errors.ts) */
interface ErrorText {
  readonly title: string;
  /** tool and maintainers ('' when none are known) come escaped */
  readonly message: (tool: string, maintainers: string) => string;
  readonly advice: (tool: string) => string;
}

/** what the "exists but not running" answer says, in every form */
const NOT_RUNNING = 'this tool exists but its webservice is not running';

const TEXTS: Readonly<Record<ProxyErrorCode, ErrorText>> = {
  TH_ERR_PROXY_TOOL_UNKNOWN: {
    title: 'No such tool',
    message: (tool) => (tool ? `There is no tool named <b>${tool}</b> here.` : 'This address does not name a tool.'),
    advice: () => 'Check the address, or see the list of all tools on the home page.',
  },
  TH_ERR_PROXY_TOOL_DOWN: {
    title: 'Webservice not running',
    message: (tool, maintainers) => `The tool <b>${tool}</b> exists, but its webservice is not running.${maintainers ? ` It is maintained by ${maintainers}.` : ''}`,
    advice: (tool) =>
      `Maintainers of <b>${tool}</b> can start it: <code>become ${tool}</code>, then <code>webservice start</code>; ` +
      '<code>webservice status</code> and <code>webservice logs</code> say why it stopped.',
  },
  TH_ERR_PROXY_BACKEND_FAILED: {
    title: 'Webservice not answering',
    message: (tool) => `The webservice of <b>${tool}</b> refused or dropped the connection.`,
    advice: (tool) => `It may be restarting; try again in a moment. Maintainers of <b>${tool}</b>: see <code>webservice status</code> and <code>~/error.log</code>.`,
  },
  TH_ERR_PROXY_BACKEND_TIMEOUT: {
    title: 'Webservice too slow',
    message: (tool) => `The webservice of <b>${tool}</b> did not answer in time.`,
    advice: (tool) => `Try again later. Maintainers of <b>${tool}</b>: look for slow requests in <code>~/error.log</code>.`,
  },
  TH_ERR_PROXY_BAD_REQUEST: {
    title: 'Bad request',
    message: () => 'The request could not be understood.',
    advice: () => 'Check the address.',
  },
  TH_ERR_PROXY_RATE_LIMITED: {
    title: 'Too many requests',
    message: () => 'You are trying to access this service too fast.',
    advice: () => 'Slow down and try again in a few seconds. Bots: keep to a few requests per second and identify yourself in User-Agent.',
  },
  TH_ERR_PROXY_BODY_TOO_LARGE: {
    title: 'Request too large',
    message: () => 'The request body is larger than this platform accepts.',
    advice: () => 'Send less data in one request.',
  },
  TH_ERR_PROXY_NO_USER_AGENT: {
    title: 'User agent required',
    message: () => 'Requests must have a user agent.',
    advice: () => 'Set a User-Agent header that says who you are and how to reach you.',
  },
  TH_ERR_PROXY_METHOD_NOT_ALLOWED: {
    title: 'Method not allowed',
    message: () => 'TRACE requests are not passed on to tools.',
    advice: () => 'Use another method.',
  },
  TH_ERR_PROXY_REQUEST_TIMEOUT: {
    title: 'Request timeout',
    message: () => 'The request was not sent in time.',
    advice: () => 'Try again.',
  },
  TH_ERR_PROXY_HEADERS_TOO_LARGE: {
    title: 'Request headers too large',
    message: () => 'The request headers are larger than this platform accepts.',
    advice: () => 'Send fewer or shorter headers (cookies are the usual cause).',
  },
  TH_ERR_PROXY_INTERNAL: {
    title: 'Proxy error',
    message: () => 'The front proxy failed to handle this request.',
    advice: () => 'This is not the tool\'s fault; please report it to the platform administrators.',
  },
};

export class ErrorPages {
  readonly #template: PageTemplate;
  readonly #proxyName: string;
  readonly #entry: (tool: string) => ToolEntry | undefined;

  /** entry: the tool directory's entry of a tool (its maintainers), for the "not running" page */
  constructor(template: PageTemplate, proxyName = '', entry: (tool: string) => ToolEntry | undefined = () => undefined) {
    this.#template = template;
    this.#proxyName = proxyName ? ` ${escapeHtml(proxyName)}` : '';
    this.#entry = entry;
  }

  status(code: ProxyErrorCode): number {
    return proxyStatus(code);
  }

  render(code: ProxyErrorCode, tool: string): string {
    const t = TEXTS[code];
    const safe = escapeHtml(tool);
    const maintainers = code === 'TH_ERR_PROXY_TOOL_DOWN' ? (this.#entry(tool)?.maintainers.map((m) => `<b>${escapeHtml(m)}</b>`).join(', ') ?? '') : '';
    return this.#template.fill({
      status: String(proxyStatus(code)),
      code,
      title: t.title,
      message: t.message(safe, maintainers),
      advice: t.advice(safe),
      proxyName: this.#proxyName,
    });
  }

  /** the "exists but not running" answer for a client that asked for JSON */
  notRunningJson(tool: string): string {
    const entry = this.#entry(tool);
    return `${JSON.stringify({
      tool,
      up: false,
      status: proxyStatus('TH_ERR_PROXY_TOOL_DOWN'),
      error: 'TH_ERR_PROXY_TOOL_DOWN',
      message: NOT_RUNNING,
      maintainers: entry?.maintainers ?? [],
      maintainersCan: [`become ${tool}`, 'webservice start', 'webservice status', 'webservice logs'],
    })}\n`;
  }

  /** the headers of an error page, in every lane: X-Toolhost-Error names its code */
  headers(code: ProxyErrorCode, body: string): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-toolhost-error': code,
    };
    // RFC 9110 15.5.6: a 405 says which methods are allowed; 15.5.29: a 429 may say when to retry
    if (code === 'TH_ERR_PROXY_METHOD_NOT_ALLOWED') headers.allow = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';
    if (code === 'TH_ERR_PROXY_RATE_LIMITED') headers['retry-after'] = '1';
    return headers;
  }

  send(res: ServerResponse, code: ProxyErrorCode, tool: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = this.render(code, tool);
    res.writeHead(proxyStatus(code), this.headers(code, body));
    res.end(body);
  }
}
