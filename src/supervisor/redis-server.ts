// A private redis-server on a free loopback port with its files in a directory of its own and
// no persistence: what the demo and the tests run. Production points at a real Redis.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startProcess, type ManagedProcess } from './child-process.js';
import { tcpProbe } from './probes.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startRedisServer(dir: string, options: { binary?: string; extraConfig?: string } = {}): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const { default: getPort } = await import('get-port');
  const port = await getPort({ host: '127.0.0.1' });
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'save ""',
      'appendonly no',
      'daemonize no',
      `logfile ${path.join(dir, 'redis.log')}`,
      options.extraConfig ?? '',
    ].join('\n'),
  );
  const proc = await startProcess({
    command: options.binary ?? 'redis-server',
    args: [conf],
    cwd: dir,
    ready: () => tcpProbe('127.0.0.1', port, 200),
    diesWithParent: true,
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: proc,
    stop: async () => {
      await proc.stop(2000);
    },
  };
}
