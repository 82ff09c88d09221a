// The program of a job run: node runner-entry.js --tool NAME --home DIR --runtime-dir DIR --job
// JOB --run-id ID --trigger run|schedule|restart [--scheduled-for ISO]. Started detached, as the
// tool, with the tool's clean environment, by `toolhost jobs run` and by the monitor. Not a
// command for people.
import { lookupAccount } from '../accounts/index.js';
import { isToolName, toolAccountName } from '../tool-name.js';
import { writeRecord, emptyRecord, type JobRecord } from './job-record.js';
import { readJobs } from './jobs-manifest.js';
import { runJob } from './job-runner.js';
import { HELPERS_UNIT } from '../limits/index.js';
import { RegistrarClient, registrarDir } from '../registrar/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const name = arg('--tool');
const home = arg('--home');
const runtimeDir = arg('--runtime-dir');
const job = arg('--job');
const runId = arg('--run-id') ?? '';
const trigger = (arg('--trigger') ?? 'run') as JobRecord['trigger'];
if (!name || !isToolName(name) || !home || !runtimeDir || !job) {
  process.stderr.write('runner-entry: usage: --tool NAME --home DIR --runtime-dir DIR --job JOB --run-id ID --trigger T\n');
  process.exit(2);
}
process.chdir(home);
const spec = readJobs(home).find((j) => j.name === job);
if (!spec) {
  writeRecord(runtimeDir, { ...emptyRecord(job, trigger, 1, runId), status: 'failed', exitCode: 2, finishedAt: Date.now(), message: 'the job is no longer defined in ~/jobs.manifest' });
  process.exit(2);
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
const rec = await runJob({
  tool: { name, home, account: lookupAccount(toolAccountName(name)) },
  runtimeDir,
  spec,
  trigger,
  runId,
  scheduledFor: arg('--scheduled-for') ?? null,
  env: process.env,
  limits: why === undefined ? { peer: registrar } : { peer: null, why },
});
registrar.close();
process.exitCode = rec.status === 'succeeded' ? 0 : 1;
