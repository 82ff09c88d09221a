// A unit's limits in one status line (webservice status, jobs show).
import type { LimitsSummary } from '../limits/index.js';
import { formatCpu, formatMemory } from '../limits/quantities.js';

export function limitsText(l: LimitsSummary): string {
  const amounts = `memory ${formatMemory(l.memory)}, cpu ${formatCpu(l.cpu)}`;
  return l.enforced ? `${amounts} (enforced by cgroups)` : `${amounts} (not enforced by cgroups: rlimits only, CPU not limited)`;
}
