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
export { readManifest, writeManifest, removeManifest, manifestPath, WEBSERVICE_TYPES, MANIFEST_NAME, type Manifest, type WebserviceType } from './manifest.js';
export { startWebservice, stopWebservice, restartWebservice, statusOf, launchSupervisor, type ControlContext, type Status, type StartResult } from './control.js';
export { readState, supervisorPid, SERVICE_LOG, type ServiceState, type ServiceStateName } from './service-state.js';
export { ERROR_LOG } from './server-instance.js';
export { HostMonitor, type MonitorOptions, type MonitorVerdict } from './monitor.js';
export {
  addMaintainer,
  createProxyUser,
  createTool,
  deleteTool,
  listTools,
  toolRecord,
  toolRedisUrl,
  redisUserOf,
  CREDENTIALS_FILE,
  PROXY_REDIS_USER,
  type AdminContext,
  type ToolRecord,
} from './tool-admin.js';
