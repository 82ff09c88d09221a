// Root acting for a tool (`webservice --tool T start` typed by an administrator, portgrabber
// started by root): before anything touches the tool's files or signals its processes, the
// same command runs again as the tool — its uid and gid, no supplementary groups, its clean
// environment — exactly as if the maintainer had typed it. Root only makes the tool's runtime
// directory, in a root-owned parent.
//
// The tool's copy runs in a session of its own, without root's terminal: on a shared terminal a
// process of the tool could otherwise type into root's shell (TIOCSTI) or be traced by another
// process of the tool while holding it. Its output comes back through pipes; root's Ctrl-C is
// passed on.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { prepareRuntimeDirectory, runtimeDirectory, toolOwner, toolProcessEnvironment, type Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import type { CliIo } from './io.js';

const PASSED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The exit code of the command run as the tool, or null when the caller goes on itself: it is the
 * tool (or root acting for its own development tool). Anyone else is refused: a maintainer
 * becomes the tool first, as on Toolforge.
 */
export async function runAsToolIfRoot(tool: Tool, argv: readonly string[], io: CliIo): Promise<number | null> {
  if (process.getuid?.() !== 0) {
    const owner = toolOwner(tool);
    if (owner && owner.uid !== process.getuid?.()) throw new ToolhostError('TH_ERR_TOOL_NOT_YOURS', os.userInfo().username, tool.name, tool.name);
    return null;
  }
  const owner = toolOwner(tool);
  // a home without an account that is not root's own: nobody root may act for
  if (!owner) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', tool.name);
  if (owner.uid === 0) return null;
  const runtimeDir = runtimeDirectory(tool, io.env);
  if (!runtimeDir.startsWith(tool.home + path.sep)) prepareRuntimeDirectory(runtimeDir, owner);
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    uid: owner.uid,
    gid: owner.gid,
    env: toolProcessEnvironment(tool, io.env),
    cwd: io.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => io.out(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => io.err(d));
  const pass = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of PASSED_SIGNALS) process.on(sig, pass);
  try {
    return await new Promise((resolve) => {
      child.once('error', () => resolve(1));
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  } finally {
    for (const sig of PASSED_SIGNALS) process.off(sig, pass);
  }
}
