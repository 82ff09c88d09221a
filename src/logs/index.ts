// The logs toolhost keeps for tools — ~/error.log, ~/access.log, ~/service.log, jobs' output —
// capped in size and rotated without losing a line or restarting anything (docs/reference/logs.md).
// Used by the processes that run as the tool (its supervisor, a job's runner); never by root.
export { toolLogPolicy, parseLogBytes, LOG_CONFIG_FILE, SERVICE_LOG, MIN_LOG_BYTES, MAX_LOG_KEEP, type LogCap, type ToolLogPolicy } from './log-policy.js';
export { appendCapped, rotateNow } from './rotate.js';
export { CappedLog, planWrite, LONG_LINE_BYTES, type CappedLogOptions } from './capped-log.js';
export { LogPipe } from './log-pipe.js';
export { ToolLogs, ChildOutput, type LogKind, type LogTarget, type ToolLogsOptions } from './tool-logs.js';
export { olderGenerations } from './generations.js';
