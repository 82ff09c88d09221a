// The program of the detached per-tool supervisor process, launched by `webservice start` and
// `toolhost monitor` (always as the tool, with the tool's clean environment) as:
// node supervisor-entry.js --tool NAME --home DIR --runtime-dir DIR. Not a command for people.
import { toolProgramArguments } from '../accounts/index.js';
import { registrarDir } from '../registrar/index.js';
import { runSupervisor } from './supervisor-main.js';

const { tool, runtimeDir } = toolProgramArguments('supervisor-entry', '--tool NAME --home DIR --runtime-dir DIR');
process.exitCode = await runSupervisor({
  tool,
  runtimeDir,
  registrarDir: registrarDir(process.env),
  env: process.env,
});
