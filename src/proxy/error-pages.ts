// The proxy's own error pages: loaded at start and rendered from memory (never a disk read per
// error). A tool's own responses, error pages included, always pass through untouched.
import type { ServerResponse } from 'node:http';
import type { ToolEntry } from '../routes/index.js';
import { escapeHtml, PageTemplate } from './html.js';

export type ProxyErrorKind =
  | 'unknown-tool'
  | 'no-backend'
  | 'bad-gateway'
  | 'gateway-timeout'
  | 'bad-request'
  | 'internal'
  | 'too-many-requests'
  | 'payload-too-large'
  | 'no-user-agent'
  | 'method-not-allowed';

interface ErrorText {
  readonly status: number;
  readonly title: string;
  /** tool and maintainers ('' when none are known) come escaped */
  readonly message: (tool: string, maintainers: string) => string;
  readonly advice: (tool: string) => string;
}

/** what the "exists but not running" answer says, in every form */
const NOT_RUNNING = 'this tool exists but its webservice is not running';

const TEXTS: Readonly<Record<ProxyErrorKind, ErrorText>> = {
  'unknown-tool': {
    status: 404,
    title: 'No such tool',
    message: (tool) => (tool ? `There is no tool named <b>${tool}</b> here.` : 'This address does not name a tool.'),
    advice: () => 'Check the address, or see the list of all tools on the home page.',
  },
  'no-backend': {
    status: 503,
    title: 'Webservice not running',
    message: (tool, maintainers) => `The tool <b>${tool}</b> exists, but its webservice is not running.${maintainers ? ` It is maintained by ${maintainers}.` : ''}`,
    advice: (tool) =>
      `Maintainers of <b>${tool}</b> can start it: <code>become ${tool}</code>, then <code>webservice start</code>; ` +
      '<code>webservice status</code> and <code>webservice logs</code> say why it stopped.',
  },
  'bad-gateway': {
    status: 502,
    title: 'Webservice not answering',
    message: (tool) => `The webservice of <b>${tool}</b> refused or dropped the connection.`,
    advice: (tool) => `It may be restarting; try again in a moment. Maintainers of <b>${tool}</b>: see <code>webservice status</code> and <code>~/error.log</code>.`,
  },
  'gateway-timeout': {
    status: 504,
    title: 'Webservice too slow',
    message: (tool) => `The webservice of <b>${tool}</b> did not answer in time.`,
    advice: (tool) => `Try again later. Maintainers of <b>${tool}</b>: look for slow requests in <code>~/error.log</code>.`,
  },
  'bad-request': {
    status: 400,
    title: 'Bad request',
    message: () => 'The request could not be understood.',
    advice: () => 'Check the address.',
  },
  'too-many-requests': {
    status: 429,
    title: 'Too many requests',
    message: () => 'You are trying to access this service too fast.',
    advice: () => 'Slow down and try again in a few seconds. Bots: keep to a few requests per second and identify yourself in User-Agent.',
  },
  'payload-too-large': {
    status: 413,
    title: 'Request too large',
    message: () => 'The request body is larger than this platform accepts.',
    advice: () => 'Send less data in one request.',
  },
  'no-user-agent': {
    status: 403,
    title: 'User agent required',
    message: () => 'Requests must have a user agent.',
    advice: () => 'Set a User-Agent header that says who you are and how to reach you.',
  },
  'method-not-allowed': {
    status: 405,
    title: 'Method not allowed',
    message: () => 'TRACE requests are not passed on to tools.',
    advice: () => 'Use another method.',
  },
  internal: {
    status: 500,
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

  status(kind: ProxyErrorKind): number {
    return TEXTS[kind].status;
  }

  render(kind: ProxyErrorKind, tool: string): string {
    const t = TEXTS[kind];
    const safe = escapeHtml(tool);
    const maintainers = kind === 'no-backend' ? (this.#entry(tool)?.maintainers.map((m) => `<b>${escapeHtml(m)}</b>`).join(', ') ?? '') : '';
    return this.#template.fill({
      status: String(t.status),
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
      status: TEXTS['no-backend'].status,
      error: 'no-backend',
      message: NOT_RUNNING,
      maintainers: entry?.maintainers ?? [],
      maintainersCan: [`become ${tool}`, 'webservice start', 'webservice status', 'webservice logs'],
    })}\n`;
  }

  /** the headers of an error page, in every lane */
  headers(kind: ProxyErrorKind, body: string): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-toolhost-error': kind,
    };
    // RFC 9110 15.5.6: a 405 says which methods are allowed; 15.5.29: a 429 may say when to retry
    if (kind === 'method-not-allowed') headers.allow = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';
    if (kind === 'too-many-requests') headers['retry-after'] = '1';
    return headers;
  }

  send(res: ServerResponse, kind: ProxyErrorKind, tool: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = this.render(kind, tool);
    res.writeHead(TEXTS[kind].status, this.headers(kind, body));
    res.end(body);
  }
}
