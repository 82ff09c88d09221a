// `toolhost jobs` (also `toolforge jobs`): bots, one-off tasks and scheduled runs, with the
// surface of Toolforge's `toolforge jobs` (seed 001) — its subcommands, options, YAML keys, status
// words and tables — so wiki pages and the jobs.yaml files kept in tools' repositories work
// unchanged. Run in a tool account, or with --tool/--home; typed by root, it runs as the tool.
// The subcommands and their options only: what they do (jobs.ts) loads when one runs (#14).
import type { Command as Commander } from 'commander';
import { formatCpu, formatMemory } from '../limits/quantities.js';
import { DEFAULT_CPU, DEFAULT_MEMORY } from '../limits/quota.js';
import type { JobsContext } from '../webservice/index.js';
import type { CliIo } from './io.js';

export const DEFAULT_WAIT_S = 600;

export interface ToolOptions {
  tool?: string;
  home?: string;
}

export interface RunOptions {
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
  backend?: string;
  partition?: string;
}

type Jobs = typeof import('./jobs.js');

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
  const withTool = async (action: (j: Jobs, ctx: JobsContext) => Promise<number | void> | number | void): Promise<void> => {
    const j = await import('./jobs.js');
    setExit(await j.forTool(jobs.opts<ToolOptions>(), argvOfExecutable(), io, (ctx) => action(j, ctx)));
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
    .option('--backend <name>', 'local (this host, the default) or slurm: continuous as a requeueable Slurm job, one-off and scheduled runs as batch jobs')
    .option('--partition <name>', '--backend slurm: the Slurm partition (default: the operator\'s)')
    .action(async (name: string, o: RunOptions) => withTool((j, ctx) => j.run(ctx, name, o, io)));

  jobs
    .command('list')
    .description('list your jobs and their status')
    .option('-o, --output <format>', 'long: every column')
    .option('--json', 'as JSON')
    .action(async (o: { output?: string; json?: boolean }) => withTool((j, ctx) => j.list(ctx, o, io)));

  jobs
    .command('show')
    .argument('<name>')
    .description('show a job in detail')
    .action(async (name: string) => withTool((j, ctx) => j.show(ctx, name, io)));

  jobs
    .command('logs')
    .argument('<name>')
    .description('show a job\'s output (its files, or what it wrote without file logs)')
    .option('-f, --follow', 'keep printing new lines')
    .option('-l, --lines <n>', 'how many of the last lines (default 100)')
    .action(async (name: string, o: { follow?: boolean; lines?: string }) => withTool((j, ctx) => j.logs(ctx, name, o, io)));

  jobs
    .command('restart')
    .argument('<name>')
    .description('restart a continuous job; run a scheduled or one-off job now')
    .action(async (name: string) => withTool((j, ctx) => j.restart(ctx, name)));

  jobs
    .command('delete')
    .argument('<name>')
    .description('delete a job (a run in progress is stopped)')
    .action(async (name: string) => withTool((j, ctx) => j.remove(ctx, [name])));

  jobs
    .command('flush')
    .description('delete all your jobs')
    .action(async () => withTool((j, ctx) => j.remove(ctx, null)));

  jobs
    .command('load')
    .argument('<file>', 'a YAML list of jobs (Toolforge\'s jobs.yaml)')
    .option('--job <name>', 'load only this job of the file')
    .description('make the file\'s jobs yours: new ones created, changed ones replaced, others deleted')
    .action(async (file: string, o: { job?: string }) => withTool((j, ctx) => j.load(ctx, file, o.job, io)));

  jobs
    .command('dump')
    .description('print your jobs as YAML, ready for a later load')
    .option('-f, --to-file <file>', 'write it to a file instead')
    .action(async (o: { toFile?: string }) => withTool((j, ctx) => j.dump(ctx, o.toFile, io)));

  jobs
    .command('quota')
    .description('what your tool runs and may run: running jobs, CPU, memory, definitions')
    .option('--json', 'as JSON')
    .action(async (o: { json?: boolean }) => withTool((j, ctx) => j.quota(ctx, o, io)));

  jobs
    .command('images')
    .description('the runtime images (there are none: jobs run on this host)')
    .action(() => {
      io.out('toolhost runs jobs on this host with what it has installed: there are no container images (--image is recorded only).\n');
      setExit(0);
    });
}
