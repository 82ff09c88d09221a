// The arguments of the programs toolhost starts detached for a tool (the supervisor, a job's
// runner): not commands for people, so a wrong call is one usage line and exit code 2.
import { toolAccountName, isToolName } from '../tool-name.js';
import { lookupAccount, type Tool } from './tool-account.js';

/** the value after FLAG in this process's arguments */
export function programArgument(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * The tool and runtime directory from --tool NAME --home DIR --runtime-dir DIR, with `required`
 * flags checked too; exits 2 with `usage` when any is missing or the name is no tool name
 */
export function toolProgramArguments(program: string, usage: string, required: readonly string[] = []): { tool: Tool; runtimeDir: string } {
  const name = programArgument('--tool');
  const home = programArgument('--home');
  const runtimeDir = programArgument('--runtime-dir');
  if (!name || !isToolName(name) || !home || !runtimeDir || required.some((flag) => !programArgument(flag))) {
    process.stderr.write(`${program}: usage: ${usage}\n`);
    process.exit(2);
  }
  return { tool: { name, home, account: lookupAccount(toolAccountName(name)) }, runtimeDir };
}
