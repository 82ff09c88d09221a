// The options that say where Redis is, the same on every command that talks to it (proxy,
// registrar, routes, tool): a URL without a password, a secret file, or a Sentinel set and its
// master name. What they mean together is decided once, in routes/redis-url.ts.
import { DEFAULT_REDIS_URL } from '../defaults.js';
import type { Command as Commander } from 'commander';

/** --redis, --redis-file, --redis-sentinels, --redis-master on `command`; `whose` says which user's URL */
export function addRedisOptions(command: Commander, whose: string): Commander {
  return command
    .option('--redis <url>', `${whose}: redis://HOST:PORT or redis-sentinel://HOST:PORT,…/MASTER, without a password (or TOOLHOST_REDIS_URL; default ${DEFAULT_REDIS_URL})`)
    .option('--redis-file <file>', `a file only you may read holding the URL, password included (${whose})`)
    .option('--redis-sentinels <host:port,…>', 'ask these Redis sentinels where the master is, and follow failovers (or TOOLHOST_REDIS_SENTINELS); the URL then gives only user and password')
    .option('--redis-master <name>', 'the master\'s name in the sentinels\' configuration (or TOOLHOST_REDIS_MASTER)');
}
