// Webservices of tools: which tool, its accounts, and the server configurations it runs.
export { lookupAccount, resolveTool, runtimeDirectory, type Tool, type ToolSelection, type UnixAccount } from './tool-account.js';
export {
  buildLighttpdConfig,
  toolEnvironment,
  PHP_CGI,
  USER_CONFIG_NAME,
  type LighttpdConfigOptions,
  type LighttpdType,
  type ToolLighttpdConfig,
} from './lighttpd-config.js';
export { RouteLease, LEASE_MS, type RouteLeaseOptions } from './route-lease.js';
