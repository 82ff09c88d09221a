// A job as a maintainer defines it, with the names Toolforge's jobs framework uses (seed 001):
// the options of `toolforge jobs run` and the keys of its jobs.yaml, so wiki pages and the
// files kept in tools' repositories work unchanged. One parser for both: the CLI turns its
// options into the same object a YAML entry is.
import { DEFAULT_JOB_EMAILS, EMAIL_POLICIES, isEmailPolicy, type EmailPolicy } from '../notify/policy.js';
import { formatMessage } from '../errors.js';
// the notation alone: \`webservice --help\` and \`status\` read this module (#14)
import { parseCpu, parseMemory, QuantityError } from '../limits/quantities.js';

export type JobType = 'one-off' | 'continuous' | 'scheduled';

export interface JobSpec {
  readonly name: string;
  readonly command: string;
  readonly type: JobType;
  /** scheduled: five-field cron or @hourly/@daily/@weekly/@monthly/@yearly, as written */
  readonly schedule?: string;
  /** scheduled: an IANA zone the schedule is read in (default UTC) */
  readonly timezone?: string;
  /** file logs (default on): ~/NAME.out and ~/NAME.err, appended */
  readonly filelog: boolean;
  readonly stdout?: string;
  readonly stderr?: string;
  /** one-off and scheduled: reruns of a failed run (0..5) */
  readonly retry: number;
  /** one-off and scheduled: seconds a run may take (TERM, then KILL) */
  readonly timeout?: number;
  /** continuous: a command whose non-zero exit is a failed health check */
  readonly healthCheckScript?: string;
  /** continuous: the port the job's server listens on (PORT); with publish, the tool's route */
  readonly port?: number;
  readonly publish?: boolean;
  readonly emails: EmailPolicy;
  /** memory and CPU as written (512Mi, 0.5): the unit's cgroup limits (jobResources) */
  readonly mem?: string;
  readonly cpu?: string;
  /** where it runs: on this host (absent), or as Slurm jobs (issue 15) */
  readonly backend?: 'slurm';
  /** the Slurm partition (backend slurm; absent: the operator's) */
  readonly partition?: string;
  /** accepted and recorded: toolhost runs jobs on the host, there are no container images */
  readonly image?: string;
  readonly mount?: string;
}

/** a YAML entry or the CLI's options: Toolforge's keys */
export type JobInput = Readonly<Record<string, unknown>>;

export const JOB_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{0,51}$/;

export function isJobName(name: string): boolean {
  return JOB_NAME_PATTERN.test(name) && !name.endsWith('.') && !name.endsWith('-') && !name.includes('..');
}

/** what is wrong with an entry, one message per problem (with TH_ERR_JOB_INVALID's wording) */
export class JobSpecError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'JobSpecError';
  }
}

const KNOWN_KEYS = new Set([
  'name',
  'command',
  'image',
  'continuous',
  'schedule',
  'timezone',
  'wait',
  'no-filelog',
  'filelog',
  'filelog-stdout',
  'filelog-stderr',
  'retry',
  'timeout',
  'health-check-script',
  'port',
  'publish',
  'emails',
  'mem',
  'cpu',
  'mount',
  'backend',
  'partition',
]);

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function flag(v: unknown): boolean {
  return v === true || v === 'true' || v === 'yes';
}

/** a checked JobSpec from Toolforge's keys; throws JobSpecError listing every problem */
export function parseJob(input: JobInput): JobSpec {
  const problems: string[] = [];
  const name = text(input.name) ?? '';
  if (!isJobName(name)) problems.push(formatMessage('TH_ERR_JOB_NAME_INVALID', [name]));
  for (const key of Object.keys(input)) if (!KNOWN_KEYS.has(key)) problems.push(`unknown key "${key}"`);
  const command = text(input.command)?.trim() ?? '';
  if (!command) problems.push('a job needs a command (--command "./script.sh ARGS")');
  else if (command.includes('\n') || command.includes('\0')) problems.push('the command must be one line');
  else if (command.length > 4096) problems.push('the command is longer than 4096 characters');
  const continuous = flag(input.continuous);
  const schedule = text(input.schedule)?.trim();
  if (continuous && schedule) problems.push('a job is either continuous or scheduled, not both');
  const type: JobType = continuous ? 'continuous' : schedule ? 'scheduled' : 'one-off';
  const retry = input.retry === undefined ? 0 : Number(input.retry);
  if (!Number.isInteger(retry) || retry < 0 || retry > 5) problems.push(`retry must be 0 to 5, not ${JSON.stringify(input.retry)}`);
  const timeout = input.timeout === undefined ? undefined : Number(input.timeout);
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) problems.push(`timeout must be a number of seconds, not ${JSON.stringify(input.timeout)}`);
  if (timeout !== undefined && type === 'continuous') problems.push('a continuous job has no timeout: it is meant to run for ever');
  const port = input.port === undefined ? undefined : Number(input.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1024 || port > 65535)) problems.push(`port must be 1024 to 65535, not ${JSON.stringify(input.port)}`);
  const publish = flag(input.publish);
  if ((port !== undefined || publish) && type !== 'continuous') problems.push('--port and --publish are for continuous jobs (a server that keeps running)');
  if (publish && port === undefined) problems.push('--publish needs --port N: the port the job listens on');
  const hc = text(input['health-check-script']);
  if (hc !== undefined && type !== 'continuous') problems.push('You can only configure a health-check for a continuous job.');
  const emails = (text(input.emails) ?? DEFAULT_JOB_EMAILS) as EmailPolicy;
  if (!isEmailPolicy(emails)) problems.push(`emails must be one of ${EMAIL_POLICIES.join(', ')}, not ${JSON.stringify(input.emails)}`);
  const noFilelog = flag(input['no-filelog']);
  if (noFilelog && flag(input.filelog)) problems.push('--filelog and --no-filelog contradict each other');
  const stdout = text(input['filelog-stdout']);
  const stderr = text(input['filelog-stderr']);
  for (const [key, file] of [['filelog-stdout', stdout], ['filelog-stderr', stderr]] as const) {
    if (file !== undefined && (file === '' || file.includes('\0') || file.length > 1024)) problems.push(`${key} must be a file name`);
  }
  for (const [key, parse] of [['mem', parseMemory], ['cpu', parseCpu]] as const) {
    const v = text(input[key]);
    if (v === undefined) continue;
    try {
      parse(v);
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      problems.push(`--${key}: ${err.message}`);
    }
  }
  if (type === 'scheduled' && schedule && schedule.length > 200) problems.push('the schedule is too long');
  const backend = text(input.backend);
  if (backend !== undefined && backend !== 'local' && backend !== 'slurm') problems.push(`backend must be local or slurm, not ${JSON.stringify(input.backend)}`);
  const partition = text(input.partition);
  if (partition !== undefined && (backend !== 'slurm' || !/^[A-Za-z0-9_.-]{1,64}$/.test(partition))) problems.push(backend === 'slurm' ? `partition must be a Slurm partition name, not ${JSON.stringify(partition)}` : '--partition is for --backend slurm');
  if (problems.length) throw new JobSpecError(problems);
  const spec: JobSpec = {
    name,
    command,
    type,
    ...(schedule ? { schedule } : {}),
    ...(text(input.timezone) ? { timezone: text(input.timezone) } : {}),
    filelog: !noFilelog,
    ...(stdout !== undefined ? { stdout } : {}),
    ...(stderr !== undefined ? { stderr } : {}),
    retry,
    ...(timeout !== undefined ? { timeout } : {}),
    ...(hc !== undefined ? { healthCheckScript: hc } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(publish ? { publish } : {}),
    emails,
    ...(text(input.mem) ? { mem: text(input.mem) } : {}),
    ...(text(input.cpu) ? { cpu: text(input.cpu) } : {}),
    ...(text(input.image) ? { image: text(input.image) } : {}),
    ...(text(input.mount) ? { mount: text(input.mount) } : {}),
    ...(backend === 'slurm' ? { backend: 'slurm' as const } : {}),
    ...(partition !== undefined ? { partition } : {}),
  };
  return spec;
}

/** the YAML entry `jobs dump` writes: Toolforge's keys, defaults left out, so `load` reads it back */
export function dumpJob(spec: JobSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { name: spec.name, command: spec.command };
  if (spec.image) out.image = spec.image;
  if (spec.type === 'continuous') out.continuous = true;
  if (spec.schedule) out.schedule = spec.schedule;
  if (spec.timezone) out.timezone = spec.timezone;
  if (!spec.filelog) out['no-filelog'] = true;
  if (spec.stdout !== undefined) out['filelog-stdout'] = spec.stdout;
  if (spec.stderr !== undefined) out['filelog-stderr'] = spec.stderr;
  if (spec.retry) out.retry = spec.retry;
  if (spec.timeout !== undefined) out.timeout = spec.timeout;
  if (spec.healthCheckScript !== undefined) out['health-check-script'] = spec.healthCheckScript;
  if (spec.port !== undefined) out.port = spec.port;
  if (spec.publish) out.publish = true;
  if (spec.emails !== 'none') out.emails = spec.emails;
  if (spec.mem) out.mem = spec.mem;
  if (spec.cpu) out.cpu = spec.cpu;
  if (spec.mount) out.mount = spec.mount;
  if (spec.backend) out.backend = spec.backend;
  if (spec.partition) out.partition = spec.partition;
  return out;
}

/** where a job's output goes: ~/NAME.out and ~/NAME.err unless set; null when file logs are off */
export function logFiles(spec: JobSpec): { stdout: string | null; stderr: string | null } {
  if (!spec.filelog && spec.stdout === undefined && spec.stderr === undefined) return { stdout: null, stderr: null };
  return { stdout: spec.stdout ?? `${spec.name}.out`, stderr: spec.stderr ?? `${spec.name}.err` };
}

/** `toolforge jobs list`'s "Job type:" column */
export function typeLabel(spec: JobSpec): string {
  if (spec.type === 'scheduled') return `schedule: ${spec.schedule}`;
  return spec.type === 'continuous' ? 'continuous' : 'normal';
}

