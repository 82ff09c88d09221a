// What a start must pass before anything changes: the tool's definitions against its quota
// (scheduled jobs; continuous jobs with the webservice), counted from its manifests, and what runs
// now against its quota of memory, CPU and running jobs, asked of the registrar (which counts from
// the kernel). The registrar decides again when the unit really starts; this check is there so
// that `toolhost jobs run` and `webservice start` refuse at once, in Toolforge's words, instead of
// leaving a job that cannot start.
import { ToolhostError } from '../errors.js';
import { readJobs, type JobSpec } from '../jobs/index.js';
import { admit, admitDefinitions, readQuota, type Definitions, type UnitUsage } from '../limits/index.js';
import { withRegistrar } from '../registrar/index.js';
import { stateDirectory } from '../state-dir.js';
import type { ControlContext } from './control.js';
import { readManifest } from './manifest.js';

/** what the tool has defined: scheduled jobs, and continuous jobs counting the webservice */
export function definitionsOf(jobs: readonly Pick<JobSpec, 'type'>[], webservice: boolean): Definitions {
  return { cron: jobs.filter((j) => j.type === 'scheduled').length, continuous: jobs.filter((j) => j.type === 'continuous').length + (webservice ? 1 : 0) };
}

export function currentDefinitions(ctx: ControlContext): Definitions {
  return definitionsOf(readJobs(ctx.tool.home), readManifest(ctx.tool.home) !== null);
}

/**
 * Throws the quota's refusal (TH_ERR_QUOTA_DEFINITIONS, TH_ERR_QUOTA_EXCEEDED,
 * TH_ERR_JOB_LIMIT_EXCEEDED) for a change to `after` definitions and a unit about to start now.
 */
export async function checkStart(ctx: ControlContext, after: Definitions, starting: UnitUsage | null): Promise<void> {
  const quota = readQuota(stateDirectory(ctx.env), ctx.tool.name);
  const defs = admitDefinitions(currentDefinitions(ctx), after, quota);
  if (defs) throw new ToolhostError(defs.code, ...defs.args);
  if (!starting) return;
  let running: readonly UnitUsage[];
  try {
    running = (await withRegistrar(ctx.registrarDir, ctx.tool.name, (c) => c.quota(), 1000)).running;
  } catch {
    // no registrar to ask: the unit's own start is refused if it must be
    running = [];
  }
  const refusal = admit(starting, running, quota);
  if (refusal) throw new ToolhostError(refusal.code, ...refusal.args);
}
