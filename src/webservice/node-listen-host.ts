// Where a node webservice's listen() call binds: a call given a TCP port and no host gets the
// node's address as its host; a call naming a host, a unix socket path or a handle is left as
// written. Used by node-listen-preload.ts, inside the tool's own server.
import type net from 'node:net';

export type ListenArgs = unknown[];

function isPort(v: unknown): v is number | string {
  return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d+$/.test(v));
}

/** the same call with the host filled in, when it names a TCP port and no host */
export function withHost(args: ListenArgs, host: string): ListenArgs {
  const [first, second] = args;
  if (typeof first === 'object' && first !== null) {
    const o = first as net.ListenOptions & { handle?: unknown; _handle?: unknown; fd?: unknown };
    if (o.port === undefined || o.host !== undefined || o.path !== undefined || o.handle !== undefined || o._handle !== undefined || o.fd !== undefined) return args;
    return [{ ...o, host }, ...args.slice(1)];
  }
  if (!isPort(first) || typeof second === 'string') return args;
  // listen(port[, backlog][, callback]) as options, which say the same and take a host
  const callback = args.find((a) => typeof a === 'function');
  const backlog = typeof second === 'number' ? second : undefined;
  return [{ port: Number(first), host, ...(backlog !== undefined ? { backlog } : {}) }, ...(callback ? [callback] : [])];
}
