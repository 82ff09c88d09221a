// Redis users on every data node (#15). ACL users are not replicated, so `toolhost tool create`
// and `delete` write them on the master and on every replica, say which node they could not
// reach, and `toolhost tool sync-acl` brings a returning or new replica in step. Real tool
// accounts, a master, a replica and three sentinels from the guide's files.
import { chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { createRedis, parseRedisConnection } from '../../src/routes/index.js';
import { killProcessesOf, runBin, waitFor, workDir } from '../helpers/index.js';
import { uniq } from '../helpers/platform.js';
import { canonicalRules, parseAclLine } from '../../src/webservice/index.js';
import { startSentinelSet } from '../helpers/sentinel.js';

const skip = process.getuid?.() === 0 ? false : 'needs root for unix users';

/** the tool's own URL, as its credentials file holds it, pointed at one data node */
async function asToolOn(t: Test, credentials: string, port: number): Promise<Redis> {
  const c = parseRedisConnection(credentials);
  const r = new Redis({ host: '127.0.0.1', port, username: c.username ?? '', password: c.password ?? '', lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
  r.on('error', () => {});
  t.teardown(() => r.disconnect());
  await r.connect();
  return r;
}

t.test('tool users on every data node: written by create, named when a replica is down, copied by sync-acl to a returning or new replica, removed by delete, valid after a failover; tools cannot steer sentinels', { skip }, async (t) => {
  killProcessesOf(t);
  const base = workDir(t);
  chmodSync(base, 0o755);
  const homeRoot = path.join(base, 'project');
  const ha = await startSentinelSet(t);
  const env = { TOOLHOST_REDIS_URL: ha.adminUrl, TOOLHOST_RUNTIME_DIR: path.join(base, 'run') };
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', homeRoot, ...args], { env });
  const [master, replica] = ha.nodes as [(typeof ha.nodes)[0], (typeof ha.nodes)[0]];
  const a = uniq('tua');
  const b = uniq('tub');
  t.teardown(async () => {
    await admin('delete', a, '--remove-home');
    await admin('delete', b, '--remove-home');
  });
  /** the user's rules on one node, in the form two nodes agree on (ACL LIST keeps the order commands were added in) */
  const rulesOf = async (port: number, user: string): Promise<string | null> => {
    const lines = (await (await ha.node(port)).call('ACL', 'LIST')) as string[];
    const parsed = lines.map(parseAclLine).find((p) => p?.user === user);
    return parsed ? canonicalRules(parsed.rules) : null;
  };
  const credentialsOf = (name: string): string => readFileSync(path.join(homeRoot, name, '.toolhost', 'redis-credentials'), 'utf8').trim();

  const made = await admin('create', a);
  t.equal(made.code, 0, made.stderr);
  t.equal(made.stderr, '', 'every node in step: nothing to warn about');
  const credsA = credentialsOf(a);
  t.match(credsA, new RegExp(`^redis-sentinel://tool-${a}:[0-9a-f]{48}@(127\\.0\\.0\\.1:\\d+,){2}127\\.0\\.0\\.1:\\d+/toolhost\\?sentinelUsername=toolhost-client&sentinelPassword=\\w+$`), 'the tool\'s URL names the sentinels, not one node');
  // the sentinels decide which Redis every proxy reads: a tool may ask them, never steer them
  const conn = parseRedisConnection(credsA);
  const sentinelPort = ha.sentinelPorts[0] as number;
  const askSentinel = async (username?: string, password?: string): Promise<Redis> => {
    const s = new Redis({ host: '127.0.0.1', port: sentinelPort, ...(username ? { username, password } : {}), lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    s.on('error', () => {});
    t.teardown(() => s.disconnect());
    await s.connect();
    return s;
  };
  const asToolOnSentinel = await askSentinel(conn.kind === 'sentinel' ? conn.sentinelUsername : undefined, conn.kind === 'sentinel' ? conn.sentinelPassword : undefined);
  t.same(await asToolOnSentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'toolhost'), ['127.0.0.1', String(master.port)], 'a tool finds the master through the sentinels');
  for (const steer of [['MONITOR', 'evil', '127.0.0.1', '1', '1'], ['REMOVE', 'toolhost'], ['SET', 'toolhost', 'quorum', '1'], ['FAILOVER', 'toolhost'], ['RESET', '*'], ['CONFIG', 'SET', 'announce-hostnames', 'yes']]) {
    await t.rejects(asToolOnSentinel.call('SENTINEL', ...steer), /NOPERM/, `but not SENTINEL ${steer[0]}`);
  }
  await t.rejects(asToolOnSentinel.call('ACL', 'SETUSER', 'toolhost-client', '+@all'), /NOPERM/, 'nor give itself more');
  await t.rejects((await askSentinel()).call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'toolhost'), /NOAUTH/, 'nobody asks without the client login');
  t.ok(await rulesOf(master.port, `tool-${a}`), 'the user is on the master');
  t.equal(await rulesOf(replica.port, `tool-${a}`), await rulesOf(master.port, `tool-${a}`), 'and on the replica, with the same password and rules');
  const onReplica = await asToolOn(t, credsA, replica.port);
  t.same(await onReplica.hgetall(`prefix:${a}`), {}, 'the tool logs in on the replica and reads its own route');
  await t.rejects(onReplica.hgetall(`prefix:${b}`), /NOPERM/, 'and, there too, no other tool\'s');

  // a replica that is down while a tool is made: the administrator is told, in one line
  await replica.process.stop(2000);
  const whileDown = await admin('create', b);
  t.equal(whileDown.code, 0, 'the tool is made on the master all the same');
  t.match(whileDown.stderr, new RegExp(`^toolhost tool: Redis users are not in step on every node: 127\\.0\\.0\\.1:${replica.port}: .*; once the node is back, run: toolhost tool sync-acl \\[TH_ERR_REDIS_NODES_NOT_SYNCED\\]\\n$`));
  await ha.restart(replica);
  t.equal(await rulesOf(replica.port, `tool-${b}`), null, 'the returning replica lacks the new user');
  const synced = await admin('sync-acl');
  t.equal(synced.code, 0, synced.stderr);
  t.match(synced.stdout, new RegExp(`^127\\.0\\.0\\.1:${replica.port} +1 user\\(s\\) written \\(tool-${b}\\), 0 removed$`, 'm'));
  t.equal(await rulesOf(replica.port, `tool-${b}`), await rulesOf(master.port, `tool-${b}`), 'sync-acl brought it in step');
  t.match(readFileSync(path.join(replica.dir, 'users.acl'), 'utf8'), `user tool-${b} `, 'and saved it in the node\'s ACL file, for its next start');
  t.match((await admin('sync-acl')).stdout, new RegExp(`^127\\.0\\.0\\.1:${replica.port} +0 user\\(s\\) written, 0 removed$`, 'm'), 'a second run has nothing to do');

  // a new replica, started with the guide's users.acl only
  const fresh = await ha.addNode('replica2');
  await waitFor(async () => /master_link_status:up/.test(await (await ha.node(fresh.port)).info('replication')), 20_000, 'the new replica to sync');
  t.equal(await rulesOf(fresh.port, `tool-${a}`), null, 'a new replica has no tool users');
  const toNew = await admin('sync-acl', `127.0.0.1:${fresh.port}`);
  t.equal(toNew.code, 0, toNew.stderr);
  for (const user of [`tool-${a}`, `tool-${b}`]) t.equal(await rulesOf(fresh.port, user), await rulesOf(master.port, user), `${user} on the new replica`);

  // delete: gone everywhere
  t.equal((await admin('delete', a, '--remove-home')).code, 0);
  for (const node of [master, replica, fresh]) t.equal(await rulesOf(node.port, `tool-${a}`), null, `tool-${a} removed from ${node.name}`);

  // after a failover, the tool's own URL still logs in, on whichever node is master now
  await ha.settled(2);
  master.process.signal('SIGKILL');
  await master.process.exited;
  await waitFor(async () => (await ha.masterPort().catch(() => master.port)) !== master.port, 30_000, 'a replica to be promoted');
  const asB = createRedis(parseRedisConnection(credentialsOf(b)), { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  asB.on('error', () => {});
  t.teardown(() => asB.disconnect());
  await asB.connect();
  t.same(await asB.hgetall(`prefix:${b}`), {}, 'the tool reads its own route on the new master');
  t.equal(asB.stream.remotePort, await ha.masterPort(), 'through the sentinels, on the new master');
});
