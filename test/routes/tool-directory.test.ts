// The tool directory (#14): each existing tool's maintainers and description in
// toolhost:tool:<tool>, kept in every route table's memory the way routes are, bounded the way
// routes are, and never needed for routing.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { directoryKey, DIRECTORY_LIMITS, parseRedisConnection, parseToolEntry, RouteTable, routeKey, ToolDirectoryStore, type ToolEntry } from '../../src/routes/index.js';
import { redisClient, startRedis, waitFor, workDir } from '../helpers/index.js';

async function table(t: Test, redisUrl: string, options: { resyncIntervalMs?: number } = {}): Promise<RouteTable> {
  const rt = new RouteTable({ redis: parseRedisConnection(redisUrl), ...options });
  rt.on('error', () => {});
  t.teardown(() => rt.close());
  t.ok(await rt.start(5000), 'loaded');
  return rt;
}

t.test('an entry reaches the route table by announcement, by a change made by hand and by resync; its removal too', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const store = new ToolDirectoryStore(r);
  await store.write('before', { maintainers: ['alice'] });
  const rt = await table(t, redis.url);
  t.same(rt.tool('before'), { tool: 'before', maintainers: ['alice'], description: null }, 'loaded at start');
  const changes: [string, ToolEntry | null][] = [];
  rt.on('tool', (tool, entry) => changes.push([tool, entry]));

  await store.write('atlas', { maintainers: ['zoe', 'bob', 'bob'], description: 'Maps\nsecond line' });
  await waitFor(() => rt.tool('atlas') !== undefined, 3000, 'the announced entry');
  t.same(rt.tool('atlas'), { tool: 'atlas', maintainers: ['bob', 'zoe'], description: 'Maps' }, 'names sorted and once each; one line of description');
  await store.write('atlas', { maintainers: ['bob'] });
  await waitFor(() => rt.tool('atlas')?.maintainers.length === 1, 3000, 'the change');
  t.equal(rt.tool('atlas')?.description, 'Maps', 'a write without a description keeps the recorded one');

  // by hand, unannounced: keyspace events carry it
  await r.hset(directoryKey('atlas'), 'maintainers', 'bob carol');
  await waitFor(() => rt.tool('atlas')?.maintainers.length === 2, 3000, 'the change made by hand');
  await store.remove('atlas');
  await waitFor(() => rt.tool('atlas') === undefined, 3000, 'the removal');
  t.same(changes.map(([tool, e]) => `${tool}:${e ? e.maintainers.join(',') : 'gone'}`), ['atlas:bob,zoe', 'atlas:bob', 'atlas:bob,carol', 'atlas:gone']);

  // what nobody announced and no event carried (keyspace events off) goes at the next resync
  await r.config('SET', 'notify-keyspace-events', '');
  await r.del(directoryKey('before'));
  await rt.resync();
  t.equal(rt.tool('before'), undefined);
  t.equal(rt.size, 0, 'the directory adds nothing to the routes');
});

t.test('writers keep within the limits: user names only, at most 100 maintainers; readers leave out what is not a user name', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const store = new ToolDirectoryStore(r);
  await t.rejects(store.write('ok', { maintainers: ['alice', 'ALL'] }), { code: 'TH_ERR_USER_NAME_INVALID' });
  await t.rejects(store.write('ok', { maintainers: ['%sudo'] }), { code: 'TH_ERR_USER_NAME_INVALID' });
  await t.rejects(store.write('ok', { maintainers: ['a,b'] }), { code: 'TH_ERR_USER_NAME_INVALID' });
  await t.rejects(store.write('Bad Name', { maintainers: [] }), { code: 'TH_ERR_TOOL_NAME_INVALID' });
  const many = Array.from({ length: DIRECTORY_LIMITS.maxMaintainers + 1 }, (_, i) => `user${i}`);
  await t.rejects(store.write('crowd', { maintainers: many }), { code: 'TH_ERR_TOOL_TOO_MANY_MAINTAINERS', message: /would have 101 maintainers, more than the 100/ });
  t.equal(await r.exists(directoryKey('ok'), directoryKey('crowd')), 0, 'nothing written');
  await store.write('crowd', { maintainers: many.slice(0, 100).map((u) => `${u}${'x'.repeat(32 - u.length)}`) });
  t.equal(parseToolEntry('crowd', (await store.get('crowd')) as Record<string, string>)?.maintainers.length, 100, 'the most it holds, at the longest names, is within the hash limits');
  const skipped: string[] = [];
  t.same(parseToolEntry('x', { maintainers: 'alice  <b>x</b> root,evil bob', description: '  hi  ' }, skipped), { tool: 'x', maintainers: ['alice', 'bob'], description: 'hi' });
  t.same(skipped, ['<b>x</b>', 'root,evil']);
  t.equal(parseToolEntry('Not-A-Tool', { maintainers: 'alice' }), null);
});

t.test('an oversized entry is refused inside Redis and reported; the tool keeps the entry it had', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const rt = await table(t, redis.url);
  const warnings: string[] = [];
  rt.on('warning', (line) => warnings.push(line));
  await new ToolDirectoryStore(r).write('bloated', { maintainers: ['alice'], description: 'fine' });
  await waitFor(() => rt.tool('bloated') !== undefined, 3000, 'listed');
  const big = path.join(workDir(t), 'big');
  execFileSync('sh', ['-c', `head -c 1048576 /dev/zero | tr '\\0' x > ${big}`]);
  execFileSync('sh', ['-c', `redis-cli -p ${redis.port} -x HSET ${directoryKey('bloated')} description < ${big} > /dev/null`]);
  await r.publish(directoryKey('bloated'), 'x');
  await waitFor(() => warnings.length > 0, 3000, 'the warning');
  t.match(warnings[0], /^tool directory entry bloated: refused, \d+ bytes \(at most 8192\)$/);
  t.same(rt.tool('bloated'), { tool: 'bloated', maintainers: ['alice'], description: 'fine' }, 'the entry as it was');
});

t.test('a proxy whose Redis user may not read the directory still routes, and says why once', async (t) => {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  // the proxy user's rules before the directory existed
  await r.call('ACL', 'SETUSER', 'oldproxy', 'on', '>pw', '%R~prefix:*', '%R~toolhost:nodes', '&prefix:*', '&toolhost:nodes', '&__keyspace@*__:prefix:*', '-@all',
    ...['hgetall', 'hget', 'hlen', 'memory|usage', 'evalsha_ro', 'eval_ro', 'script|load', 'scan', 'psubscribe', 'punsubscribe', 'subscribe', 'unsubscribe', 'ping', 'info', 'client|setname', 'hello', 'config|get'].map((c) => `+${c}`));
  await new ToolDirectoryStore(r).write('listed', { maintainers: ['alice'] });
  await r.hset(routeKey('routed'), '.*', 'http://127.0.0.1:9302');
  const rt = new RouteTable({ redis: parseRedisConnection(`redis://oldproxy:pw@127.0.0.1:${redis.port}`) });
  rt.on('error', () => {});
  const warnings: string[] = [];
  rt.on('warning', (line) => warnings.push(line));
  t.teardown(() => rt.close());
  t.ok(await rt.start(5000), 'loaded');
  t.equal(rt.get('routed')?.backends.length, 1, 'routes load');
  t.equal(rt.tool('listed'), undefined);
  await r.hset(routeKey('later'), '.*', 'http://127.0.0.1:9303');
  await r.publish(routeKey('later'), 'x');
  await waitFor(() => rt.get('later') !== undefined, 3000, 'a new route heard');
  await rt.resync();
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0], /the tool directory is not readable with this Redis user .*NOPERM.*recreate the proxy's user \(toolhost tool proxy-user\)/);
});
