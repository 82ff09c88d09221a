// Redis with high availability as the several-hosts guide sets it up: data nodes from
// conf/redis/redis.conf and users.acl (the same users on every node, the replication and
// sentinel users added as the guide says), a replica, and three sentinels from
// conf/redis/sentinel.conf, with only ports, paths and the failover delay changed. Everything
// runs in the test's directory on free ports and stops at teardown.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { startProcess, tcpProbe, type ManagedProcess } from '../../src/supervisor/index.js';
import { freePort, ROOT, waitFor, workDir } from './index.js';

export const MASTER_NAME = 'toolhost';

function secret(): string {
  return Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

export interface DataNode {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  process: ManagedProcess;
}

export interface SentinelSet {
  readonly nodes: DataNode[];
  readonly sentinelPorts: readonly number[];
  /** the administrator's URL through the sentinels (the password in it: environment or file only) */
  readonly adminUrl: string;
  /** the administrator's URL for one data node */
  nodeUrl(port: number): string;
  /** a client of one data node as the administrator, closed at teardown */
  node(port: number): Promise<Redis>;
  /** what the sentinels say the master is (the port), asking each until one answers */
  masterPort(): Promise<number>;
  /** a data node started like the others, replicating from the master (users.acl as given) */
  addNode(name: string, options?: { aclExtra?: string; replicaOf?: number }): Promise<DataNode>;
  /** start a stopped node again on its port, with its files */
  restart(node: DataNode): Promise<void>;
  /** discovery done: every sentinel knows every replica and the two other sentinels */
  settled(replicas: number): Promise<void>;
}

/**
 * Master, replica and three sentinels. `downAfterMs` is the sentinels' down-after-milliseconds
 * (the guide ships 5000; tests use 1000 as the reference measurements did).
 */
export async function startSentinelSet(t: Test, options: { downAfterMs?: number } = {}): Promise<SentinelSet> {
  const base = path.join(workDir(t), 'ha');
  mkdirSync(base, { recursive: true });
  const adminPassword = secret();
  const replicationPassword = secret();
  const sentinelPassword = secret();
  const sentinelsAdminPassword = secret();
  const sentinelsClientPassword = secret();
  // the guide: the same users on every node; the replication and sentinel users added
  const usersAcl =
    readFileSync(path.join(ROOT, 'conf', 'redis', 'users.acl'), 'utf8') +
    `user toolhost-admin on >${adminPassword} ~* &* +@all\n` +
    `user toolhost-replication on >${replicationPassword} +psync +replconf +ping\n` +
    `user toolhost-sentinel on >${sentinelPassword} allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill\n`;
  const nodes: DataNode[] = [];

  const launch = async (node: Omit<DataNode, 'process'>): Promise<ManagedProcess> => {
    const proc = await startProcess({ command: 'redis-server', args: [path.join(node.dir, 'redis.conf')], cwd: node.dir, ready: () => tcpProbe('127.0.0.1', node.port, 200), diesWithParent: true });
    t.teardown(() => proc.stop(2000));
    return proc;
  };

  const addNode = async (name: string, o: { aclExtra?: string; replicaOf?: number } = {}): Promise<DataNode> => {
    const dir = path.join(base, name);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    writeFileSync(path.join(dir, 'users.acl'), o.aclExtra ?? usersAcl);
    const conf =
      readFileSync(path.join(ROOT, 'conf', 'redis', 'redis.conf'), 'utf8')
        .replace(/^port .*$/m, `port ${port}`)
        .replace(/^bind .*$/m, 'bind 127.0.0.1')
        .replace(/^dir .*$/m, `dir ${dir}`)
        .replace(/^logfile .*$/m, `logfile ${path.join(dir, 'redis.log')}`)
        .replace(/^aclfile .*$/m, `aclfile ${path.join(dir, 'users.acl')}`) +
      // the guide's lines for a node of a replicated set
      `\nmasteruser toolhost-replication\nmasterauth ${replicationPassword}\n` +
      (o.replicaOf ? `replicaof 127.0.0.1 ${o.replicaOf}\n` : '');
    writeFileSync(path.join(dir, 'redis.conf'), conf);
    const spec = { name, port, dir };
    const node: DataNode = { ...spec, process: await launch(spec) };
    nodes.push(node);
    return node;
  };

  const master = await addNode('master');
  await addNode('replica', { replicaOf: master.port });

  const sentinelPorts: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const dir = path.join(base, `sentinel${i}`);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    sentinelPorts.push(port);
    const conf = readFileSync(path.join(ROOT, 'conf', 'redis', 'sentinel.conf'), 'utf8')
      .replace(/^port .*$/m, `port ${port}`)
      .replace(/^bind .*$/m, 'bind 127.0.0.1')
      .replace(/^dir .*$/m, `dir ${dir}`)
      .replace(/^logfile .*$/m, `logfile ${path.join(dir, 'sentinel.log')}`)
      .replace(/^sentinel monitor (\S+) \S+ \d+ (\d+)$/m, `sentinel monitor $1 127.0.0.1 ${master.port} $2`)
      .replace(/^sentinel down-after-milliseconds (\S+) \d+$/m, `sentinel down-after-milliseconds $1 ${options.downAfterMs ?? 1000}`)
      .replace(/^sentinel failover-timeout (\S+) \d+$/m, `sentinel failover-timeout $1 5000`)
      .replaceAll('SENTINELS_ADMIN_PASSWORD', sentinelsAdminPassword)
      .replaceAll('SENTINELS_CLIENT_PASSWORD', sentinelsClientPassword)
      .replace('SENTINEL_PASSWORD', sentinelPassword);
    // sentinel rewrites its file: one writable copy each
    writeFileSync(path.join(dir, 'sentinel.conf'), conf);
    const proc = await startProcess({ command: 'redis-sentinel', args: [path.join(dir, 'sentinel.conf')], cwd: dir, ready: () => tcpProbe('127.0.0.1', port, 200), diesWithParent: true });
    t.teardown(() => proc.stop(2000));
  }

  const nodeUrl = (port: number): string => `redis://toolhost-admin:${adminPassword}@127.0.0.1:${port}`;
  const clients: Redis[] = [];
  t.teardown(() => {
    for (const c of clients) c.disconnect();
  });
  const node = async (port: number): Promise<Redis> => {
    const r = new Redis(nodeUrl(port), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    await r.connect();
    clients.push(r);
    return r;
  };
  const sentinel = (port: number): Redis => {
    const r = new Redis({ host: '127.0.0.1', port, username: 'toolhost-sentinels', password: sentinelsAdminPassword, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    r.on('error', () => {});
    return r;
  };
  const ask = async <T>(fn: (s: Redis) => Promise<T>): Promise<T> => {
    let last: unknown;
    for (const port of sentinelPorts) {
      const s = sentinel(port);
      try {
        await s.connect();
        return await fn(s);
      } catch (err) {
        last = err;
      } finally {
        s.disconnect();
      }
    }
    throw last;
  };
  const set: SentinelSet = {
    nodes,
    sentinelPorts,
    adminUrl: `redis-sentinel://toolhost-admin:${adminPassword}@${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}?sentinelUsername=toolhost-client&sentinelPassword=${sentinelsClientPassword}`,
    nodeUrl,
    node,
    masterPort: () => ask(async (s) => Number(((await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[])[1])),
    addNode: (name, o = {}) => addNode(name, { replicaOf: o.replicaOf ?? master.port, ...(o.aclExtra !== undefined ? { aclExtra: o.aclExtra } : {}) }),
    restart: async (n) => {
      n.process = await launch(n);
    },
    settled: async (replicas) => {
      const knows = async (port: number): Promise<boolean> => {
        const s = sentinel(port);
        try {
          await s.connect();
          const reply = (await s.call('SENTINEL', 'MASTER', MASTER_NAME)) as string[];
          const m = new Map<string, string>();
          for (let i = 0; i + 1 < reply.length; i += 2) m.set(reply[i] as string, reply[i + 1] as string);
          return Number(m.get('num-slaves')) >= replicas && Number(m.get('num-other-sentinels')) === 2;
        } catch {
          return false;
        } finally {
          s.disconnect();
        }
      };
      await waitFor(async () => (await Promise.all(sentinelPorts.map(knows))).every(Boolean), 30_000, 'the sentinels to find the replicas and each other');
    },
  };
  await set.settled(1);
  return set;
}
