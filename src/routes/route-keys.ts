// Names in Redis of the route table. `prefix:<tool>` is Toolforge's layout: a HASH whose `.*`
// field is the backend URL, so `HSET prefix:mytool .* http://127.0.0.1:8000` by hand routes.
export const ROUTE_KEY_PREFIX = 'prefix:';
export const DEFAULT_ROUTE_FIELD = '.*';

export function routeKey(tool: string): string {
  return `${ROUTE_KEY_PREFIX}${tool}`;
}
