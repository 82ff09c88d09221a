// Root acting for a tool (`webservice --tool T start` typed by an administrator, portgrabber
// started by root): before anything touches the tool's files or signals its processes, the
// same command runs again as the tool — its uid and gid, no supplementary groups, its clean
// environment — exactly as if the maintainer had typed it. Root only makes the tool's runtime
// directory, in a root-owned parent.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { prepareRuntimeDirectory, runtimeDirectory, toolOwner, toolProcessEnvironment, type Tool } from '../accounts/index.js';
import type { CliIo } from './io.js';

/** the exit code of the command run as the tool, or null when no drop is needed (not root, or root's own tool) */
export async function runAsToolIfRoot(tool: Tool, argv: readonly string[], io: CliIo): Promise<number | null> {
  if (process.getuid?.() !== 0) return null;
  const owner = toolOwner(tool);
  if (!owner || owner.uid === 0) return null;
  const runtimeDir = runtimeDirectory(tool, io.env);
  if (!runtimeDir.startsWith(tool.home + path.sep)) prepareRuntimeDirectory(runtimeDir, owner);
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    uid: owner.uid,
    gid: owner.gid,
    env: toolProcessEnvironment(tool, io.env),
    cwd: io.cwd,
    stdio: 'inherit',
  });
  return new Promise((resolve) => {
    child.once('error', () => resolve(1));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}
