// One short conversation with Redis for a command (routes list, tool create): connect without
// retrying, run, disconnect; an unreachable Redis is one clear error, its password redacted.
import { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { redactRedisUrl } from './redis-url.js';

export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>, options: { connectTimeoutMs?: number } = {}): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: options.connectTimeoutMs ?? 10_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new ToolhostError('TH_ERR_REDIS_UNREACHABLE', redactRedisUrl(url), (err as Error).message);
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
