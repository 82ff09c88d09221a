// The registrar's protocol: one JSON object per line over the tool's own unix socket. The socket
// file belongs to the tool (mode 0600), so the kernel has already said who is calling; the
// registrar then checks, in the kernel's socket table, that the port is the tool's.
//
//   registrar -> client, on connect:  {"hello":{"node","address","tool","version":1}}
//   client -> registrar:              {"n":1,"op":"register","port":8080,"description":"…"}
//                                     {"n":2,"op":"unregister","port":8080}
//                                     {"n":3,"op":"list"}
//                                     {"n":4,"op":"admit","unit":"run-daily","memory":536870912,"cpu":500}
//                                     {"n":5,"op":"place","unit":"run-daily","pid":4242}
//                                     {"n":6,"op":"release","unit":"run-daily"}
//                                     {"n":7,"op":"quota"}
//                                     {"n":8,"op":"notify","event":{"source":"job","name":"daily","kind":"failed",…}}
//   registrar -> client:              {"n":1,"ok":true,...} | {"n":1,"ok":false,"code","message"}
import type { ErrorCode } from '../errors.js';
import type { Admission, QuotaView } from '../limits/index.js';
import { parseEvent, type NotifyEvent } from '../notify/index.js';

export const PROTOCOL_VERSION = 1;
/** a request line longer than this closes the connection */
export const MAX_LINE_BYTES = 16 * 1024;
/** backends one tool may have registered on one node */
export const MAX_BACKENDS_PER_TOOL = 16;

export interface Hello {
  readonly node: string;
  /** the address tools' servers listen on and proxies reach them at */
  readonly address: string;
  readonly tool: string;
  readonly version: number;
}

export type Request =
  | { readonly n: number; readonly op: 'register'; readonly port: number; readonly description?: string | null }
  | { readonly n: number; readonly op: 'unregister'; readonly port: number }
  | { readonly n: number; readonly op: 'list' }
  | { readonly n: number; readonly op: 'admit'; readonly unit: string; readonly memory: number; readonly cpu: number }
  | { readonly n: number; readonly op: 'place'; readonly unit: string; readonly pid: number }
  | { readonly n: number; readonly op: 'release'; readonly unit: string }
  | { readonly n: number; readonly op: 'quota' }
  | { readonly n: number; readonly op: 'notify'; readonly event: NotifyEvent };

export interface RegisteredBackend {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  /** written to Redis (false while Redis is unreachable: it is written when Redis answers) */
  readonly stored: boolean;
  readonly since: number;
}

export interface Listing {
  readonly node: string;
  readonly redis: 'ready' | 'down';
  readonly backends: readonly RegisteredBackend[];
}

export type Reply =
  | { readonly n: number; readonly ok: true; readonly backend?: RegisteredBackend; readonly listing?: Listing; readonly admission?: Admission; readonly quota?: QuotaView }
  | { readonly n: number; readonly ok: false; readonly code: ErrorCode; readonly message: string };

export function socketPath(dir: string, tool: string): string {
  return `${dir}/${tool}.sock`;
}

/** where registrar sockets are unless TOOLHOST_REGISTRAR_DIR says otherwise */
export const DEFAULT_REGISTRAR_DIR = '/run/toolhost-registrar';

export function registrarDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.TOOLHOST_REGISTRAR_DIR || DEFAULT_REGISTRAR_DIR;
}

export function parseRequest(line: string): Request | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const o = v as Record<string, unknown>;
  const n = o.n;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) return 'no request number';
  const port = o.port;
  const validPort = typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536;
  switch (o.op) {
    case 'register':
      if (!validPort) return 'register needs a port';
      if (o.description !== undefined && o.description !== null && typeof o.description !== 'string') return 'description must be text';
      return { n, op: 'register', port: port, description: (o.description) ?? null };
    case 'unregister':
      if (!validPort) return 'unregister needs a port';
      return { n, op: 'unregister', port: port };
    case 'list':
      return { n, op: 'list' };
    case 'quota':
      return { n, op: 'quota' };
    case 'admit': {
      const { unit, memory, cpu } = o;
      if (typeof unit !== 'string' || unit.length > 64) return 'admit needs a unit';
      if (!positive(memory) || !positive(cpu)) return 'admit needs memory (bytes) and cpu (thousandths)';
      return { n, op: 'admit', unit, memory, cpu };
    }
    case 'place': {
      const { unit, pid } = o;
      if (typeof unit !== 'string' || unit.length > 64) return 'place needs a unit';
      if (!positive(pid)) return 'place needs a pid';
      return { n, op: 'place', unit, pid };
    }
    case 'notify': {
      const event = parseEvent(o.event);
      return typeof event === 'string' ? `notify: ${event}` : { n, op: 'notify', event };
    }
    case 'release':
      if (typeof o.unit !== 'string' || o.unit.length > 64) return 'release needs a unit';
      return { n, op: 'release', unit: o.unit };
    default:
      return `unknown op ${JSON.stringify(o.op)}`;
  }
}

function positive(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
