// Where a command's Redis comes from: --redis-file, --redis, TOOLHOST_REDIS_URL (or a settings
// file's value, then the default), turned into a Sentinel set by --redis-sentinels /
// TOOLHOST_REDIS_SENTINELS and --redis-master / TOOLHOST_REDIS_MASTER. Every toolhost process
// that talks to Redis asks this one function, so how it is reached is decided in one place.
//
// Redis URLs carry passwords (the registrar's, the proxy's, the administrator's): never print
// one whole, and never take one from a command line, where every user of the host reads it
// (ps, /proc/PID/cmdline). A password comes from the environment (which only the process's own
// user and root can read) or from a file only its owner may read.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { ToolhostError } from '../errors.js';
import { DEFAULT_REDIS_URL, DEFAULT_SENTINEL_PORT, describeRedis, hasSecret, parseHostList, parseRedisConnection, redactRedisText, sentinelConnection, type RedisConnection, type SentinelRedis } from './redis-connection.js';

export interface RedisUrlOptions {
  /** --redis URL: without a password */
  readonly redis?: string | undefined;
  /** --redis-file FILE: the URL, in a file nobody but its owner may read */
  readonly redisFile?: string | undefined;
  /** --redis-sentinels HOST:PORT,…: ask these sentinels where the master is */
  readonly redisSentinels?: string | undefined;
  /** --redis-master NAME: the master's name in the sentinels' configuration */
  readonly redisMaster?: string | undefined;
}

/** kept for log lines that only have a URL */
export function redactRedisUrl(url: string): string {
  try {
    return describeRedis(parseRedisConnection(url));
  } catch {
    return redactRedisText(url);
  }
}

/**
 * The connection a command uses. The URL (--redis-file, --redis, TOOLHOST_REDIS_URL, then a
 * settings file's, then the default) gives the data nodes' user and password, and the address
 * unless sentinels are named; named sentinels (option, environment, settings file) with a master
 * name make it a Sentinel connection.
 */
export function redisConnectionFrom(o: RedisUrlOptions, env: Readonly<Record<string, string | undefined>>, settings: Pick<RedisUrlOptions, 'redis' | 'redisSentinels' | 'redisMaster'> = {}): RedisConnection {
  if (o.redis !== undefined && hasSecret(parseRedisConnection(o.redis))) throw new ToolhostError('TH_ERR_SECRET_ON_COMMAND_LINE', redactRedisText(o.redis));
  const text = o.redisFile !== undefined ? readSecretFile(o.redisFile) : (o.redis ?? (env.TOOLHOST_REDIS_URL || settings.redis || DEFAULT_REDIS_URL));
  const base = parseRedisConnection(text);
  const sentinels = o.redisSentinels || env.TOOLHOST_REDIS_SENTINELS || settings.redisSentinels;
  const master = o.redisMaster || env.TOOLHOST_REDIS_MASTER || settings.redisMaster;
  if (!sentinels && !master) return base;
  if (!sentinels && base.kind === 'direct') {
    throw new ToolhostError('TH_ERR_REDIS_ADDRESS_INVALID', `master "${master}"`, 'a master name needs sentinels: give --redis-sentinels HOST:PORT,… (or TOOLHOST_REDIS_SENTINELS)');
  }
  const label = sentinels ? `sentinels ${sentinels}` : describeRedis(base);
  return sentinelConnection(
    {
      ...(base.kind === 'sentinel' ? base : { db: 0, username: base.username, password: base.password }),
      sentinels: sentinels ? parseHostList(sentinels, DEFAULT_SENTINEL_PORT, label) : (base as SentinelRedis).sentinels,
      master: master || (base.kind === 'sentinel' ? base.master : ''),
    },
    label,
  );
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
