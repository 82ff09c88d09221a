// Names in Redis of the route table (docs/reference/routes.md).
//
// Every key and channel of a tool is the one name `prefix:<tool>`, so one Redis ACL pattern
// (`~prefix:<tool> &prefix:<tool>`) covers all of that tool's and nothing else:
//   - key `prefix:<tool>`: a HASH, Toolforge's layout. Its `.*` field is a backend URL, so
//     `HSET prefix:mytool .* http://127.0.0.1:8000` by hand routes /mytool/ there.
//     toolhost's additive fields live in the same hash:
//       backend:<id>   a backend URL (several backends per tool: round robin)
//       lease:<id>     epoch milliseconds until which backend:<id> is valid (no field: no expiry)
//       node:<id>      the node whose registrar vouches for backend:<id> (its lease is the node's)
//       description    the tool's one-line description (its ~/.description)
//   - channel `prefix:<tool>`: a message that the hash changed; proxies PSUBSCRIBE `prefix:*`.
//   - key `toolhost:nodes`: a HASH node -> epoch ms until which that node's registrar vouches
//     for every backend it registered; renewed by the registrar, announced on the channel of
//     the same name ("<node> <until>"), so a renewal is one write per node, not one per tool.
//   - key `toolhost:tool:<tool>`: a HASH, the tool directory's entry of a tool that exists
//     (maintainers, the administrator's description), written only by the administrator's
//     `toolhost tool` commands and announced on the channel of the same name. Outside `prefix:*`
//     on purpose: registrars, which write every route, cannot write it, and a tool's ACL
//     pattern never covers it.
export const ROUTE_KEY_PREFIX = 'prefix:';
export const DEFAULT_ROUTE_FIELD = '.*';
export const BACKEND_FIELD_PREFIX = 'backend:';
export const LEASE_FIELD_PREFIX = 'lease:';
export const NODE_FIELD_PREFIX = 'node:';
export const DESCRIPTION_FIELD = 'description';
export const NODES_KEY = 'toolhost:nodes';
export const NODES_CHANNEL = NODES_KEY;
export const DIRECTORY_KEY_PREFIX = 'toolhost:tool:';
export const MAINTAINERS_FIELD = 'maintainers';

export function routeKey(tool: string): string {
  return `${ROUTE_KEY_PREFIX}${tool}`;
}

/** the pub/sub channel announcing changes of a tool's routes: the same name as its key */
export function routeChannel(tool: string): string {
  return routeKey(tool);
}

export const ROUTE_CHANNEL_PATTERN = `${ROUTE_KEY_PREFIX}*`;

/** the tool of a key or channel name, or null when it is not one of ours */
export function toolOfKey(key: string): string | null {
  return key.startsWith(ROUTE_KEY_PREFIX) ? key.slice(ROUTE_KEY_PREFIX.length) : null;
}

/** the tool directory's entry of a tool, also the channel announcing its changes */
export function directoryKey(tool: string): string {
  return `${DIRECTORY_KEY_PREFIX}${tool}`;
}

export const DIRECTORY_CHANNEL_PATTERN = `${DIRECTORY_KEY_PREFIX}*`;

/** the tool of a directory key or channel name, or null when it is not one */
export function toolOfDirectoryKey(key: string): string | null {
  return key.startsWith(DIRECTORY_KEY_PREFIX) ? key.slice(DIRECTORY_KEY_PREFIX.length) : null;
}
