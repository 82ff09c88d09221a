// What `toolhost jobs` (also `toolforge jobs`) does: Toolforge's tables, status words and
// messages (seed 001) over toolhost's jobs. Its subcommands and options are in jobs-command.ts,
// which loads this module only when one of them runs, not for their --help (#14).
import { stateDirectory } from '../state-dir.js';
import { noticeStatus } from '../notify/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { resolveTool, runtimeDirectory, type Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { internalLogPath, JobSpecError, type JobRecord, jobsYaml, logFiles, parseJob, parseJobsYaml, parseSchedule, readJobs, typeLabel, type JobInput, type JobSpec } from '../jobs/index.js';
import { registrarDir, withRegistrar } from '../registrar/index.js';
import { DEFAULT_CPU, DEFAULT_MEMORY, describeExit, formatCpu, formatMemory, readQuota, resourcesOf, unitName, type QuotaView } from '../limits/index.js';
import { limitsText } from './limits-text.js';
import { checkStart, currentDefinitions, defineJob, deleteJobs, findJob, jobStatuses, loadJobs, restartJob, waitForRun, type JobsContext, type JobStatus } from '../webservice/index.js';
import { runAsToolIfRoot } from './as-tool.js';
import type { CliIo } from './io.js';
import { DEFAULT_WAIT_S, type RunOptions, type ToolOptions } from './jobs-command.js';
import { lineCount, tailFiles } from './tail.js';

/** Toolforge's keys from the options: one parser for the CLI and jobs.yaml (parseJob) */
function inputOf(name: string, o: RunOptions): JobInput {
  const input: Record<string, unknown> = { name, command: o.command };
  const set = (key: string, v: unknown): void => {
    if (v !== undefined) input[key] = v;
  };
  set('continuous', o.continuous);
  set('schedule', o.schedule);
  set('timezone', o.timezone);
  // commander turns --no-filelog into filelog: false
  if (o.filelog === false || o.noFilelog) input['no-filelog'] = true;
  set('filelog-stdout', o.filelogStdout);
  set('filelog-stderr', o.filelogStderr);
  set('retry', o.retry);
  set('timeout', o.timeout);
  set('health-check-script', o.healthCheckScript);
  set('port', o.port);
  set('publish', o.publish);
  set('emails', o.emails);
  set('mem', o.mem);
  set('cpu', o.cpu);
  set('image', o.image);
  set('mount', o.mount);
  if (o.backend !== 'local') set('backend', o.backend);
  set('partition', o.partition);
  return input;
}

/** a checked spec, its schedule too (TH_ERR_JOB_* on any problem) */
export function checkedSpec(input: JobInput, tool: string): JobSpec {
  let spec: JobSpec;
  try {
    spec = parseJob(input);
  } catch (err) {
    if (!(err instanceof JobSpecError)) throw err;
    const nameProblem = err.problems.find((p) => p.startsWith('invalid job name'));
    if (nameProblem && err.problems.length === 1) throw new ToolhostError('TH_ERR_JOB_NAME_INVALID', typeof input.name === 'string' ? input.name : JSON.stringify(input.name ?? ''));
    throw new ToolhostError('TH_ERR_JOB_INVALID', err.problems.join('; '));
  }
  checkSchedule(spec, tool);
  return spec;
}

/** a scheduled job's schedule (and time zone) must be one the monitor can fire */
function checkSchedule(spec: JobSpec, tool: string): void {
  if (!spec.schedule) return;
  const schedule = parseSchedule(spec.schedule, tool, spec.name, spec.timezone ?? 'UTC');
  if (typeof schedule === 'string') throw new ToolhostError('TH_ERR_JOB_SCHEDULE_INVALID', schedule);
}

function iso(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** how the record's last process ended, with the kernel's word on memory */
function outcomeText(r: JobRecord): string {
  if (r.cause) return describeExit(r.cause);
  return r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
}

/** the "Status:" column, in Toolforge's words */
export function statusText(s: JobStatus): string {
  const r = s.record;
  if (s.spec.type === 'continuous') {
    switch (r?.status) {
      case 'running':
        return 'Running';
      case 'backing-off':
        return `Restarting (${r.restarts} restart(s))`;
      case 'crash-looping':
        return `Crash-looping (${r.restarts} restarts): ${r.message}`;
      case 'stopping':
        return 'Stopping';
      case 'stopped':
        return 'Stopped';
      case 'failed':
        return `Failed: ${r.message}`;
      default:
        return 'Starting';
    }
  }
  if (r?.status === 'refused') return `Refused: ${r.message}`;
  if (s.spec.type === 'scheduled') {
    if (r && r.finishedAt === null && r.status !== 'starting') return `Running (schedule time: ${iso(r.scheduledFor ?? r.startedAt)})`;
    const last = r?.scheduledFor ?? s.schedule?.lastFired ?? (r?.startedAt ? iso(r.startedAt) : null);
    if (!last) return s.schedule?.next ? `Waiting for its first run (${iso(s.schedule.next)})` : 'Waiting for its first run';
    const outcome = r?.status === 'failed' ? ` (failed: ${outcomeText(r)})` : r?.status === 'timed-out' ? ' (timed out)' : '';
    return `Last schedule time: ${iso(last)}${outcome}`;
  }
  switch (r?.status) {
    case 'running':
      return r.attempts > 1 ? `Running (attempt ${r.attempt} of ${r.attempts})` : 'Running';
    case 'succeeded':
      return 'Completed';
    case 'failed':
      return `Failed (${outcomeText(r)})`;
    case 'timed-out':
      return 'Timed out';
    default:
      return 'Starting';
  }
}

/** a table as `toolforge jobs list` prints it: "Name:" headers, dashes, columns two spaces apart */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** `toolforge jobs show`'s boxed two-column table */
function box(rows: readonly (readonly [string, string])[]): string {
  const w1 = Math.max(...rows.map(([k]) => k.length));
  const w2 = Math.max(...rows.map(([, v]) => v.length));
  const rule = `+${'-'.repeat(w1 + 2)}+${'-'.repeat(w2 + 2)}+`;
  return [rule, ...rows.flatMap(([k, v]) => [`| ${k.padEnd(w1)} | ${v.padEnd(w2)} |`, rule])].join('\n') + '\n';
}

function logColumns(spec: JobSpec, home: string): { file: string; out: string; err: string } {
  const files = logFiles(spec);
  if (files.stdout === null || files.stderr === null) return { file: 'no', out: '-', err: '-' };
  const show = (f: string): string => (f === '/dev/null' ? f : path.resolve(home, f));
  return { file: 'yes', out: show(files.stdout), err: show(files.stderr) };
}

function resources(spec: JobSpec): string {
  const parts = [spec.mem ? `mem: ${spec.mem}` : '', spec.cpu ? `cpu: ${spec.cpu}` : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : 'default';
}

/** the status column: Slurm's word for jobs on Slurm (looked up only when there are any), ours for the rest */
async function statusTexts(ctx: JobsContext, statuses: readonly JobStatus[]): Promise<Map<string, string>> {
  const out = new Map(statuses.map((s) => [s.spec.name, statusText(s)]));
  const onSlurm = statuses.filter((s) => s.spec.backend === 'slurm');
  if (onSlurm.length) {
    const { slurmJobsByName, slurmStatusText } = await import('../webservice/slurm-jobs.js');
    const jobs = await slurmJobsByName(ctx);
    for (const s of onSlurm) out.set(s.spec.name, slurmStatusText(s.spec, jobs.get(s.spec.name), /^submitted as Slurm job \d+$/.test(s.record?.message ?? '') ? (s.record?.message ?? null) : null));
  }
  return out;
}

export async function list(ctx: JobsContext, opts: { output?: string; json?: boolean }, io: CliIo): Promise<void> {
  const statuses = jobStatuses(ctx);
  const texts = await statusTexts(ctx, statuses);
  const statusText = (s: JobStatus): string => texts.get(s.spec.name) ?? '';
  if (opts.json) {
    io.out(`${JSON.stringify(statuses.map((s) => ({ name: s.spec.name, type: s.spec.type, schedule: s.spec.schedule ?? null, command: s.spec.command, status: statusText(s), record: s.record, scheduleState: s.schedule })), null, 2)}\n`);
    return;
  }
  if (statuses.length === 0) {
    io.err('No jobs defined. Define one with: toolhost jobs run NAME --command "./script.sh"\n');
    return;
  }
  if (opts.output === 'long') {
    io.out(
      table(
        ['Job name:', 'Command:', 'Job type:', 'Image:', 'File log:', 'Output log:', 'Error log:', 'Emails:', 'Resources:', 'Retry:', 'Status:'],
        statuses.map((s) => {
          const logs = logColumns(s.spec, ctx.tool.home);
          return [s.spec.name, s.spec.command, typeLabel(s.spec), s.spec.image ?? '-', logs.file, logs.out, logs.err, s.spec.emails, resources(s.spec), s.spec.retry ? String(s.spec.retry) : 'no', statusText(s)];
        }),
      ),
    );
    return;
  }
  io.out(table(['Job name:', 'Job type:', 'Status:'], statuses.map((s) => [s.spec.name, typeLabel(s.spec), statusText(s)])));
}

export async function show(ctx: JobsContext, name: string, io: CliIo): Promise<void> {
  const spec = findJob(ctx, name);
  const s = jobStatuses(ctx).find((x) => x.spec.name === name) as JobStatus;
  const status = (await statusTexts(ctx, [s])).get(name) ?? '';
  const logs = logColumns(spec, ctx.tool.home);
  const r = s.record;
  const hints: string[] = [];
  if (r?.startedAt) hints.push(`Last run started at ${iso(r.startedAt)}${r.finishedAt ? `, ended at ${iso(r.finishedAt)} (${r.status === 'succeeded' ? 'completed' : r.status === 'timed-out' ? 'timed out' : r.status === 'refused' ? 'refused' : outcomeText(r)})` : ''}.`);
  if (r?.message && r.message !== 'completed' && r.message !== 'running') hints.push(r.message);
  const skipped = s.schedule?.skipped.at(-1);
  if (skipped) hints.push(`Skipped the run of ${iso(skipped.at)}: ${skipped.reason}.`);
  const missed = s.schedule?.missed.at(-1);
  if (missed) hints.push(`Missed the run of ${iso(missed.at)}: ${missed.reason}.`);
  if (s.schedule?.next) hints.push(`Next run at ${iso(s.schedule.next)}${spec.schedule?.startsWith('@') ? ` (${spec.schedule} is ${s.schedule.cron} for this job)` : ''}.`);
  io.out(
    box([
      ['Job name:', spec.name],
      ['Command:', spec.command],
      ['Job type:', typeLabel(spec)],
      ['Image:', spec.image ?? '-'],
      ['File log:', logs.file],
      ['Output log:', logs.out],
      ['Error log:', logs.err],
      ['Emails:', spec.emails],
      ['Last notice:', noticeStatus(ctx.stateDir, ctx.tool.name, 'job', spec.name, r?.notice) ?? 'none'],
      ['Resources:', resources(spec)],
      ['Limits:', r?.limits ? limitsText(r.limits) : limitsText({ ...resourcesOf(spec), enforced: true, warning: null }).replace(' (enforced by cgroups)', '')],
      ['Retry:', spec.retry ? String(spec.retry) : 'no'],
      ['Timeout:', spec.timeout !== undefined ? `${spec.timeout} s` : 'none'],
      ['Health check:', spec.healthCheckScript ?? 'none'],
      ['Port:', spec.port !== undefined ? `${spec.port}${spec.publish ? ' (published: the tool\'s route)' : ''}` : 'none'],
      ['Backend:', spec.backend === 'slurm' ? `slurm (partition ${spec.partition ?? 'the operator\'s'})` : 'local'],
      ['Status:', status],
      ['Hints:', hints.join(' ') || '-'],
    ]),
  );
}

export async function run(ctx: JobsContext, name: string, o: RunOptions, io: CliIo): Promise<number> {
  const exclusive = [o.continuous, o.schedule !== undefined, o.wait !== undefined].filter(Boolean).length;
  if (exclusive > 1) throw new ToolhostError('TH_ERR_USAGE', 'choose one of --continuous, --schedule and --wait');
  const spec = checkedSpec(inputOf(name, o), ctx.tool.name);
  const defs = currentDefinitions(ctx);
  const after = { cron: defs.cron + (spec.type === 'scheduled' ? 1 : 0), continuous: defs.continuous + (spec.type === 'continuous' ? 1 : 0) };
  // on Slurm, the node's registrar admits the unit where it lands; here only the definitions count
  const starting = spec.type === 'scheduled' || spec.backend === 'slurm' ? null : { unit: unitName(spec.type === 'continuous' ? 'continuous' : 'run', spec.name), kind: spec.type === 'continuous' ? ('continuous' as const) : ('run' as const), ...resourcesOf(spec) };
  await checkStart(ctx, after, starting);
  if (spec.backend === 'slurm') {
    if (o.wait !== undefined) throw new ToolhostError('TH_ERR_USAGE', '--wait is for jobs on this host; follow a Slurm run with toolhost jobs show NAME');
    const id = await (await import('../webservice/slurm-jobs.js')).defineSlurmJob(ctx, spec);
    io.err(id === null ? `toolhost jobs: ${name} is scheduled; each run is submitted to Slurm\n` : `toolhost jobs: ${name} submitted to Slurm as job ${id}\n`);
    return 0;
  }
  // no containers here: the job runs on the host, with what the host has installed
  if (spec.image) io.err(`toolhost jobs: --image ${spec.image} is recorded; toolhost runs jobs on this host, there are no container images\n`);
  const runId = defineJob(ctx, spec);
  if (o.wait === undefined || runId === null) return 0;
  const seconds = o.wait === true ? DEFAULT_WAIT_S : Number(o.wait);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new ToolhostError('TH_ERR_USAGE', `--wait takes a number of seconds, not "${o.wait}"`);
  const rec = await waitForRun(ctx, name, runId, seconds * 1000);
  if (rec.status === 'succeeded') return 0;
  if (rec.status === 'refused') throw ToolhostError.withMessage(rec.errorCode ?? 'TH_ERR_QUOTA_EXCEEDED', rec.message);
  throw new ToolhostError('TH_ERR_JOB_FAILED', name, rec.status === 'timed-out' ? 'timed out' : `failed (${outcomeText(rec)})`, name);
}

export async function logs(ctx: JobsContext, name: string, o: { follow?: boolean; lines?: string }, io: CliIo): Promise<void> {
  const spec = findJob(ctx, name);
  const files = logFiles(spec);
  const paths =
    files.stdout === null || files.stderr === null
      ? [internalLogPath(ctx.runtimeDir, name)]
      : [...new Set([files.stdout, files.stderr])].filter((f) => f !== '/dev/null').map((f) => path.resolve(ctx.tool.home, f));
  await tailFiles(paths, lineCount(o.lines), o.follow === true, io);
}

export async function load(ctx: JobsContext, file: string, only: string | undefined, io: CliIo): Promise<void> {
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (err) {
    throw new ToolhostError('TH_ERR_FILE_UNREADABLE', file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  let specs: JobSpec[];
  try {
    specs = parseJobsYaml(text);
    for (const spec of specs) checkSchedule(spec, ctx.tool.name);
  } catch (err) {
    if (err instanceof JobSpecError) throw new ToolhostError('TH_ERR_JOB_LOAD_INVALID', file, err.problems.join('; '));
    if (err instanceof ToolhostError) throw new ToolhostError('TH_ERR_JOB_LOAD_INVALID', file, err.message);
    throw err;
  }
  // `wait: true` is an instruction to load, not part of the job
  const raw = (parse(text) ?? []) as Record<string, unknown>[];
  const waits = new Set(raw.filter((e) => e.wait === true).map((e) => String(e.name)));
  const r = await loadJobs(ctx, specs.map((spec) => ({ spec, wait: waits.has(spec.name) })), only ?? null, DEFAULT_WAIT_S * 1000);
  const say = (what: string, names: readonly string[]): void => {
    if (names.length) io.err(`${what}: ${names.join(', ')}\n`);
  };
  say('created', r.created);
  say('replaced (their definition changed)', r.replaced);
  say('unchanged', r.unchanged);
  say('deleted (not in the file)', r.deleted);
}

/** `toolforge jobs quota`'s three tables, with what this host enforces */
export async function quota(ctx: JobsContext, o: { json?: boolean }, io: CliIo): Promise<void> {
  const q = readQuota(ctx.stateDir, ctx.tool.name);
  let view: QuotaView | null = null;
  try {
    view = await withRegistrar(ctx.registrarDir, ctx.tool.name, (c) => c.quota(), 1000);
  } catch {
    // no registrar: definitions only
  }
  const running = view?.running ?? [];
  const defs = currentDefinitions(ctx);
  if (o.json) {
    io.out(`${JSON.stringify({ quota: q, running, definitions: defs, enforcement: view?.enforcement ?? null }, null, 2)}\n`);
    return;
  }
  const memory = running.reduce((s, u) => s + u.memory, 0);
  const cpu = running.reduce((s, u) => s + u.cpu, 0);
  const used = (v: string): string => (view ? v : '?');
  io.out(
    table(
      ['Running jobs', 'Used', 'Limit'],
      [
        ['Total running jobs at once (web services included)', used(String(running.length)), String(q.running)],
        ['Running one-off and cron jobs', used(String(running.filter((u) => u.kind === 'run').length)), String(q.runs)],
        ['CPU', used(formatCpu(cpu)), formatCpu(q.cpu)],
        ['Memory', used(memory ? formatMemory(memory) : '0'), formatMemory(q.memory)],
      ],
    ),
  );
  io.out('\n');
  io.out(table(['Per-job limits', 'Limit'], [['CPU', formatCpu(q.jobCpu)], ['Memory', formatMemory(q.jobMemory)]]));
  io.out('\n');
  io.out(table(['Job definitions', 'Used', 'Limit'], [['Cron jobs', String(defs.cron), String(q.cron)], ['Continuous jobs (including web services)', String(defs.continuous), String(q.continuous)]]));
  io.out(`\nNew jobs get ${formatMemory(DEFAULT_MEMORY)} memory and ${formatCpu(DEFAULT_CPU)} CPU unless they ask for more (--mem, --cpu). Processes at once: ${q.pids} for the tool, ${q.unitPids} for one job.\n`);
  io.out(
    view
      ? view.enforcement.cgroups
        ? `Enforced by the kernel: ${view.enforcement.detail}.\n`
        : `Not enforced by cgroups on this host (${view.enforcement.detail}): jobs run with rlimits (memory as data size, processes per user); CPU is not limited.\n`
      : 'Usage unknown: the node registrar does not answer (toolhost registrar).\n',
  );
}

function contextOf(tool: Tool, io: CliIo): JobsContext {
  return {
    tool,
    runtimeDir: runtimeDirectory(tool, io.env),
    registrarDir: registrarDir(io.env),
    stateDir: stateDirectory(io.env),
    env: io.env,
    ...(Number(io.env.TOOLHOST_START_TIMEOUT) > 0 ? { timeoutMs: Number(io.env.TOOLHOST_START_TIMEOUT) * 1000 } : {}),
  };
}

/**
 * Run ACTION for the tool the options name, or as root, drop to that tool and run the whole
 * command line (`argv`) as it: the exit code either way.
 */
export async function forTool(o: ToolOptions, argv: readonly string[], io: CliIo, action: (ctx: JobsContext) => Promise<number | void> | number | void): Promise<number> {
  const tool = resolveTool({ tool: o.tool, home: o.home, env: io.env, cwd: io.cwd });
  const dropped = await runAsToolIfRoot(tool, argv, io);
  if (dropped !== null) return dropped;
  return (await action(contextOf(tool, io))) ?? 0;
}

export async function restart(ctx: JobsContext, name: string): Promise<void> {
  const spec = findJob(ctx, name);
  if (spec.backend === 'slurm') {
    await (await import('../webservice/slurm-jobs.js')).restartSlurmJob(ctx, spec);
    return;
  }
  await restartJob(ctx, name);
}

/** NAMES, or every job (null) */
export async function remove(ctx: JobsContext, names: readonly string[] | null): Promise<void> {
  await deleteJobs(ctx, names);
}

export function dump(ctx: JobsContext, toFile: string | undefined, io: CliIo): void {
  const text = jobsYaml(readJobs(ctx.tool.home));
  if (toFile) writeFileSync(path.resolve(toFile), text);
  else io.out(text);
}
