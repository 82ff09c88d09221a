// One short conversation with Redis for a command (routes list, tool create): connect without
// retrying, run, disconnect; an unreachable Redis is one clear error, its password redacted.
import type { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { createRedis, describeRedis, type RedisConnection } from './redis-connection.js';

export async function withRedis<T>(conn: RedisConnection, fn: (redis: Redis) => Promise<T>, options: { connectTimeoutMs?: number } = {}): Promise<T> {
  const redis = createRedis(conn, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // every sentinel asked once: a command does not wait for a failover to end
    sentinelRetryStrategy: () => null,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new ToolhostError('TH_ERR_REDIS_UNREACHABLE', describeRedis(conn), (err as Error).message);
  }
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
