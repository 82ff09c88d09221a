// A toolhost program started for a tool (its supervisor, a job run): detached, in a session of
// its own, as the tool when root starts it, with the tool's clean environment, its working
// directory the tool's home. A shell running as the tool opens the output file, so root never
// opens a file of the tool.
import { spawn } from 'node:child_process';
import { toolProcessEnvironment } from './tool-environment.js';
import type { Owner, Tool } from './tool-account.js';

export interface ToolProgram {
  readonly tool: Tool;
  /** root's drop to the tool; null when the caller already is the tool */
  readonly as: Owner | null;
  /** the caller's environment (only tool-environment.ts's variables pass) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** what to run, argv[0] first */
  readonly argv: readonly string[];
  /** its output, appended, relative to the home; null: discarded */
  readonly output: string | null;
  readonly extraEnv?: Readonly<Record<string, string>>;
}

/** the started process's pid (0 if the spawn failed at once) */
export function spawnToolProgram(p: ToolProgram): number {
  const env = { ...toolProcessEnvironment(p.tool, p.env), ...p.extraEnv };
  const script = p.output === null ? 'cd "$HOME" && exec "$@" >/dev/null 2>&1' : `cd "$HOME" && exec "$@" >>'${p.output.replace(/'/g, '')}' 2>&1`;
  const child = spawn('/bin/sh', ['-c', script, 'toolhost', ...p.argv], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env,
    ...(p.as ? { uid: p.as.uid, gid: p.as.gid } : {}),
  });
  child.on('error', () => {});
  child.unref();
  return child.pid ?? 0;
}
