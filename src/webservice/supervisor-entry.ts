// The program of the detached per-tool supervisor process, launched by `webservice start` and
// `toolhost monitor` (always as the tool, with the tool's clean environment) as:
// node supervisor-entry.js --tool NAME --home DIR --runtime-dir DIR. Not a command for people.
import { lookupAccount } from '../accounts/index.js';
import { registrarDir } from '../registrar/index.js';
import { isToolName, toolAccountName } from '../tool-name.js';
import { runSupervisor } from './supervisor-main.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const name = arg('--tool');
const home = arg('--home');
const runtimeDir = arg('--runtime-dir');
if (!name || !isToolName(name) || !home || !runtimeDir) {
  process.stderr.write('supervisor-entry: usage: --tool NAME --home DIR --runtime-dir DIR\n');
  process.exit(2);
}
process.exitCode = await runSupervisor({
  tool: { name, home, account: lookupAccount(toolAccountName(name)) },
  runtimeDir,
  registrarDir: registrarDir(process.env),
  env: process.env,
});
