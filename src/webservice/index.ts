// Webservices of tools: their server configurations, supervisors, control and the host monitor.
export {
  buildLighttpdConfig,
  toolEnvironment,
  PHP_CGI,
  USER_CONFIG_NAME,
  type LighttpdConfigOptions,
  type LighttpdType,
  type ToolLighttpdConfig,
} from './lighttpd-config.js';
export { readManifest, readManifestOf, writeManifest, removeManifest, manifestPath, MANIFEST_NAME, type Manifest } from './manifest.js';
export { webserviceType, versionNote, WEBSERVICE_TYPES, TYPE_WORDS_HELP, type TypeWord, type WebserviceType } from './webservice-types.js';
export { startWebservice, stopWebservice, restartWebservice, statusOf, launchSupervisor, wakeSupervisor, type ControlContext, type RestartResult, type Status, type StartResult } from './control.js';
export { defineJob, deleteJobs, findJob, jobStatuses, loadJobs, restartJob, startRun, waitForRun, type JobsContext, type JobStatus, type LoadResult } from './jobs-control.js';
export { checkStart, currentDefinitions, definitionsOf } from './admission.js';
export { readState, supervisorPid, SERVICE_LOG, type ServiceState, type ServiceStateName } from './service-state.js';
export { ERROR_LOG, serverCommandLine } from './server-instance.js';
export { HostMonitor, type MonitorOptions, type MonitorVerdict } from './monitor.js';
export {
  addMaintainer,
  createProxyUser,
  createRegistrarUser,
  createTool,
  deleteTool,
  describeTool,
  listTools,
  removeMaintainer,
  syncTools,
  toolRecord,
  redisUserOf,
  CREDENTIALS_FILE,
  PROXY_REDIS_USER,
  REGISTRAR_REDIS_USER,
  type AdminContext,
  type CreateOptions,
  type ToolRecord,
} from './tool-admin.js';
export { syncRedisUsers, parseAclLine, canonicalRules, type NodeSync, type SyncOptions } from './redis-users.js';
