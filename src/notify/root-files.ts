// Files root keeps about tools' notices, under the state directory. Written whole (a temporary
// name, then a rename) in directories that are root's and closed to others, so a tool can
// neither swap one under root nor see a half-written one.
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { requireRootOwnedDirectory } from '../accounts/index.js';

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** a directory for root's files (root-owned when root; a plain one in development) */
export function rootDirectory(dir: string, mode: number): string {
  if (isRoot()) {
    requireRootOwnedDirectory(dir, mode);
    chmodSync(dir, mode);
  } else {
    mkdirSync(dir, { recursive: true, mode });
  }
  return dir;
}

/** write the file whole; readable by the group `gid` when given (the tool's own, for its status) */
export function writeWhole(file: string, text: string, mode: number, gid?: number): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { flag: 'wx', mode });
  if (gid !== undefined && isRoot()) chownSync(tmp, 0, gid);
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

export function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

export function notifyDirectory(stateDir: string): string {
  return path.join(stateDir, 'notify');
}
