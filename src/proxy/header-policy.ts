// What crosses the proxy in headers. Tools never learn the client's address: every header
// that could carry it is dropped, and X-Forwarded-Proto/Host/Port are set by the proxy alone.
// Hop-by-hop headers (RFC 9110 7.6.1), and any header the Connection header names, stay on
// their own hop. `Proxy` is dropped against httpoxy. `Expect: 100-continue` is answered by
// the proxy's own server, so it is not sent on.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** headers that carry (or claim to carry) the client's address, or forwarding facts */
export const CLIENT_IDENTITY: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'forwarded',
  'via',
  'proxy',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const set = new Set<string>();
  for (const t of joined.split(',')) {
    const v = t.trim().toLowerCase();
    if (v) set.add(v);
  }
  return set.size ? set : null;
}

export interface ForwardFacts {
  readonly proto: 'http' | 'https';
  /** the Host the client asked for (the authority of an absolute-form target replaces Host) */
  readonly host: string;
  readonly port: number;
}

/** request headers for the backend */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, facts: ForwardFacts, upgrade: boolean): OutgoingHttpHeaders {
  const named = connectionTokens(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || CLIENT_IDENTITY.has(name) || name === 'expect' || (named !== null && named.has(name))) continue;
    out[name] = incoming[name];
  }
  if (facts.host !== '') out.host = facts.host;
  out['x-forwarded-proto'] = facts.proto;
  out['x-forwarded-host'] = facts.host;
  out['x-forwarded-port'] = String(facts.port);
  if (upgrade) {
    out.connection = 'upgrade';
    out.upgrade = incoming.upgrade;
  }
  return out;
}

/** response headers for the client (names lower-cased, repeats as arrays, as undici and node:http give them) */
export function downstreamHeaderObject(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    out[name] = v;
  }
  return out;
}
