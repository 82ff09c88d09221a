// Limits and quotas: what one unit and one tool may use, enforced by the kernel (cgroups) where
// the host allows it and by rlimits where not (docs/reference/limits.md).
export { formatCpu, formatMemory, parseCpu, parseMemory, QuantityError, quantityOption } from './quantities.js';
export { admit, admitDefinitions, DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_QUOTA, forgetQuota, QUOTA_KEYS, readQuota, resourcesOf, unitKind, unitName, writeQuota, type Definitions, type Refusal, type ToolQuota, type UnitKind, type UnitUsage } from './quota.js';
export { CgroupTree, describeCgroups, detectCgroups, HELPERS_UNIT, readUnitEvents, type CgroupMounts, type UnitEvents, type UnitLimits } from './cgroups.js';
export { LimitsService, type Admission, type Enforcement, type LimitsResult, type QuotaView } from './limits-service.js';
export { describeExit, exitCause, type ExitCause } from './exit-report.js';
export { UnitGuard, type LimitsPeer, type LimitsSummary, type UnitRequest } from './unit-guard.js';
