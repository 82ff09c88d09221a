// Names in Redis of the route table (docs/reference/routes.md).
//
// Every key and channel of a tool is the one name `prefix:<tool>`, so one Redis ACL pattern
// (`~prefix:<tool> &prefix:<tool>`) covers all of that tool's and nothing else:
//   - key `prefix:<tool>`: a HASH, Toolforge's layout. Its `.*` field is a backend URL, so
//     `HSET prefix:mytool .* http://127.0.0.1:8000` by hand routes /mytool/ there.
//     toolhost's additive fields live in the same hash:
//       backend:<id>   a backend URL (several backends per tool: round robin)
//       lease:<id>     epoch milliseconds until which backend:<id> is valid (no field: no expiry)
//       description    the tool's one-line description (its ~/.description)
//   - channel `prefix:<tool>`: a message that the hash changed; proxies PSUBSCRIBE `prefix:*`.
export const ROUTE_KEY_PREFIX = 'prefix:';
export const DEFAULT_ROUTE_FIELD = '.*';
export const BACKEND_FIELD_PREFIX = 'backend:';
export const LEASE_FIELD_PREFIX = 'lease:';
export const DESCRIPTION_FIELD = 'description';

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
