// The program of the detached per-tool supervisor process, launched by `webservice start` and
// `toolhost monitor` as: node supervisor-entry.js --tool NAME --home DIR --runtime-dir DIR
// --bind ADDR [--as-account]. Not a command for people; `webservice` is.
import { isToolName, toolAccountName } from '../tool-name.js';
import { runSupervisor } from './supervisor-main.js';
import { lookupAccount } from './tool-account.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const name = arg('--tool');
const home = arg('--home');
const runtimeDir = arg('--runtime-dir');
if (!name || !isToolName(name) || !home || !runtimeDir) {
  process.stderr.write('supervisor-entry: usage: --tool NAME --home DIR --runtime-dir DIR [--bind ADDR] [--as-account]\n');
  process.exit(2);
}
process.exitCode = await runSupervisor({
  tool: { name, home, account: lookupAccount(toolAccountName(name)) },
  runtimeDir,
  redisUrl: process.env.TOOLHOST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  env: process.env,
  asAccount: process.argv.includes('--as-account'),
  bind: arg('--bind') ?? '127.0.0.1',
});
