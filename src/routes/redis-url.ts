// Redis URLs carry passwords (the registrar's, the proxy's, the administrator's): never print
// one whole, and never take one from a command line, where every user of the host reads it
// (ps, /proc/PID/cmdline). A password comes from the environment (which only the process's own
// user and root can read) or from a file only its owner may read.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ToolhostError } from '../errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

export interface RedisUrlOptions {
  /** --redis URL: without a password */
  readonly redis?: string | undefined;
  /** --redis-file FILE: the URL, in a file nobody but its owner may read */
  readonly redisFile?: string | undefined;
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/** the URL a command uses: --redis-file, --redis (no password), TOOLHOST_REDIS_URL, the default */
export function redisUrlFrom(o: RedisUrlOptions, env: Readonly<Record<string, string | undefined>>): string {
  if (o.redis !== undefined && hasPassword(o.redis)) throw new ToolhostError('TH_ERR_SECRET_ON_COMMAND_LINE', redactRedisUrl(o.redis));
  if (o.redisFile !== undefined) return readSecretFile(o.redisFile);
  return o.redis ?? env.TOOLHOST_REDIS_URL ?? DEFAULT_REDIS_URL;
}

/** the first line of a file that only its owner may read (and, read by root, that root owns) */
function readSecretFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new ToolhostError('TH_ERR_FILE_UNREADABLE', file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  try {
    const st = fstatSync(fd);
    const me = process.getuid?.() ?? 0;
    if (!st.isFile() || (st.mode & 0o077) !== 0 || st.uid !== me) {
      throw new ToolhostError('TH_ERR_SECRET_FILE_OPEN', file, `owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}`);
    }
    const url = readFileSync(fd, 'utf8').split('\n')[0]?.trim() ?? '';
    if (!url) throw new ToolhostError('TH_ERR_FILE_UNREADABLE', file, 'it is empty');
    return url;
  } finally {
    closeSync(fd);
  }
}
