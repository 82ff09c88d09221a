// The front proxy: one public door for every tool, routed from memory.
export { ProxyServer, DEFAULT_LIMITS, type ProxyOptions, type ProxyLimits, type ListenAddress } from './proxy-server.js';
export { DEFAULT_BACKEND_NETWORKS } from './backend-networks.js';
export { decide, hostName, HEALTH_PATH, type RouteDecision, type RouterOptions } from './router.js';
export { upstreamRequestHeaders, downstreamHeaderObject, type ForwardFacts } from './header-policy.js';
export { formatAccessLine, clfDate, type AccessRecord } from './access-log.js';
