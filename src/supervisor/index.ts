// Generic process supervision: spawn, probe, stop.
export { startProcess, ManagedProcess, StartError, type ExitInfo, type StartOptions } from './child-process.js';
export { httpProbe, tcpProbe } from './probes.js';
export { startRedisServer, type RedisServer } from './redis-server.js';
export { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';
export { processInfo, type ProcessInfo } from './process-info.js';
