// `toolhost jobs` (also `toolforge jobs`): bots, one-off tasks and scheduled runs, with the
// surface of Toolforge's `toolforge jobs` (seed 001) — its subcommands, options, YAML keys, status
// words and tables — so wiki pages and the jobs.yaml files kept in tools' repositories work
// unchanged. Run in a tool account, or with --tool/--home; typed by root, it runs as the tool.
import { stateDirectory } from '../state-dir.js';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command as Commander } from 'commander';
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
import { lineCount, tailFiles } from './tail.js';

const DEFAULT_WAIT_S = 600;

interface ToolOptions {
  tool?: string;
  home?: string;
}

interface RunOptions {
  command?: string;
  continuous?: boolean;
  schedule?: string;
  timezone?: string;
  wait?: boolean | string;
  filelog?: boolean;
  noFilelog?: boolean;
  filelogStdout?: string;
  filelogStderr?: string;
  retry?: string;
  timeout?: string;
  healthCheckScript?: string;
  port?: string;
  publish?: boolean;
  emails?: string;
  mem?: string;
  cpu?: string;
  image?: string;
  mount?: string;
}

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

function list(ctx: JobsContext, opts: { output?: string; json?: boolean }, io: CliIo): void {
  const statuses = jobStatuses(ctx);
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

function show(ctx: JobsContext, name: string, io: CliIo): void {
  const spec = findJob(ctx, name);
  const s = jobStatuses(ctx).find((x) => x.spec.name === name) as JobStatus;
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
      ['Resources:', resources(spec)],
      ['Limits:', r?.limits ? limitsText(r.limits) : limitsText({ ...resourcesOf(spec), enforced: true, warning: null }).replace(' (enforced by cgroups)', '')],
      ['Retry:', spec.retry ? String(spec.retry) : 'no'],
      ['Timeout:', spec.timeout !== undefined ? `${spec.timeout} s` : 'none'],
      ['Health check:', spec.healthCheckScript ?? 'none'],
      ['Port:', spec.port !== undefined ? `${spec.port}${spec.publish ? ' (published: the tool\'s route)' : ''}` : 'none'],
      ['Status:', statusText(s)],
      ['Hints:', hints.join(' ') || '-'],
    ]),
  );
}

async function run(ctx: JobsContext, name: string, o: RunOptions, io: CliIo): Promise<number> {
  const exclusive = [o.continuous, o.schedule !== undefined, o.wait !== undefined].filter(Boolean).length;
  if (exclusive > 1) throw new ToolhostError('TH_ERR_USAGE', 'choose one of --continuous, --schedule and --wait');
  const spec = checkedSpec(inputOf(name, o), ctx.tool.name);
  const defs = currentDefinitions(ctx);
  const after = { cron: defs.cron + (spec.type === 'scheduled' ? 1 : 0), continuous: defs.continuous + (spec.type === 'continuous' ? 1 : 0) };
  await checkStart(ctx, after, spec.type === 'scheduled' ? null : { unit: unitName(spec.type === 'continuous' ? 'continuous' : 'run', spec.name), kind: spec.type === 'continuous' ? 'continuous' : 'run', ...resourcesOf(spec) });
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

async function logs(ctx: JobsContext, name: string, o: { follow?: boolean; lines?: string }, io: CliIo): Promise<void> {
  const spec = findJob(ctx, name);
  const files = logFiles(spec);
  const paths =
    files.stdout === null || files.stderr === null
      ? [internalLogPath(ctx.runtimeDir, name)]
      : [...new Set([files.stdout, files.stderr])].filter((f) => f !== '/dev/null').map((f) => path.resolve(ctx.tool.home, f));
  await tailFiles(paths, lineCount(o.lines), o.follow === true, io);
}

async function load(ctx: JobsContext, file: string, only: string | undefined, io: CliIo): Promise<void> {
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
async function quota(ctx: JobsContext, o: { json?: boolean }, io: CliIo): Promise<void> {
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
 * `jobs …` as a subcommand of an executable (`toolhost`, `toolforge`). `argvOfExecutable` is the
 * whole command line after the executable's name, for root's drop to the tool.
 */
export function registerJobsCommand(program: Commander, io: CliIo, setExit: (code: number) => void, argvOfExecutable: () => readonly string[]): void {
  const jobs = program
    .command('jobs')
    .description('bots, one-off tasks and scheduled runs (toolforge jobs)')
    .option('--tool <name>', 'the tool, when not run in its tool account (or TOOLHOST_TOOL)')
    .option('--home <dir>', 'the tool\'s home directory (or TOOLHOST_HOME)');
  /** the tool, or root's drop to it: then the exit code of the command run as the tool */
  const withTool = async (action: (ctx: JobsContext) => Promise<number | void> | number | void): Promise<void> => {
    const o = jobs.opts<ToolOptions>();
    const tool = resolveTool({ tool: o.tool, home: o.home, env: io.env, cwd: io.cwd });
    const dropped = await runAsToolIfRoot(tool, argvOfExecutable(), io);
    if (dropped !== null) {
      setExit(dropped);
      return;
    }
    setExit((await action(contextOf(tool, io))) ?? 0);
  };

  jobs
    .command('run')
    .argument('<name>', 'new job name (1 to 52 of a-z 0-9 . -)')
    .description('run a new job of your own')
    .requiredOption('--command <command>', 'the command, run by /bin/sh in your home directory ("./script.sh --arg")')
    .option('--continuous', 'run a continuous job: restarted whenever it ends')
    .option('--schedule <schedule>', 'run it on a cron-like schedule in UTC ("1 * * * *", @hourly, @daily, @weekly, @monthly, @yearly)')
    .option('--timezone <zone>', 'read --schedule in this time zone (e.g. Europe/Berlin)')
    .option('--wait [seconds]', `wait for a one-off job to end (default ${DEFAULT_WAIT_S} s); exit 0 only if it succeeded`)
    .option('--filelog', 'log to ~/NAME.out and ~/NAME.err (the default)')
    .option('--no-filelog', 'keep the output for `jobs logs` instead of files in your home')
    .option('-o, --filelog-stdout <file>', 'where stdout goes (appended), relative to your home')
    .option('-e, --filelog-stderr <file>', 'where stderr goes (appended), relative to your home')
    .option('--retry <n>', 'rerun a failed one-off or scheduled run up to n times (0 to 5)')
    .option('--timeout <seconds>', 'end a one-off or scheduled run that takes longer (TERM, then KILL) and record it as timed out')
    .option('--health-check-script <command>', 'continuous: a check run once a second at startup (120 failures restart), then every 10 s (3 failures restart)')
    .option('--port <n>', 'continuous: the port the job listens on (in PORT)')
    .option('--publish', 'continuous, with --port: route the tool to the job (a web server run as a job)')
    .option('--emails <when>', 'mail to the maintainers: none (default), onfailure, onfinish or all')
    .option('--mem <size>', `memory limit, enforced by the kernel (512Mi, 1Gi; default ${formatMemory(DEFAULT_MEMORY)})`)
    .option('--cpu <cpus>', `CPU limit, enforced by the kernel (0.5, 500m, 2; default ${formatCpu(DEFAULT_CPU)})`)
    .option('--image <name>', 'recorded only: jobs run on this host, there are no container images')
    .option('--mount <which>', 'recorded only: all of the home is always there')
    .action(async (name: string, o: RunOptions) => withTool((ctx) => run(ctx, name, o, io)));

  jobs
    .command('list')
    .description('list your jobs and their status')
    .option('-o, --output <format>', 'long: every column')
    .option('--json', 'as JSON')
    .action(async (o: { output?: string; json?: boolean }) => withTool((ctx) => list(ctx, o, io)));

  jobs
    .command('show')
    .argument('<name>')
    .description('show a job in detail')
    .action(async (name: string) => withTool((ctx) => show(ctx, name, io)));

  jobs
    .command('logs')
    .argument('<name>')
    .description('show a job\'s output (its files, or what it wrote without file logs)')
    .option('-f, --follow', 'keep printing new lines')
    .option('-l, --lines <n>', 'how many of the last lines (default 100)')
    .action(async (name: string, o: { follow?: boolean; lines?: string }) => withTool((ctx) => logs(ctx, name, o, io)));

  jobs
    .command('restart')
    .argument('<name>')
    .description('restart a continuous job; run a scheduled or one-off job now')
    .action(async (name: string) => withTool(async (ctx) => void (await restartJob(ctx, name))));

  jobs
    .command('delete')
    .argument('<name>')
    .description('delete a job (a run in progress is stopped)')
    .action(async (name: string) => withTool(async (ctx) => void (await deleteJobs(ctx, [name]))));

  jobs
    .command('flush')
    .description('delete all your jobs')
    .action(async () => withTool(async (ctx) => void (await deleteJobs(ctx, null))));

  jobs
    .command('load')
    .argument('<file>', 'a YAML list of jobs (Toolforge\'s jobs.yaml)')
    .option('--job <name>', 'load only this job of the file')
    .description('make the file\'s jobs yours: new ones created, changed ones replaced, others deleted')
    .action(async (file: string, o: { job?: string }) => withTool((ctx) => load(ctx, file, o.job, io)));

  jobs
    .command('dump')
    .description('print your jobs as YAML, ready for a later load')
    .option('-f, --to-file <file>', 'write it to a file instead')
    .action(async (o: { toFile?: string }) =>
      withTool((ctx) => {
        const text = jobsYaml(readJobs(ctx.tool.home));
        if (o.toFile) writeFileSync(path.resolve(o.toFile), text);
        else io.out(text);
      }),
    );

  jobs
    .command('quota')
    .description('what your tool runs and may run: running jobs, CPU, memory, definitions')
    .option('--json', 'as JSON')
    .action(async (o: { json?: boolean }) => withTool((ctx) => quota(ctx, o, io)));

  jobs
    .command('images')
    .description('the runtime images (there are none: jobs run on this host)')
    .action(() => {
      io.out('toolhost runs jobs on this host with what it has installed: there are no container images (--image is recorded only).\n');
      setExit(0);
    });
}
