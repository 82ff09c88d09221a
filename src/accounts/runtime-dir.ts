// Where a tool's supervisor keeps its pid file, state and generated configs. One answer for
// every caller (the maintainer's webservice, root's monitor, the supervisor itself), computed
// from the tool alone, never from who asks: otherwise two of them look in different places and
// start two supervisors.
//   TOOLHOST_RUNTIME_DIR/<tool>   when the operator (or a test) sets it
//   /run/toolhost/<tool>          a tool with a unix account (created by root, owned by the tool)
//   ~/.toolhost/run               a development tool without an account
import { lstatSync, mkdirSync, chmodSync, lchownSync } from 'node:fs';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import type { Owner, Tool } from './tool-account.js';

export const SYSTEM_RUNTIME_ROOT = '/run/toolhost';

export function runtimeDirectory(tool: Tool, env: Readonly<Record<string, string | undefined>>): string {
  if (env.TOOLHOST_RUNTIME_DIR) return path.join(path.resolve(env.TOOLHOST_RUNTIME_DIR), tool.name);
  if (tool.account) return path.join(SYSTEM_RUNTIME_ROOT, tool.name);
  return path.join(tool.home, '.toolhost', 'run');
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * A directory root may create things in: a real directory owned by root that nobody else may
 * write. Anything else could be swapped under root's feet by whoever can write it.
 */
export function requireRootOwnedDirectory(dir: string, mode = 0o755): void {
  mkdirSync(dir, { recursive: true, mode });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new ToolhostError('TH_ERR_UNSAFE_DIRECTORY', dir, st.isDirectory() ? `owned by uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}` : 'not a directory');
  }
}

/**
 * Make the tool's runtime directory exist and belong to the tool. As root this is done inside a
 * root-owned parent only (checked), so the tool cannot redirect it; as anyone else (the tool
 * itself) a plain mkdir.
 */
export function prepareRuntimeDirectory(dir: string, owner: Owner | null): void {
  if (!isRoot() || owner === null || owner.uid === 0) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw new ToolhostError('TH_ERR_RUNTIME_DIR_MISSING', dir);
      throw err;
    }
    return;
  }
  requireRootOwnedDirectory(path.dirname(dir));
  try {
    mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new ToolhostError('TH_ERR_UNSAFE_DIRECTORY', dir, 'not a directory');
  // the parent is root's and closed to others: nothing can be swapped between the check and here
  lchownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o750);
}
