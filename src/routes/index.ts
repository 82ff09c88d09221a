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
  NODE_FIELD_PREFIX,
  DESCRIPTION_FIELD,
  NODES_KEY,
  NODES_CHANNEL,
  directoryKey,
  toolOfDirectoryKey,
  DIRECTORY_KEY_PREFIX,
  DIRECTORY_CHANNEL_PATTERN,
  MAINTAINERS_FIELD,
} from './route-keys.js';
export { parseRoute, parseBackendUrl, routeProblemLine, writtenLeases, sameRouting, type Backend, type BackendPolicy, type LeaseView, type Route, type RouteProblem } from './route-model.js';
export { RouteStore, OversizedRoute, type RegisterOptions, type StoredRoute } from './route-store.js';
export { ROUTE_LIMITS, DIRECTORY_LIMITS, routeHashProblem, normalizeDescription, type HashLimits } from './route-limits.js';
export { ToolDirectoryStore, parseToolEntry, type ToolEntry, type ToolEntryUpdate } from './tool-directory.js';
export { NodeRegistrations, type HeldBackend, type HeldTool } from './node-registrations.js';
export { RouteTable, type RedisState, type RouteTableOptions } from './route-table.js';
export { redactRedisUrl, redisConnectionFrom, type RedisUrlOptions } from './redis-url.js';
export {
  createRedis,
  describeRedis,
  entryPoints,
  formatRedisConnection,
  keepConnecting,
  nodeConnection,
  parseHostPort,
  parseRedisConnection,
  DEFAULT_REDIS_URL,
  type Credentials,
  type DirectRedis,
  type HostPort,
  type RedisConnection,
  type SentinelRedis,
} from './redis-connection.js';
export { withRedis } from './with-redis.js';
export { dataNodes, nodeName, replicasInInfo, type DataNode } from './redis-topology.js';
