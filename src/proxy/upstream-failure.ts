// The one reading of a failed backend exchange, for both lanes: what kind of failure it was, what
// the client is answered, whether the backend is skipped for a while, and whether the request
// may go again (to the next backend, or on a fresh connection to the same one).
//
//   refused, unreachable      -> 502, backend skipped, retried on the next backend
//   accepts nothing in time   -> 504, backend skipped, retried on the next backend (connect timeout)
//   reset before any answer   -> 502, retried once more if idempotent (a reused connection the
//                                backend closed as the request went out)
//   no answer in time         -> 504 (response timeout), never retried: the backend has the request
//   an answer that is not HTTP -> 502
// A request is sent again only if its body can be sent again (none, or buffered by the proxy).
import type { ProxyErrorCode } from './error-pages.js';

export type UpstreamFailure = 'refused' | 'connect-timeout' | 'reset' | 'response-timeout' | 'bad-response';

/** error codes of node:net and undici, and the proxy's own timers */
const BY_CODE: Readonly<Record<string, UpstreamFailure>> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  EADDRNOTAVAIL: 'refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect-timeout',
  TH_CONNECT_TIMEOUT: 'connect-timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_HEADERS_TIMEOUT: 'response-timeout',
  TH_RESPONSE_TIMEOUT: 'response-timeout',
};

export function classifyUpstreamError(code: string | undefined): UpstreamFailure {
  return (code !== undefined && BY_CODE[code]) || 'bad-response';
}

export interface RetryFacts {
  /** GET, HEAD, OPTIONS (RFC 9110 9.2.2 lists more; these are the ones sent without a body) */
  readonly idempotent: boolean;
  /** the body can be sent again: there is none, or the proxy holds all of it */
  readonly replayable: boolean;
}

export interface FailureOutcome {
  readonly answer: ProxyErrorCode;
  /** skip this backend for a while (BackendPool.markDown) */
  readonly markDown: boolean;
  /** where the request may go again, if anywhere */
  readonly retry: 'another-backend' | 'same-backend' | null;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

export function failureOutcome(failure: UpstreamFailure, request: RetryFacts): FailureOutcome {
  switch (failure) {
    case 'refused':
      return { answer: 'TH_ERR_PROXY_BACKEND_FAILED', markDown: true, retry: request.replayable ? 'another-backend' : null };
    case 'connect-timeout':
      return { answer: 'TH_ERR_PROXY_BACKEND_TIMEOUT', markDown: true, retry: request.replayable ? 'another-backend' : null };
    case 'reset':
      return { answer: 'TH_ERR_PROXY_BACKEND_FAILED', markDown: false, retry: request.replayable && request.idempotent ? 'same-backend' : null };
    case 'response-timeout':
      return { answer: 'TH_ERR_PROXY_BACKEND_TIMEOUT', markDown: false, retry: null };
    case 'bad-response':
      return { answer: 'TH_ERR_PROXY_BACKEND_FAILED', markDown: false, retry: null };
  }
}
