// One run of a one-off or scheduled job as a Slurm batch job (issue 15): submitted as the tool
// (by `toolhost jobs run`, or by the run's runner that the monitor's schedule started as the
// tool), in the job's partition with its --mem/--cpu, its output appended to the job's log
// files, its --retry as reruns inside the batch job, its --timeout as Slurm's time limit.
import path from 'node:path';
import { toolProcessEnvironment, type Tool } from '../accounts/index.js';
import { resourcesOf } from '../limits/quota.js';
import { jobJobName, SlurmClient, slurmResources, slurmSettings } from '../slurm/index.js';
import { logFiles, type JobSpec } from './job-spec.js';

/** the batch script: the command through /bin/sh, rerun up to --retry times while it fails */
export function runScript(spec: JobSpec): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    'attempt=0',
    'while :; do',
    `  /bin/sh -c ${q(spec.command)} && exit 0`,
    '  status=$?',
    '  attempt=$((attempt + 1))',
    `  [ "$attempt" -gt ${spec.retry} ] && exit "$status"`,
    'done',
    '',
  ].join('\n');
}

/** submit one run; its Slurm job id */
export async function submitSlurmRun(tool: Tool, spec: JobSpec, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const settings = slurmSettings(env);
  const client = SlurmClient.of(settings, env);
  const logs = logFiles(spec);
  const file = (f: string | null): string => (f === null || f === '/dev/null' ? '/dev/null' : path.resolve(tool.home, f));
  const args = [
    `--job-name=${jobJobName(tool.name, spec.name)}`,
    `--partition=${spec.partition ?? settings.partition}`,
    // a run is not repeated behind its maintainer's back when a node fails: it fails, and says so
    '--no-requeue',
    `--chdir=${tool.home}`,
    `--output=${file(logs.stdout)}`,
    `--error=${file(logs.stderr)}`,
    '--open-mode=append',
    '--export=ALL',
    ...slurmResources(resourcesOf(spec)),
    // Slurm counts whole minutes
    ...(spec.timeout !== undefined ? [`--time=${Math.max(1, Math.ceil(spec.timeout / 60))}`] : []),
  ];
  const jobEnv = toolProcessEnvironment(tool, env);
  delete jobEnv.TOOLHOST_RUNTIME_DIR;
  delete jobEnv.TOOLHOST_REGISTRAR_DIR;
  return client.submit(runScript(spec), args, jobEnv);
}
