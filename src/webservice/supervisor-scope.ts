// Which units one supervisor process runs: on this host, or inside one Slurm job (issue 15).
import type { JobSpec } from '../jobs/index.js';
import type { Manifest } from './manifest.js';

/**
 * What one supervisor process runs. `local`: what runs on this host — the webservice and the
 * continuous jobs that are not Slurm's. In a Slurm job (issue 15) the same supervisor runs one
 * unit: the webservice (`slurm-web`) or one continuous job (`slurm-job`), on the node Slurm chose.
 */
export type SupervisorScope = { readonly kind: 'local' } | { readonly kind: 'slurm-web' } | { readonly kind: 'slurm-job'; readonly job: string };

export const LOCAL_SCOPE: SupervisorScope = { kind: 'local' };

/** whether the scope runs this webservice manifest */
export function scopeRunsWeb(scope: SupervisorScope, manifest: Manifest | null): manifest is Manifest {
  if (!manifest) return false;
  return scope.kind === 'local' ? manifest.backend !== 'slurm' : scope.kind === 'slurm-web' && manifest.backend === 'slurm';
}

/** the continuous jobs the scope runs */
export function scopeJobs(scope: SupervisorScope, jobs: readonly JobSpec[]): JobSpec[] {
  const continuous = jobs.filter((j) => j.type === 'continuous');
  if (scope.kind === 'local') return continuous.filter((j) => j.backend !== 'slurm');
  if (scope.kind === 'slurm-job') return continuous.filter((j) => j.backend === 'slurm' && j.name === scope.job);
  return [];
}
