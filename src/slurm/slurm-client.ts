// Slurm's own commands (sbatch, squeue, scancel, scontrol, sinfo) run as the caller — a tool's
// `webservice` or `toolhost jobs` runs them as the tool, so munge vouches for the tool's uid and
// Slurm itself refuses a tool what is another's. Nothing here trusts a file a tool wrote: a job
// is found by what slurmctld says of it (its owner's uid and its name).
import { spawn } from 'node:child_process';
import { ToolhostError } from '../errors.js';
import type { SlurmSettings } from './settings.js';

export interface SlurmJob {
  readonly id: number;
  readonly name: string;
  /** Slurm's state: PENDING, RUNNING, COMPLETING, REQUEUED, … */
  readonly state: string;
  /** the node it runs on (empty while pending) */
  readonly node: string;
  /** why it waits, or None */
  readonly reason: string;
  readonly partition: string;
  /** what the job's supervisor says of its server (`running http://…`); the tool's own words */
  readonly comment: string;
}

interface Output {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** the caller's environment for Slurm's commands: no SLURM_* of its own but SLURM_CONF when the operator names one */
export function slurmEnvironment(slurmConf: string | null, base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith('SLURM_')) env[k] = v;
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  if (slurmConf) env.SLURM_CONF = slurmConf;
  return env;
}

function firstError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error/i.test(l)) ?? lines[0] ?? 'no message';
  return line.replace(/^(sbatch|squeue|scancel|scontrol|sinfo): (error: )?/, '');
}

const UNREACHABLE = /Unable to contact slurm controller|Socket timed out|Zero Bytes were transmitted|Connection refused|Communication connection failure/i;

export class SlurmClient {
  readonly #slurmConf: string | null;
  readonly #env: Record<string, string>;

  /** `slurmConf`: the settings' (a command typed by a maintainer), or the job's own SLURM_CONF (inside a job) */
  constructor(slurmConf: string | null, env: Readonly<Record<string, string | undefined>>) {
    this.#slurmConf = slurmConf;
    this.#env = slurmEnvironment(slurmConf, env);
  }

  static of(settings: SlurmSettings, env: Readonly<Record<string, string | undefined>>): SlurmClient {
    return new SlurmClient(settings.slurmConf, env);
  }

  #run(command: string, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Output> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env: options.env ?? this.#env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new ToolhostError('TH_ERR_SLURM_NOT_INSTALLED', command) : err));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    });
  }

  /** a command that must succeed: a silent controller is TH_ERR_SLURM_UNREACHABLE, anything else `refused` */
  async #must(command: string, args: readonly string[], refused: (message: string) => ToolhostError, options: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
    const out = await this.#run(command, args, options);
    // scancel exits 0 even when it fails; with --verbose it at least says "error: …"
    if (out.code === 0 && !(command === 'scancel' && /error:/.test(out.stderr))) return out.stdout;
    const message = firstError(out.stderr);
    if (UNREACHABLE.test(out.stderr)) throw new ToolhostError('TH_ERR_SLURM_UNREACHABLE', message, this.#slurmConf ?? 'the default slurm.conf');
    throw refused(message);
  }

  /** the partitions the caller may submit to */
  async partitions(): Promise<string[]> {
    const out = await this.#must('sinfo', ['-h', '-o', '%R'], (m) => new ToolhostError('TH_ERR_SLURM_UNREACHABLE', m, this.#slurmConf ?? 'the default slurm.conf'));
    return [...new Set(out.split('\n').map((l) => l.trim()).filter(Boolean))];
  }

  /** TH_ERR_SLURM_PARTITION_UNKNOWN unless the partition exists */
  async checkPartition(partition: string): Promise<void> {
    const known = await this.partitions();
    if (!known.includes(partition)) throw new ToolhostError('TH_ERR_SLURM_PARTITION_UNKNOWN', partition, known.join(', ') || 'none');
  }

  /** the jobs of `uid` (Slurm's word for whose they are) still in the queue, named `name` when given */
  async jobsOf(uid: number, name?: string, finishedToo = false): Promise<SlurmJob[]> {
    // finishedToo: also the jobs that ended less than MinJobAge ago (COMPLETED, FAILED, …)
    const args = ['-h', '-u', String(uid), '-o', '%i|%j|%T|%N|%r|%P|%k', ...(finishedToo ? ['-t', 'all'] : [])];
    if (name !== undefined) args.push('-n', name);
    const out = await this.#must('squeue', args, (m) => new ToolhostError('TH_ERR_SLURM_UNREACHABLE', m, this.#slurmConf ?? 'the default slurm.conf'));
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [id = '', jobName = '', state = '', node = '', reason = '', partition = '', ...comment] = line.split('|');
        const c = comment.join('|');
        return { id: Number(id), name: jobName, state, node, reason, partition, comment: c === '(null)' ? '' : c };
      })
      // squeue -n matches exactly, but a name given to squeue is also matched by a job array's tasks: keep plain ids
      .filter((j) => Number.isInteger(j.id) && (name === undefined || j.name === name));
  }

  /**
   * sbatch of `script` (on stdin) with `args`; the job's environment is `env` and nothing else
   * of the caller's. Its id, or TH_ERR_SLURM_PARTITION_UNKNOWN / TH_ERR_SLURM_SUBMIT_REFUSED.
   */
  async submit(script: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<number> {
    const jobEnv = { ...env, ...(this.#slurmConf ? { SLURM_CONF: this.#slurmConf } : {}) };
    const out = await this.#must('sbatch', ['--parsable', ...args], (m) => (/invalid partition/i.test(m) ? new ToolhostError('TH_ERR_SLURM_PARTITION_UNKNOWN', /--partition=([^\s]+)/.exec(args.join(' '))?.[1] ?? '?', 'see sinfo') : new ToolhostError('TH_ERR_SLURM_SUBMIT_REFUSED', m)), { input: script, env: jobEnv });
    const id = Number(out.trim().split(';')[0]);
    if (!Number.isInteger(id) || id <= 0) throw new ToolhostError('TH_ERR_SLURM_SUBMIT_REFUSED', `sbatch printed no job id: ${out.trim()}`);
    return id;
  }

  /** a signal to the job's batch step alone (its supervisor), which stops its units itself */
  async signalBatch(id: number, signal: 'TERM' | 'HUP' | 'USR1'): Promise<void> {
    await this.#must('scancel', ['--verbose', '--batch', `--signal=${signal}`, String(id)], (m) => new ToolhostError('TH_ERR_SLURM_CANCEL_FAILED', id, m));
  }

  /** Slurm ends the job: every process of it, on whatever node */
  async cancel(id: number): Promise<void> {
    await this.#must('scancel', ['--verbose', String(id)], (m) => new ToolhostError('TH_ERR_SLURM_CANCEL_FAILED', id, m));
  }

  /** the address Slurm reaches a node at (its NodeAddr) */
  async nodeAddress(node: string): Promise<string | null> {
    const out = await this.#run('scontrol', ['show', 'node', '-o', node]);
    return out.code === 0 ? (/\bNodeAddr=(\S+)/.exec(out.stdout)?.[1] ?? null) : null;
  }

  /** the job's comment, from inside the job (its owner may set it) */
  async setComment(id: number, comment: string): Promise<void> {
    await this.#must('scontrol', ['update', `JobId=${id}`, `Comment=${comment}`], (m) => new ToolhostError('TH_ERR_SLURM_SUBMIT_REFUSED', m));
  }
}

/** the job's name in Slurm for a tool's webservice and for one of its jobs (with the owner's uid, what finds it) */
export function webJobName(tool: string): string {
  return `toolhost-web-${tool}`;
}

export function jobJobName(tool: string, job: string): string {
  return `toolhost-job-${tool}-${job}`;
}

/** Slurm's memory option from bytes (whole MiB, at least 1) and its CPUs from thousandths (whole CPUs, at least 1) */
export function slurmResources(resources: { readonly memory: number; readonly cpu: number }): string[] {
  return [`--mem=${Math.max(1, Math.ceil(resources.memory / (1024 * 1024)))}M`, `--cpus-per-task=${Math.max(1, Math.ceil(resources.cpu / 1000))}`];
}

/** the job's name prefix for all of a tool's jobs (squeue lists them; the uid says whose) */
export function jobNamePrefix(tool: string): string {
  return `toolhost-job-${tool}-`;
}

/** the states in which a job holds (or is about to hold) its node */
export function isActive(job: SlurmJob): boolean {
  return job.state === 'RUNNING' || job.state === 'CONFIGURING' || job.state === 'COMPLETING';
}
