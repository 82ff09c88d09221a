// The program of a job run: node runner-entry.js --tool NAME --home DIR --runtime-dir DIR --job
// JOB --run-id ID --trigger run|schedule|restart [--scheduled-for ISO]. Started detached, as the
// tool, with the tool's clean environment, by `toolhost jobs run` and by the monitor. Not a
// command for people.
import path from 'node:path';
import { programArgument, toolProgramArguments } from '../accounts/index.js';
import { isToolhostError } from '../errors.js';
import { appendCapped, SERVICE_LOG, ToolLogs, toolLogPolicy, type ToolLogPolicy } from '../logs/index.js';
import { JobLogError, openJobOutput } from './job-output.js';
import { writeRecord, emptyRecord, type JobRecord } from './job-record.js';
import { readJobs } from './jobs-manifest.js';
import { runJob } from './job-runner.js';
import { HELPERS_UNIT } from '../limits/index.js';
import { RegistrarClient, registrarDir } from '../registrar/index.js';

const { tool, runtimeDir } = toolProgramArguments('runner-entry', '--tool NAME --home DIR --runtime-dir DIR --job JOB --run-id ID --trigger T', ['--job']);
const { name, home } = tool;
const job = programArgument('--job') as string;
const runId = programArgument('--run-id') ?? '';
const trigger = (programArgument('--trigger') ?? 'run') as JobRecord['trigger'];
process.chdir(home);
const spec = readJobs(home).find((j) => j.name === job);
if (!spec) {
  writeRecord(runtimeDir, { ...emptyRecord(job, trigger, 1, runId), status: 'failed', exitCode: 2, finishedAt: Date.now(), message: 'the job is no longer defined in ~/jobs.manifest' });
  process.exit(2);
}
if (spec.backend === 'slurm') {
  // Slurm runs it (issue 15): this runner, started as the tool, submits the run and is done
  const startedAt = Date.now();
  try {
    const { submitSlurmRun } = await import('./slurm-run.js');
    const id = await submitSlurmRun(tool, spec, process.env);
    writeRecord(runtimeDir, { ...emptyRecord(job, trigger, spec.retry + 1, runId), status: 'succeeded', startedAt, finishedAt: Date.now(), scheduledFor: programArgument('--scheduled-for') ?? null, message: `submitted as Slurm job ${id}` });
    process.exit(0);
  } catch (err) {
    writeRecord(runtimeDir, { ...emptyRecord(job, trigger, spec.retry + 1, runId), status: 'failed', exitCode: 1, startedAt, finishedAt: Date.now(), scheduledFor: programArgument('--scheduled-for') ?? null, message: isToolhostError(err) ? `${err.message} [${err.code}]` : (err as Error).message });
    process.exit(1);
  }
}
// the registrar admits the run, places it in its cgroup and this runner in the tool's helpers'
const registrar = new RegistrarClient({ dir: registrarDir(process.env), tool: name });
let why: string | undefined;
try {
  await registrar.connect(1000);
  await registrar.place(HELPERS_UNIT, process.pid);
} catch (err) {
  why = (err as Error).message;
}
// what goes wrong with the logs is said where the tool's other toolhost events are: ~/service.log
let policy: ToolLogPolicy | null = null;
const note = (line: string): void => {
  try {
    appendCapped(path.join(home, SERVICE_LOG), `${new Date().toISOString()} job ${job}: ${line}\n`, policy?.files ?? null);
  } catch {
    // a full home must not stop the run
  }
};
try {
  policy = toolLogPolicy(name, process.env);
} catch (err) {
  note(`logs: ${isToolhostError(err) ? `${err.message} [${err.code}]` : (err as Error).message}; its logs are not capped`);
}
const logs = new ToolLogs({ policy, pipeDir: path.join(runtimeDir, 'pipes'), onProblem: note });
let output;
try {
  output = await openJobOutput(logs, { tool, runtimeDir, spec, fresh: true, pipeName: `run-${process.pid}-${job}` });
} catch (err) {
  // as Toolforge: a log file in a directory that does not exist fails the job with exit code 2
  const message = err instanceof JobLogError ? err.message : `cannot start: ${(err as Error).message}`;
  writeRecord(runtimeDir, { ...emptyRecord(job, trigger, spec.retry + 1, runId), status: 'failed', exitCode: 2, startedAt: Date.now(), finishedAt: Date.now(), message });
  registrar.close();
  process.exit(2);
}
const rec = await runJob({
  tool,
  runtimeDir,
  spec,
  trigger,
  runId,
  scheduledFor: programArgument('--scheduled-for') ?? null,
  env: process.env,
  limits: why === undefined ? { peer: registrar } : { peer: null, why },
  notices: why === undefined ? { peer: registrar } : { peer: null, why: `no registrar took it (${why})` },
  output,
});
await output.close();
await logs.close();
registrar.close();
process.exitCode = rec.status === 'succeeded' ? 0 : 1;
