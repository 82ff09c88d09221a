// The program a tool's Slurm job runs on the node Slurm chose (issue 15), as the tool (Slurm
// starts it with the uid munge vouched for at sbatch): the same supervisor `webservice start`
// runs locally, for one unit — the webservice (--web) or one continuous job (--job NAME) —
// registering with the node's own registrar, so the route names the node's address. Not a
// command for people:
//   node slurm-job-entry.js --tool NAME --home DIR (--web | --job NAME)
// Its runtime directory is private to this run of the job (a requeued job starts with a new
// one, on another node) and removed at the end. The webservice's state goes into the job's
// Slurm comment, which `webservice status` shows next to what Slurm itself says.
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupAccount, programArgument } from '../accounts/index.js';
import { DEFAULT_REGISTRAR_DIR } from '../registrar/index.js';
import { nodeRegistrarDir, SlurmClient } from '../slurm/index.js';
import { isToolName, toolAccountName } from '../tool-name.js';
import { readState } from './service-state.js';
import { runSupervisor } from './supervisor-main.js';
import type { SupervisorScope } from './supervisor-scope.js';

const name = programArgument('--tool');
const home = programArgument('--home');
const job = programArgument('--job');
const scope: SupervisorScope | null = process.argv.includes('--web') ? { kind: 'slurm-web' } : job ? { kind: 'slurm-job', job } : null;
const jobId = Number(process.env.SLURM_JOB_ID);
const node = process.env.SLURMD_NODENAME ?? os.hostname();
if (!name || !isToolName(name) || !home || !scope || !Number.isInteger(jobId)) {
  process.stderr.write('slurm-job-entry: usage (inside a Slurm job): --tool NAME --home DIR (--web | --job NAME)\n');
  process.exit(2);
}

// an earlier run of this same job (a requeue after its node died) left its directory if it ran here
const prefix = `toolhost-${name}-${jobId}-`;
for (const leftover of readdirSync(os.tmpdir()).filter((d) => d.startsWith(prefix))) {
  const dir = path.join(os.tmpdir(), leftover);
  if (lstatSync(dir).uid === process.getuid?.()) rmSync(dir, { recursive: true, force: true });
}
const runtimeDir = mkdtempSync(path.join(os.tmpdir(), prefix));
const pattern = process.env.TOOLHOST_SLURM_REGISTRAR_DIR;
const env = { ...process.env, TOOLHOST_REGISTRAR_DIR: pattern ? nodeRegistrarDir(pattern, node) : DEFAULT_REGISTRAR_DIR };
const slurm = new SlurmClient(process.env.SLURM_CONF ?? null, env);

/** the webservice's state as the job's comment (`running http://10.0.0.31:40123 g1`), each time it changes */
let said = '';
let saying = false;
const publish = async (): Promise<void> => {
  const s = readState(runtimeDir);
  if (!s || saying) return;
  const words = `${s.state} ${s.url ?? '-'} g${s.generation}`;
  if (words === said) return;
  saying = true;
  try {
    await slurm.setComment(jobId, words);
    said = words;
  } catch {
    // the controller is away for a moment: said at the next change or tick
  } finally {
    saying = false;
  }
};
const ticker = scope.kind === 'slurm-web' ? setInterval(() => void publish(), 250) : null;

process.stderr.write(`${new Date().toISOString()} slurm job ${jobId} on ${node}: supervising ${scope.kind === 'slurm-web' ? 'the webservice' : `job ${job}`}\n`);
try {
  process.exitCode = await runSupervisor(
    { tool: { name, home, account: lookupAccount(toolAccountName(name)) }, runtimeDir, registrarDir: env.TOOLHOST_REGISTRAR_DIR, env },
    scope,
  );
} finally {
  if (ticker) clearInterval(ticker);
  rmSync(runtimeDir, { recursive: true, force: true });
}
