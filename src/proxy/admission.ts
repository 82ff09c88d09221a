// The one admission decision, for every request on every path (the fast lane, Node's server,
// websocket upgrades): which tool, whether it is routed, the HTTPS redirect, the rate limit, the
// User-Agent rule, TRACE, the body size, and what is answered instead of forwarding. Each path
// calls `admit` exactly once per request and either forwards or writes the answer it returns,
// so the paths cannot disagree. (The per-address connection cap is decided before any path, when
// the connection is accepted: ClientLimits.connect.)
//
//   health check                 -> ok (never limited)
//   TLS on, plain HTTP           -> 301 to https
//   over the address's rate      -> 429        (charged here, once per request)
//   no User-Agent, policy deny   -> 403
//   TRACE, not allowed           -> 405
//   Content-Length over the cap  -> 413
//   /, /<tool>, not a tool       -> home page, 301 /<tool>/, 404
//   tool neither routed nor in the tool directory -> 404
//   tool in the directory without a route, or route without a live backend -> 503 (JSON when asked)
//   route with only unusable entries -> 502
//   otherwise                    -> forward
import type { CompiledRoute } from './backend-pool.js';
import type { ClientLimits } from './client-limits.js';
import type { ProxyErrorCode } from './error-pages.js';
import { decide, hostName, type RouterOptions } from './router.js';

export type Proto = 'http' | 'https';

export interface AdmissionRequest {
  readonly method: string;
  /** origin-form (an absolute-form target already reduced to its path) */
  readonly target: string;
  /** Host, or the authority of an absolute-form target */
  readonly host: string | undefined;
  readonly userAgent: string | undefined;
  readonly accept: string | undefined;
  /** -1: no body, or a length not known yet (chunked: the cap is applied while it is read) */
  readonly contentLength: number;
  readonly proto: Proto;
  readonly clientAddress: string;
}

export type Answer =
  | { readonly kind: 'health' }
  | { readonly kind: 'home'; readonly json: boolean }
  | { readonly kind: 'redirect'; readonly location: string }
  /** json: the client asked for JSON (the "exists but not running" answer has a JSON form) */
  | { readonly kind: 'error'; readonly error: ProxyErrorCode; readonly tool: string; readonly json?: boolean };

export type Decision =
  | { readonly kind: 'forward'; readonly tool: string; readonly compiled: CompiledRoute }
  /** tool: the name asked for, for the access log ('' when none) */
  | { readonly kind: 'answer'; readonly answer: Answer; readonly tool: string };

export interface AdmissionPolicy {
  readonly router: RouterOptions;
  readonly maxBodyBytes: number;
  readonly emptyUserAgent: 'allow' | 'deny';
  readonly allowTrace: boolean;
  /** where plain HTTP is redirected when TLS is on: `https://host[:port]`; null: TLS off */
  readonly httpsOrigin: ((host: string) => string) | null;
}

const HEALTH: Decision = { kind: 'answer', answer: { kind: 'health' }, tool: '' };

function error(kind: ProxyErrorCode, tool: string): Decision {
  return { kind: 'answer', answer: { kind: 'error', error: kind, tool }, tool };
}

function notRunning(tool: string, r: AdmissionRequest): Decision {
  return { kind: 'answer', answer: { kind: 'error', error: 'TH_ERR_PROXY_TOOL_DOWN', tool, json: wantsJson(r) }, tool };
}

export class Admission {
  readonly #policy: AdmissionPolicy;
  readonly #clients: ClientLimits;
  readonly #route: (tool: string) => CompiledRoute | undefined;
  readonly #exists: (tool: string) => boolean;

  /** exists: whether a tool without a route exists (the tool directory has it) */
  constructor(policy: AdmissionPolicy, clients: ClientLimits, route: (tool: string) => CompiledRoute | undefined, exists: (tool: string) => boolean = () => false) {
    this.#policy = policy;
    this.#clients = clients;
    this.#route = route;
    this.#exists = exists;
  }

  admit(r: AdmissionRequest, now: number): Decision {
    const p = this.#policy;
    const routed = decide(r.target, r.host, p.router);
    if (routed.kind === 'health') return HEALTH;
    const named = routed.kind === 'tool' ? routed.tool : routed.kind === 'unknown' ? routed.name : '';
    if (p.httpsOrigin !== null && r.proto === 'http') {
      return { kind: 'answer', answer: { kind: 'redirect', location: `${p.httpsOrigin(hostName(r.host))}${r.target}` }, tool: named };
    }
    if (!this.#clients.request(r.clientAddress, now)) return error('TH_ERR_PROXY_RATE_LIMITED', named);
    if (p.emptyUserAgent === 'deny' && !r.userAgent) return error('TH_ERR_PROXY_NO_USER_AGENT', named);
    if (r.method === 'TRACE' && !p.allowTrace) return error('TH_ERR_PROXY_METHOD_NOT_ALLOWED', named);
    if (r.contentLength > p.maxBodyBytes) return error('TH_ERR_PROXY_BODY_TOO_LARGE', named);
    switch (routed.kind) {
      case 'home':
        return { kind: 'answer', answer: { kind: 'home', json: wantsJson(r) }, tool: '' };
      case 'redirect':
        return { kind: 'answer', answer: { kind: 'redirect', location: routed.location }, tool: named };
      case 'bad-request':
        return error('TH_ERR_PROXY_BAD_REQUEST', '');
      case 'unknown':
        return error('TH_ERR_PROXY_TOOL_UNKNOWN', routed.name);
      case 'tool': {
        const compiled = this.#route(routed.tool);
        if (!compiled) return this.#exists(routed.tool) ? notRunning(routed.tool, r) : error('TH_ERR_PROXY_TOOL_UNKNOWN', routed.tool);
        if (compiled.backends.length === 0) {
          // only unusable entries (bad URLs, addresses outside the backend networks): 502
          return compiled.route.rejected > 0 ? error('TH_ERR_PROXY_BACKEND_FAILED', routed.tool) : notRunning(routed.tool, r);
        }
        return { kind: 'forward', tool: routed.tool, compiled };
      }
    }
  }
}

function wantsJson(r: AdmissionRequest): boolean {
  return r.target.includes('format=json') || (r.accept ?? '').startsWith('application/json');
}
