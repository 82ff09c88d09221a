// A tool's route as the proxy uses it, built once when the hash changes (never per request):
// parsed backend URLs, leases, description. Garbage in a hash is skipped and reported.
import { codedLine } from '../errors.js';
import { isToolName } from '../tool-name.js';
import { BACKEND_FIELD_PREFIX, DEFAULT_ROUTE_FIELD, DESCRIPTION_FIELD, LEASE_FIELD_PREFIX, NODE_FIELD_PREFIX } from './route-keys.js';

export interface Backend {
  /** the field id: "default" for Toolforge's `.*`, else the part after backend: */
  readonly id: string;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** epoch ms of its own lease (lease:<id>) as the reader counts it, or null without one */
  readonly leaseUntil: number | null;
  /** the node whose registrar holds it (node:<id>); it lives as long as that node's lease */
  readonly node: string | null;
}

export interface Route {
  readonly tool: string;
  /** live backends only (expired leases left out) */
  readonly backends: readonly Backend[];
  readonly description: string | null;
  /** the earliest own-lease expiry among the live backends, to re-read the route then */
  readonly nextExpiry: number | null;
  /** backend entries skipped as invalid or refused by the reader's policy */
  readonly rejected: number;
}

/** a reader's say on where backends may be: null to accept, else the reason to refuse */
export type BackendPolicy = (host: string, port: number) => string | null;

/** how a reader counts leases: what it knows of nodes, and any grace it gives */
export interface LeaseView {
  /** when a backend whose lease:<id> says `written` stops counting */
  backendUntil(written: number): number;
  /** until when the node vouches for its backends; null: a node the reader has not heard of */
  nodeUntil(node: string): number | null;
}

/** leases exactly as written, nodes from a `toolhost:nodes` hash */
export function writtenLeases(nodes: Readonly<Record<string, string>> = {}): LeaseView {
  return {
    backendUntil: (written) => written,
    nodeUntil: (node) => {
      const v = Number(nodes[node]);
      return nodes[node] !== undefined && Number.isFinite(v) ? v : null;
    },
  };
}

export interface RouteProblem {
  readonly tool: string;
  readonly field: string;
  readonly value: string;
  readonly reason: string;
}

/** how the proxy's log and `toolhost routes show` say a route field is ignored: in the same words, under one code */
export function routeProblemLine(p: RouteProblem): string {
  return codedLine('TH_ERR_ROUTE_ENTRY_IGNORED', p.tool, p.field || 'key', JSON.stringify(p.value), p.reason, p.tool);
}

export function parseBackendUrl(value: string): { host: string; port: number } | string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:') return `scheme ${u.protocol} is not supported (use http://HOST:PORT)`;
  if (u.username || u.password) return 'credentials in a backend URL are not allowed';
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return 'a backend URL has no path (use http://HOST:PORT)';
  const port = u.port ? Number(u.port) : 80;
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (!host) return 'no host';
  return { host, port };
}

export function parseRoute(
  tool: string,
  hash: Readonly<Record<string, string>>,
  now: number,
  problems: RouteProblem[] = [],
  policy: BackendPolicy | null = null,
  leases: LeaseView = writtenLeases(),
): Route | null {
  if (!isToolName(tool)) {
    problems.push({ tool, field: '', value: '', reason: 'the key does not name a valid tool' });
    return null;
  }
  const backends: Backend[] = [];
  let nextExpiry: number | null = null;
  let rejected = 0;
  for (const [field, value] of Object.entries(hash)) {
    let id: string;
    if (field === DEFAULT_ROUTE_FIELD) id = 'default';
    else if (field.startsWith(BACKEND_FIELD_PREFIX)) id = field.slice(BACKEND_FIELD_PREFIX.length);
    else continue;
    const parsed = parseBackendUrl(value);
    const refused = typeof parsed === 'string' ? parsed : (policy?.(parsed.host, parsed.port) ?? null);
    if (typeof parsed === 'string' || refused !== null) {
      problems.push({ tool, field, value, reason: refused ?? 'invalid' });
      rejected++;
      continue;
    }
    let leaseUntil: number | null = null;
    const lease = hash[`${LEASE_FIELD_PREFIX}${id}`];
    if (lease !== undefined) {
      const written = Number(lease);
      if (!Number.isFinite(written)) {
        problems.push({ tool, field: `${LEASE_FIELD_PREFIX}${id}`, value: lease, reason: 'a lease is epoch milliseconds' });
        continue;
      }
      leaseUntil = leases.backendUntil(written);
      if (leaseUntil <= now) continue;
    }
    const node = hash[`${NODE_FIELD_PREFIX}${id}`] ?? null;
    if (node !== null) {
      const until = leases.nodeUntil(node);
      if (until === null || until <= now) continue;
    }
    if (leaseUntil !== null && (nextExpiry === null || leaseUntil < nextExpiry)) nextExpiry = leaseUntil;
    backends.push({ id, url: `http://${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`, host: parsed.host, port: parsed.port, leaseUntil, node });
  }
  backends.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const description = hash[DESCRIPTION_FIELD];
  return { tool, backends, description: description ? description : null, nextExpiry, rejected };
}

/** the nodes a hash's backends depend on (live or not) */
export function nodesOf(hash: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(hash)) if (field.startsWith(NODE_FIELD_PREFIX) && !out.includes(value)) out.push(value);
  return out;
}

/** whether two routes send the same requests to the same places with the same description */
export function sameRouting(a: Route, b: Route): boolean {
  if (a.description !== b.description || a.rejected !== b.rejected || a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.backends.length; i++) if ((a.backends[i] as Backend).url !== (b.backends[i] as Backend).url || (a.backends[i] as Backend).id !== (b.backends[i] as Backend).id) return false;
  return true;
}
