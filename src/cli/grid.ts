// The grid commands of the 2014 Tool Labs help (seed 000) — jsub, jstart, jstop, job, qstat — as
// thin wrappers over toolhost's jobs, so the help's own examples run as written:
//   jsub [-N name] [-once] [-continuous] [-mem 500m] [-l h_vmem=256M] [-quiet] [-o f] [-e f]
//        [-j y] [-cwd] [-sync y] [-q queue] program [args…]      Your job N ("name") has been submitted
//   jstart … (= jsub -once -continuous)   jstop NAME   job [-v] NAME   qstat
// As on the grid, the arguments after the program are joined with spaces for a shell, which
// strips one layer of quotes (jsub program -arg1 "'^(foo|bar)$'"); jobs run in the home unless
// -cwd. Differences, and why: docs/reference/jobs.md#grid.
import { stateDirectory } from '../state-dir.js';
import { createHash } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { resolveTool, runtimeDirectory } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { logFiles, readJobs, type JobInput, type JobRecord, type JobSpec } from '../jobs/index.js';
import { registrarDir } from '../registrar/index.js';
import { defineJob, deleteJobs, jobStatuses, waitForRun, type JobsContext } from '../webservice/index.js';
import { runAsToolIfRoot } from './as-tool.js';
import type { CliIo } from './io.js';
import { checkedSpec } from './jobs.js';

/** a grid job name (Mixed_Case allowed there) as a toolhost job name */
export function gridJobName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '').slice(0, 52);
  return n || 'job';
}

/** a grid job id: a number, the same for a job's whole life (jsub's answer, job, qstat agree) */
export function gridJobId(tool: string, job: string): number {
  return createHash('sha256').update(`${tool}/${job}`).digest().readUInt32BE(0) % 10_000_000;
}

/** -mem 500m / 4g / 256M (grid sizes, binary) as a memory quantity (500Mi, 4Gi, 256Mi) */
export function gridMemory(value: string): string {
  const m = /^(\d+(?:\.\d+)?)([kmgKMG])?$/.exec(value.trim());
  if (!m) throw new ToolhostError('TH_ERR_USAGE', `-mem takes a number suffixed by k, m or g (e.g. 500m), not "${value}"`);
  return `${m[1]}${{ k: 'Ki', m: 'Mi', g: 'Gi' }[(m[2] ?? 'm').toLowerCase() as 'k' | 'm' | 'g']}`;
}

interface JsubOptions {
  name?: string;
  once: boolean;
  continuous: boolean;
  mem?: string;
  quiet: boolean;
  stdout?: string;
  stderr?: string;
  join: boolean;
  cwd: boolean;
  sync: boolean;
  command: string[];
}

/** qsub-style options, then the program and its arguments */
export function parseJsub(argv: readonly string[]): JsubOptions {
  const o: JsubOptions = { once: false, continuous: false, quiet: false, join: false, cwd: false, sync: false, command: [] };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new ToolhostError('TH_ERR_USAGE', `${flag} needs a value; usage: jsub [options] program [args...]`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) break;
    switch (a) {
      case '-N':
        o.name = value(a);
        break;
      case '-once':
        o.once = true;
        break;
      case '-continuous':
        o.continuous = true;
        break;
      case '-mem':
        o.mem = gridMemory(value(a));
        break;
      case '-l': {
        const v = value(a);
        const vmem = /(?:^|,)h_vmem=([^,]+)/.exec(v);
        if (vmem) o.mem = gridMemory(vmem[1] as string);
        break;
      }
      case '-quiet':
        o.quiet = true;
        break;
      case '-o':
        o.stdout = value(a);
        break;
      case '-e':
        o.stderr = value(a);
        break;
      case '-j':
        o.join = /^y(es)?$/i.test(value(a));
        break;
      case '-cwd':
        o.cwd = true;
        break;
      case '-sync':
        o.sync = /^y(es)?$/i.test(value(a));
        break;
      case '-q':
        // the grid's queues (task, continuous, webgrid-…) are chosen by the job's kind here
        value(a);
        break;
      case '-i':
        throw new ToolhostError('TH_ERR_USAGE', 'jsub: -i is not supported: jobs have no standard input; read the file in your program');
      default:
        throw new ToolhostError('TH_ERR_USAGE', `jsub: unknown option ${a}; see docs/reference/jobs.md#grid`);
    }
  }
  o.command = argv.slice(i);
  if (o.command.length === 0) throw new ToolhostError('TH_ERR_USAGE', 'usage: jsub [options] program [args...]');
  return o;
}

/** -o/-e given as a directory: NAME.out / NAME.err in it */
function logTarget(given: string | undefined, name: string, ext: string, cwd: string): string | undefined {
  if (given === undefined) return undefined;
  const abs = path.resolve(cwd, given);
  try {
    if (statSync(abs).isDirectory()) return path.join(abs, `${name}.${ext}`);
  } catch {
    // a file to be created
  }
  return abs;
}

function contextFor(io: CliIo): { ctx: JobsContext } {
  const tool = resolveTool({ env: io.env, cwd: io.cwd });
  return {
    ctx: {
      tool,
      runtimeDir: runtimeDirectory(tool, io.env),
      registrarDir: registrarDir(io.env),
      stateDir: stateDirectory(io.env),
      env: io.env,
    },
  };
}

/** the grid commands run as the tool: root drops to it first */
async function asTool(argv: readonly string[], io: CliIo, body: (ctx: JobsContext) => Promise<number> | number): Promise<number> {
  const { ctx } = contextFor(io);
  const dropped = await runAsToolIfRoot(ctx.tool, argv, io);
  return dropped ?? body(ctx);
}

function running(rec: JobRecord | null): boolean {
  return rec !== null && rec.finishedAt === null && rec.status !== 'stopped';
}

export async function jsubCommand(argv: readonly string[], io: CliIo, defaults: Partial<JsubOptions> = {}): Promise<number> {
  const o = { ...parseJsub(argv), ...defaults };
  return asTool(argv, io, async (ctx) => {
    const program = o.command[0] as string;
    const display = o.name ?? path.basename(program).replace(/\.[^.]*$/, '');
    const name = gridJobName(display);
    const existing = jobStatuses(ctx).find((s) => s.spec.name === name);
    if (existing && running(existing.record)) {
      if (o.once) {
        // as the grid does: the failed attempt is noted in the error file, and jsub returns at once
        const err = logFiles(existing.spec).stderr;
        if (err) {
          const fd = openSync(path.resolve(ctx.tool.home, err), 'a');
          writeSync(fd, `${new Date().toISOString()} jsub -once: job "${display}" is already running; not started again\n`);
          closeSync(fd);
        }
        io.err(`There is a job named '${display}' already active.\n`);
        return 1;
      }
      throw new ToolhostError('TH_ERR_JOB_EXISTS', name);
    }
    const cwd = io.cwd;
    const line = o.command.join(' ');
    // the grid's files are named after the job as given: My_Job.out
    const base = display.replace(/\//g, '_');
    const stdout = logTarget(o.stdout, base, 'out', cwd) ?? `${base}.out`;
    const stderr = o.join ? stdout : (logTarget(o.stderr, base, 'err', cwd) ?? `${base}.err`);
    const input: JobInput = {
      name,
      command: o.cwd ? `cd '${cwd.replace(/'/g, `'\\''`)}' && ${line}` : line,
      ...(o.continuous ? { continuous: true } : {}),
      ...(o.mem ? { mem: o.mem } : {}),
      'filelog-stdout': stdout,
      'filelog-stderr': stderr,
    };
    const spec: JobSpec = checkedSpec(input, ctx.tool.name);
    // a finished job of the same name is the grid's "same name, next run"
    if (existing) await deleteJobs(ctx, [name]);
    const runId = defineJob(ctx, spec);
    const id = gridJobId(ctx.tool.name, name);
    if (!o.quiet) io.out(`Your job ${id} ("${display}") has been submitted\n`);
    if (!o.sync || runId === null) return 0;
    const rec = await waitForRun(ctx, name, runId, 24 * 3600 * 1000);
    return rec.status === 'succeeded' ? 0 : (rec.exitCode ?? 1);
  });
}

export function jstartCommand(argv: readonly string[], io: CliIo): Promise<number> {
  return jsubCommand(argv, io, { once: true, continuous: true });
}

export async function jstopCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const given = argv[0];
  if (!given || argv.length !== 1) throw new ToolhostError('TH_ERR_USAGE', 'usage: jstop job_name');
  return asTool(argv, io, async (ctx) => {
    const name = gridJobName(given);
    if (!readJobs(ctx.tool.home).some((j) => j.name === name)) throw new ToolhostError('TH_ERR_JOB_UNKNOWN', given);
    await deleteJobs(ctx, [name]);
    io.out(`Job '${given}' has been stopped.\n`);
    return 0;
  });
}

export async function jobCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const verbose = argv[0] === '-v';
  const given = verbose ? argv[1] : argv[0];
  if (!given) throw new ToolhostError('TH_ERR_USAGE', 'usage: job [-v] job_name');
  return asTool(argv, io, (ctx) => {
    const s = jobStatuses(ctx).find((x) => x.spec.name === gridJobName(given));
    const rec = s?.record ?? null;
    if (!s || !running(rec)) {
      if (verbose) io.out(`Job '${given}' is not running\n`);
      return 1;
    }
    const id = gridJobId(ctx.tool.name, s.spec.name);
    const since = new Date(rec?.startedAt ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, '');
    io.out(verbose ? `Job '${given}' has been running since ${since} as id ${id}\n` : `${id}\n`);
    return 0;
  });
}

export async function qstatCommand(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length) throw new ToolhostError('TH_ERR_USAGE', 'usage: qstat (the tool\'s running and pending jobs; see toolhost jobs show NAME for one)');
  return asTool(argv, io, (ctx) => {
    const rows = jobStatuses(ctx).filter((s) => running(s.record));
    if (rows.length === 0) return 0;
    const user = ctx.tool.account?.user ?? `tools.${ctx.tool.name}`;
    const state = (r: JobRecord): string => (r.status === 'running' ? 'r' : r.status === 'crash-looping' ? 'Eqw' : 'qw');
    const lines = ['job-ID  prior   name       user         state submit/start at     queue                          slots ja-task-ID', '-'.repeat(110)];
    for (const s of rows) {
      const r = s.record as JobRecord;
      const at = new Date(r.startedAt ?? r.updatedAt);
      const when = `${String(at.getUTCMonth() + 1).padStart(2, '0')}/${String(at.getUTCDate()).padStart(2, '0')}/${at.getUTCFullYear()} ${at.toISOString().slice(11, 19)}`;
      const queue = s.spec.type === 'continuous' ? 'continuous' : 'task';
      lines.push(`${String(gridJobId(ctx.tool.name, s.spec.name)).padEnd(7)} 0.50000 ${s.spec.name.slice(0, 10).padEnd(10)} ${user.slice(0, 12).padEnd(12)} ${state(r).padEnd(5)} ${when} ${queue.padEnd(30)} 1`);
    }
    io.out(`${lines.join('\n')}\n`);
    return 0;
  });
}
