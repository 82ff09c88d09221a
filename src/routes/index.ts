// The route table in Redis: tool -> backends (docs/reference/routes.md).
export {
  routeKey,
  routeChannel,
  toolOfKey,
  ROUTE_KEY_PREFIX,
  ROUTE_CHANNEL_PATTERN,
  DEFAULT_ROUTE_FIELD,
  BACKEND_FIELD_PREFIX,
  LEASE_FIELD_PREFIX,
  DESCRIPTION_FIELD,
} from './route-keys.js';
export { parseRoute, parseBackendUrl, type Backend, type BackendPolicy, type Route, type RouteProblem } from './route-model.js';
export { RouteStore, type RegisterOptions } from './route-store.js';
export { RouteTable, type RedisState, type RouteTableOptions } from './route-table.js';
export { redactRedisUrl } from './redis-url.js';
export { withRedis } from './with-redis.js';
