// The route table in Redis: tool -> backends.
export { routeKey, ROUTE_KEY_PREFIX, DEFAULT_ROUTE_FIELD } from './route-keys.js';
