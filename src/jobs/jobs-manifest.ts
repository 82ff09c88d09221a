// ~/jobs.manifest: the tool's job definitions, in the format of `toolhost jobs dump` (Toolforge's
// jobs.yaml keys), written by the tool itself (root drops to the tool before it writes) and read
// as a tool file: the monitor and the supervisor trust it only if the tool owns it and it is
// not a link. Written atomically: an exclusive temporary file, then a rename.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readOwnedFile, type Owner } from '../accounts/index.js';
import { onFirstUse } from '../on-first-use.js';
import { dumpJob, JobSpecError, parseJob, type JobSpec } from './job-spec.js';

const yaml = onFirstUse<typeof import('yaml')>('yaml');

export const JOBS_MANIFEST = 'jobs.manifest';
/** definitions one tool may keep (Toolforge's quota is 50 scheduled and 3 continuous) */
export const MAX_JOB_DEFINITIONS = 200;

const HEADER = '# This file is used by toolhost (toolhost jobs, toolhost monitor). Please do not edit it by hand:\n# toolhost jobs run/load/delete/flush change it; toolhost jobs dump prints it.\n';

export function jobsManifestPath(home: string): string {
  return path.join(home, JOBS_MANIFEST);
}

export interface JobsRead {
  readonly jobs: readonly JobSpec[];
  /** why the file was not used, when it was not (a link, another owner, not YAML) */
  readonly problem: string | null;
}

/** a YAML list of Toolforge job entries, each checked; JobSpecError naming the entry on the first bad one */
export function parseJobsYaml(text: string): JobSpec[] {
  let data: unknown;
  try {
    data = yaml().parse(text);
  } catch (err) {
    throw new JobSpecError([`not YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (data === null || data === undefined) return [];
  if (!Array.isArray(data)) throw new JobSpecError(['a jobs file is a YAML list of jobs (- name: ...)']);
  if (data.length > MAX_JOB_DEFINITIONS) throw new JobSpecError([`${data.length} jobs (at most ${MAX_JOB_DEFINITIONS})`]);
  const out: JobSpec[] = [];
  const names = new Set<string>();
  data.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new JobSpecError([`entry ${i + 1} is not a job (name: ..., command: ...)`]);
    let spec: JobSpec;
    try {
      spec = parseJob(entry as Record<string, unknown>);
    } catch (err) {
      if (err instanceof JobSpecError) throw new JobSpecError(err.problems.map((p) => `job ${JSON.stringify((entry as Record<string, unknown>).name ?? i + 1)}: ${p}`));
      throw err;
    }
    if (names.has(spec.name)) throw new JobSpecError([`job "${spec.name}" is defined twice`]);
    names.add(spec.name);
    out.push(spec);
  });
  return out;
}

export function jobsYaml(jobs: readonly JobSpec[]): string {
  return jobs.length ? yaml().stringify(jobs.map(dumpJob)) : '[]\n';
}

/** the tool's definitions, if the file is the tool's own */
export function readJobsOf(home: string, owner: Pick<Owner, 'uid'>): JobsRead {
  const read = readOwnedFile(jobsManifestPath(home), owner, 1024 * 1024);
  if (!read.ok) return { jobs: [], problem: read.missing ? null : read.reason };
  try {
    return { jobs: parseJobsYaml(read.text), problem: null };
  } catch (err) {
    return { jobs: [], problem: err instanceof JobSpecError ? err.message : String(err) };
  }
}

/** the caller's own definitions (the tool reading its home) */
export function readJobs(home: string): readonly JobSpec[] {
  return readJobsOf(home, { uid: process.getuid?.() ?? 0 }).jobs;
}

export function writeJobs(home: string, jobs: readonly JobSpec[]): void {
  const file = jobsManifestPath(home);
  if (jobs.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx': created here and now, never an existing file or a link someone planted
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, HEADER + jobsYaml(jobs));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
