// Generic process supervision: spawn, probe, stop.
export { startProcess, ManagedProcess, StartAborted, StartError, type ExitInfo, type StartOptions } from './child-process.js';
export { httpProbe, tcpProbe } from './probes.js';
export { startRedisServer, type RedisServer } from './redis-server.js';
export { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';
export { processInfo, type ProcessInfo } from './process-info.js';
export { Unit, UnitConfigError, type Orphan, type UnitDriver, type UnitInstance, type UnitOptions, type UnitSnapshot, type UnitState } from './unit.js';
export { gated, openGate } from './gate.js';
