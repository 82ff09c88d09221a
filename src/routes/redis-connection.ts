// How every toolhost process reaches the route table's Redis: one description, decided here.
// Either one Redis at a URL, or a Redis Sentinel set that names the current master (Redis high
// availability: a replica takes over when the master dies, and every client follows it).
//
//   redis://[USER:PASSWORD@]HOST[:PORT][/DB]                      one Redis (rediss:// for TLS)
//   redis-sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[?db=N&sentinelUsername=U&sentinelPassword=P]
//
// USER and PASSWORD are those of the data nodes (every node has the same users); the sentinels
// themselves are asked without a password unless sentinelUsername/sentinelPassword say
// otherwise. A Sentinel URL is one line like any other, so it goes wherever a URL goes: the
// environment, a --redis-file, a settings file, a tool's credentials file.
import { Redis, type RedisOptions } from 'ioredis';
import net from 'node:net';
import { ToolhostError } from '../errors.js';

export { DEFAULT_REDIS_URL } from '../defaults.js';
export const SENTINEL_SCHEME = 'redis-sentinel:';
export const DEFAULT_SENTINEL_PORT = 26379;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Credentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

/** one Redis at a URL (ioredis reads the URL itself: TLS, database, credentials) */
export interface DirectRedis extends Credentials {
  readonly kind: 'direct';
  readonly url: string;
  readonly address: HostPort;
}

/** the master a Sentinel set names; clients ask the sentinels where it is, and follow failovers */
export interface SentinelRedis extends Credentials {
  readonly kind: 'sentinel';
  readonly sentinels: readonly HostPort[];
  readonly master: string;
  readonly db: number;
  readonly sentinelUsername?: string | undefined;
  readonly sentinelPassword?: string | undefined;
}

export type RedisConnection = DirectRedis | SentinelRedis;

const SENTINEL_PARAMS = new Set(['db', 'sentinelUsername', 'sentinelPassword']);
/** a Sentinel master name: what `sentinel monitor NAME …` accepts without quoting */
const MASTER_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const HOST_NAME = /^[A-Za-z0-9.-]{1,253}$/;

function invalid(text: string, why: string): ToolhostError {
  return new ToolhostError('TH_ERR_REDIS_ADDRESS_INVALID', redactRedisText(text), why);
}

function decode(part: string, text: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(text, `"${part.slice(0, 40)}" is not percent-encoded properly`);
  }
}

/** HOST[:PORT] or [IPv6][:PORT]; names are allowed (Redis and Sentinel resolve them) */
export function parseHostPort(item: string, defaultPort: number, text = item): HostPort {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m?.[3] !== undefined ? Number(m[3]) : defaultPort;
  if (!m || (m[1] !== undefined && net.isIPv6(host) === false) || (m[2] !== undefined && !HOST_NAME.test(host))) throw invalid(text, `"${item.slice(0, 60)}" is not HOST:PORT`);
  if (port < 1 || port > 65535) throw invalid(text, `port ${port} is out of range`);
  return { host, port };
}

/** HOST:PORT,HOST:PORT… (the sentinels) */
export function parseHostList(list: string, defaultPort: number, text = list): HostPort[] {
  const items = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw invalid(text, 'no sentinel address');
  const seen = new Set<string>();
  const out: HostPort[] = [];
  for (const item of items) {
    const hp = parseHostPort(item, defaultPort, text);
    const key = `${hp.host}:${hp.port}`;
    if (!seen.has(key)) out.push(hp);
    seen.add(key);
  }
  return out;
}

function parseSentinelUrl(text: string): SentinelRedis {
  let rest = text.slice(`${SENTINEL_SCHEME}//`.length);
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const master = slash >= 0 ? decode(rest.slice(slash + 1), text) : '';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hosts = at >= 0 ? authority.slice(at + 1) : authority;
  const colon = userinfo.indexOf(':');
  const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, text);
  const password = colon >= 0 ? decode(userinfo.slice(colon + 1), text) : '';
  const params = new URLSearchParams(query);
  for (const key of params.keys()) if (!SENTINEL_PARAMS.has(key)) throw invalid(text, `unknown parameter "${key.slice(0, 40)}" (known: ${[...SENTINEL_PARAMS].join(', ')})`);
  const dbText = params.get('db') ?? '0';
  if (!/^\d{1,2}$/.test(dbText)) throw invalid(text, `db must be a database number, not "${dbText.slice(0, 20)}"`);
  return sentinelConnection(
    {
      sentinels: parseHostList(hosts, DEFAULT_SENTINEL_PORT, text),
      master,
      db: Number(dbText),
      username,
      password,
      sentinelUsername: params.get('sentinelUsername') ?? undefined,
      sentinelPassword: params.get('sentinelPassword') ?? undefined,
    },
    text,
  );
}

/** a Sentinel connection from its parts, the master name checked; `text` names it in errors */
export function sentinelConnection(parts: Omit<SentinelRedis, 'kind'>, text: string): SentinelRedis {
  const { master } = parts;
  if (!master) throw invalid(text, 'the Sentinel master name is missing: end the URL with /MASTER, or give --redis-master NAME (or TOOLHOST_REDIS_MASTER)');
  if (!MASTER_NAME.test(master)) throw invalid(text, `"${master.slice(0, 70)}" is not a Sentinel master name (letters, digits, . _ : -)`);
  if (parts.sentinels.length === 0) throw invalid(text, 'no sentinel address');
  return {
    kind: 'sentinel',
    sentinels: parts.sentinels,
    master,
    db: parts.db,
    ...(parts.username ? { username: parts.username } : {}),
    ...(parts.password ? { password: parts.password } : {}),
    ...(parts.sentinelUsername ? { sentinelUsername: parts.sentinelUsername } : {}),
    ...(parts.sentinelPassword ? { sentinelPassword: parts.sentinelPassword } : {}),
  };
}

function parseDirectUrl(text: string): DirectRedis {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw invalid(text, 'it is not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalid(text, `the scheme ${u.protocol} is not redis:, rediss: or ${SENTINEL_SCHEME}`);
  if (!u.hostname) throw invalid(text, 'the host is missing');
  const port = Number(u.port || 6379);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    kind: 'direct',
    url: text,
    address: { host, port },
    ...(u.username ? { username: decode(u.username, text) } : {}),
    ...(u.password ? { password: decode(u.password, text) } : {}),
  };
}

/** the description a URL gives; TH_ERR_REDIS_ADDRESS_INVALID says what is wrong with it */
export function parseRedisConnection(text: string): RedisConnection {
  const trimmed = text.trim();
  return trimmed.toLowerCase().startsWith(`${SENTINEL_SCHEME}//`) ? parseSentinelUrl(trimmed) : parseDirectUrl(trimmed);
}

function hostText(h: HostPort): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}

function userinfo(c: Credentials, redacted: boolean): string {
  if (!c.username && !c.password) return '';
  const pass = c.password ? `:${redacted ? '***' : encodeURIComponent(c.password)}` : '';
  return `${encodeURIComponent(c.username ?? '')}${pass}@`;
}

/**
 * The connection as one URL line, with other credentials when given (a tool's or a service
 * user's credentials file: the same Redis, or the same Sentinel set, as that user).
 */
export function formatRedisConnection(conn: RedisConnection, as?: Credentials, options: { redacted?: boolean } = {}): string {
  const creds = as ?? conn;
  const redacted = options.redacted === true;
  if (conn.kind === 'direct') {
    const u = new URL(conn.url);
    u.username = creds.username ? encodeURIComponent(creds.username) : '';
    u.password = creds.password ? (redacted ? '***' : encodeURIComponent(creds.password)) : '';
    return u.toString().replace(/\/$/, '');
  }
  const params: string[] = [];
  if (conn.db) params.push(`db=${conn.db}`);
  if (conn.sentinelUsername) params.push(`sentinelUsername=${encodeURIComponent(conn.sentinelUsername)}`);
  if (conn.sentinelPassword) params.push(`sentinelPassword=${redacted ? '***' : encodeURIComponent(conn.sentinelPassword)}`);
  return `${SENTINEL_SCHEME}//${userinfo(creds, redacted)}${conn.sentinels.map(hostText).join(',')}/${conn.master}${params.length ? `?${params.join('&')}` : ''}`;
}

/** for logs and messages: never a password */
export function describeRedis(conn: RedisConnection): string {
  return formatRedisConnection(conn, undefined, { redacted: true });
}

/** a URL as text for an error message, its password (if any) hidden */
export function redactRedisText(text: string): string {
  // user:password@ in any scheme, even one that does not parse
  return text.replace(/^([a-z+-]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@').slice(0, 200);
}

/** whether the text carries a secret (a password for the data nodes or the sentinels) */
export function hasSecret(conn: RedisConnection): boolean {
  return Boolean(conn.password || (conn.kind === 'sentinel' && conn.sentinelPassword));
}

/** the addresses a client connects to first: the one Redis, or the sentinels */
export function entryPoints(conn: RedisConnection): readonly HostPort[] {
  return conn.kind === 'direct' ? [conn.address] : conn.sentinels;
}

/**
 * An ioredis client for the connection. Long-lived clients also pass `failoverDetector: true`,
 * so that a master that is demoted while still reachable is left at once (ioredis listens for
 * the sentinels' +switch-master), not at the next broken connection.
 */
export function createRedis(conn: RedisConnection, options: RedisOptions = {}): Redis {
  if (conn.kind === 'direct') return new Redis(conn.url, options);
  return new Redis({
    sentinels: conn.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: conn.master,
    db: conn.db,
    ...(conn.username ? { username: conn.username } : {}),
    ...(conn.password ? { password: conn.password } : {}),
    ...(conn.sentinelUsername ? { sentinelUsername: conn.sentinelUsername } : {}),
    ...(conn.sentinelPassword ? { sentinelPassword: conn.sentinelPassword } : {}),
    // a sentinel that accepted the connection but stopped answering (a network cut) is
    // given up on, and the next one asked
    sentinelCommandTimeout: 2000,
    ...options,
  });
}

/**
 * Keep a long-lived client connecting until `closing()` says it is being closed. ioredis ends a
 * Sentinel client for good in one race: when the failover detector hears +switch-master while
 * the client is still asking the sentinels where the master is (it reconnects after the old
 * master died), it closes the connector mid-connection and the client goes to 'end' with no
 * further attempt. A registrar that hit it never wrote to Redis again (the failover test in
 * test/routes/redis-sentinel.test.ts failed that way about one run in two). Any other way ioredis
 * may give up is covered too: an unexpected 'end' is followed by a new connection.
 */
export function keepConnecting(redis: Redis, closing: () => boolean, retryMs = 100): void {
  redis.on('end', () => {
    if (closing()) return;
    setTimeout(() => {
      if (closing() || redis.status !== 'end') return;
      redis.connect().catch(() => {
        // 'end' again: the next attempt follows
      });
    }, retryMs).unref();
  });
}

/** a direct connection to one data node of the connection, with the connection's credentials */
export function nodeConnection(conn: RedisConnection, node: HostPort): DirectRedis {
  const base = conn.kind === 'direct' ? new URL(conn.url) : new URL(`redis://${hostText(node)}/${conn.db || ''}`);
  base.hostname = node.host.includes(':') ? `[${node.host}]` : node.host;
  base.port = String(node.port);
  const url = formatRedisConnection({ kind: 'direct', url: base.toString(), address: node }, conn);
  return parseDirectUrl(url);
}
