// How a toolhost process reaches Redis (#15): one description from a URL, a secret file or the
// environment, a plain Redis or a Sentinel set; the same rules for every command.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { describeRedis, formatRedisConnection, parseRedisConnection, redisConnectionFrom, replicasInInfo } from '../../src/routes/index.js';
import { canonicalRules, parseAclLine } from '../../src/webservice/index.js';
import { runBin } from '../helpers/index.js';

t.test('a Sentinel URL names the sentinels, the master, the database and the data nodes\' user', async (t) => {
  const c = parseRedisConnection('redis-sentinel://toolhost-proxy:s%40cret@10.0.0.1,10.0.0.2:26380,[fd00::3]/toolhost?db=2');
  t.same(c, {
    kind: 'sentinel',
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: 'fd00::3', port: 26379 },
    ],
    master: 'toolhost',
    db: 2,
    username: 'toolhost-proxy',
    password: 's@cret',
  });
  t.equal(describeRedis(c), 'redis-sentinel://toolhost-proxy:***@10.0.0.1:26379,10.0.0.2:26380,[fd00::3]:26379/toolhost?db=2', 'never a password in a log line');
  t.same(parseRedisConnection(formatRedisConnection(c)), c, 'written as one URL line and read back the same');
  t.equal(formatRedisConnection(c, { username: 'tool-x', password: 'pw' }), 'redis-sentinel://tool-x:pw@10.0.0.1:26379,10.0.0.2:26380,[fd00::3]:26379/toolhost?db=2', 'another user\'s URL for the same set (a credentials file)');
  t.equal(formatRedisConnection(parseRedisConnection('redis://127.0.0.1:6379'), { username: 'tool-x', password: 'pw' }), 'redis://tool-x:pw@127.0.0.1:6379', 'a plain Redis URL as before');
  t.equal(describeRedis(parseRedisConnection('redis://admin:pw@127.0.0.1:6379/1')), 'redis://admin:***@127.0.0.1:6379/1');
});

t.test('a malformed address is one coded error that names it, its password hidden', async (t) => {
  for (const [text, why] of [
    ['redis-sentinel://10.0.0.1:26379', /master name is missing/],
    ['redis-sentinel://u:secret@10.0.0.1:99999/m', /port 99999 is out of range/],
    ['redis-sentinel://10.0.0.1/m?sentinel=x', /unknown parameter "sentinel"/],
    ['redis-sentinel://10.0.0.1/bad name', /is not a Sentinel master name/],
    ['http://127.0.0.1:6379', /the scheme http: is not/],
    ['not a url', /it is not a URL/],
  ] as const) {
    const err = t.throws(() => parseRedisConnection(text), { code: 'TH_ERR_REDIS_ADDRESS_INVALID' }) as Error;
    t.match(err.message, why, text);
    t.notMatch(err.message, /secret/, 'the password is not in the message');
  }
});

t.test('sentinels and a master name come from options or the environment; the URL then gives the user and password only', async (t) => {
  const env = { TOOLHOST_REDIS_URL: 'redis://toolhost-registrar:pw@127.0.0.1:6379', TOOLHOST_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', TOOLHOST_REDIS_MASTER: 'toolhost' };
  t.same(redisConnectionFrom({}, env), parseRedisConnection('redis-sentinel://toolhost-registrar:pw@10.0.0.1:26379,10.0.0.2:26379/toolhost'));
  t.same(redisConnectionFrom({ redisSentinels: '10.0.0.9', redisMaster: 'other' }, env), parseRedisConnection('redis-sentinel://toolhost-registrar:pw@10.0.0.9:26379/other'), 'the options over the environment');
  t.same(redisConnectionFrom({ redisMaster: 'other' }, { TOOLHOST_REDIS_URL: 'redis-sentinel://u:p@10.0.0.1/toolhost' }), parseRedisConnection('redis-sentinel://u:p@10.0.0.1/other'), 'a master name over the URL\'s');
  t.same(redisConnectionFrom({}, {}), parseRedisConnection('redis://127.0.0.1:6379'), 'the default is unchanged');
  t.throws(() => redisConnectionFrom({ redisMaster: 'toolhost' }, {}), { code: 'TH_ERR_REDIS_ADDRESS_INVALID', message: /a master name needs sentinels/ });
  t.throws(() => redisConnectionFrom({ redisSentinels: '10.0.0.1' }, {}), { code: 'TH_ERR_REDIS_ADDRESS_INVALID', message: /master name is missing/ });
  t.throws(() => redisConnectionFrom({ redis: 'redis-sentinel://u:pw@10.0.0.1/toolhost' }, {}), { code: 'TH_ERR_SECRET_ON_COMMAND_LINE' }, 'no password on a command line, Sentinel or not');
  t.throws(() => redisConnectionFrom({ redis: 'redis-sentinel://10.0.0.1/toolhost?sentinelPassword=pw' }, {}), { code: 'TH_ERR_SECRET_ON_COMMAND_LINE' });
  const dir = t.testdir();
  const file = path.join(dir, 'registrar.url');
  writeFileSync(file, 'redis-sentinel://toolhost-registrar:pw@10.0.0.1,10.0.0.2/toolhost\n', { mode: 0o600 });
  t.equal(describeRedis(redisConnectionFrom({ redisFile: file }, {})), 'redis-sentinel://toolhost-registrar:***@10.0.0.1:26379,10.0.0.2:26379/toolhost', 'a Sentinel URL in a secret file');
});

t.test('every command takes the Sentinel options and says in one line what is wrong', async (t) => {
  const unreachable = await runBin(t, 'toolhost', ['routes', '--redis-sentinels', '127.0.0.1:1', '--redis-master', 'toolhost', 'list']);
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /^toolhost: cannot reach Redis at redis-sentinel:\/\/127\.0\.0\.1:1\/toolhost: .*\[TH_ERR_REDIS_UNREACHABLE\]\n$/);
  for (const args of [['proxy', '--redis-master', 'toolhost'], ['registrar', '--redis', 'redis-sentinel://127.0.0.1:1'], ['tool', '--redis-sentinels', 'x:y', 'list']]) {
    const r = await runBin(t, 'toolhost', args, { env: { TOOLHOST_REDIS_URL: undefined } });
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, /^toolhost: the Redis address .* cannot be used: .*\[TH_ERR_REDIS_ADDRESS_INVALID\]\n$/, args.join(' '));
  }
});

t.test('replicas are read from INFO replication; ACL users are read back rule by rule, selectors whole', async (t) => {
  t.same(replicasInInfo('# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0\r\nslave1:ip=fd00::2,port=6380,state=wait_bgsave,offset=0,lag=0\r\n'), [
    { host: '10.0.0.2', port: 6379 },
    { host: 'fd00::2', port: 6380 },
  ]);
  t.same(parseAclLine('user tool-x on sanitize-payload #5e88 resetchannels -@all +hgetall %R~prefix:x (~other:* +get)'), {
    user: 'tool-x',
    rules: ['on', 'sanitize-payload', '#5e88', 'resetchannels', '-@all', '+hgetall', '%R~prefix:x', '(~other:* +get)'],
  });
  t.equal(parseAclLine('not an acl line'), null);
  t.equal(
    canonicalRules(['on', '#5e88', '%R~prefix:x', 'resetchannels', '-@all', '+hgetall', '+client|setname', '+hget', '-debug', '-config', '+get']),
    canonicalRules(['on', '#5e88', '%R~prefix:x', 'resetchannels', '-@all', '+client|setname', '+hget', '+hgetall', '-config', '-debug', '+get']),
    'the same user written in another order compares equal',
  );
  t.not(canonicalRules(['-@all', '+get']), canonicalRules(['+get', '-@all']), 'an addition and a removal keep their order');
});
