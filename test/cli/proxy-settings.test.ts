// toolhost proxy's settings: every option that also has a key in the settings file wins over it
// (#10), and --rate-limit N is a burst of N unless --rate-burst says otherwise.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import t from 'tap';
import { registerProxyCommand } from '../../src/cli/proxy.js';
import { resolveProxySettings, type ProxyCliOptions } from '../../src/cli/proxy-settings.js';
import { BIN, freePort, startRedis, userEnv, waitFor, workDir } from '../helpers/index.js';
import { describeRedis, formatRedisConnection } from '../../src/routes/index.js';

/** the options as commander reads them from argv, without running the command */
function parse(argv: string[]): ProxyCliOptions {
  const program = new Command('toolhost');
  registerProxyCommand(program, { out: () => {}, err: () => {}, env: {}, cwd: '/' }, () => {});
  const proxy = program.commands.find((c) => c.name() === 'proxy') as Command;
  proxy.parseOptions(argv);
  return proxy.opts<ProxyCliOptions>();
}

/** every option with a settings-file key: [the option and its value, a file value, what the file gives, what the option gives] */
const PAIRS: [string[], Record<string, unknown>, (o: ReturnType<typeof resolveProxySettings>) => unknown, unknown, unknown][] = [
  [['--listen', '127.0.0.1:2'], { listen: '127.0.0.1:1' }, (r) => r.options.listen.port, 1, 2],
  [['--admin-listen', '127.0.0.1:4'], { adminListen: '127.0.0.1:3' }, (r) => r.options.adminListen?.port, 3, 4],
  [['--redis', 'redis://127.0.0.1:6'], { redis: 'redis://127.0.0.1:5' }, (r) => formatRedisConnection(r.options.redis), 'redis://127.0.0.1:5', 'redis://127.0.0.1:6'],
  [['--redis-sentinels', '10.0.0.2:26379'], { redisSentinels: ['10.0.0.1:26379'], redisMaster: 'm' }, (r) => describeRedis(r.options.redis), 'redis-sentinel://10.0.0.1:26379/m', 'redis-sentinel://10.0.0.2:26379/m'],
  [['--redis-master', 'n'], { redisSentinels: '10.0.0.1:26379', redisMaster: 'm' }, (r) => describeRedis(r.options.redis), 'redis-sentinel://10.0.0.1:26379/m', 'redis-sentinel://10.0.0.1:26379/n'],
  [['--domain', 'b.test'], { domain: 'a.test' }, (r) => r.options.domain, 'a.test', 'b.test'],
  [['--no-path-routing'], { pathRouting: true }, (r) => r.options.pathRouting, true, false],
  [['--https-listen', '127.0.0.1:8'], { tls: { cert: 'c.pem', key: 'k.pem', listen: '127.0.0.1:7' } }, (r) => r.options.tls?.listen.port, 7, 8],
  [['--https-public-port', '10'], { tls: { cert: 'c.pem', key: 'k.pem', listen: '127.0.0.1:7', publicPort: 9 } }, (r) => r.options.tls?.publicPort, 9, 10],
  [['--tls-cert', 'c2.pem', '--tls-key', 'k2.pem'], { tls: { cert: 'c.pem', key: 'k.pem', listen: '127.0.0.1:7' } }, (r) => path.basename(r.options.tls?.certFile ?? ''), 'c.pem', 'c2.pem'],
  [['--access-log', 'b.log'], { accessLog: 'a.log' }, (r) => path.basename(r.options.accessLog?.file ?? ''), 'a.log', 'b.log'],
  [['--response-timeout', '12'], { responseTimeoutSeconds: 11 }, (r) => r.options.responseTimeoutMs, 11_000, 12_000],
  [['--connect-timeout', '3'], { connectTimeoutSeconds: 2 }, (r) => r.options.connectTimeoutMs, 2000, 3000],
  [['--resync-interval', '14'], { resyncIntervalSeconds: 13 }, (r) => r.options.resyncIntervalMs, 13_000, 14_000],
  [['--redis-wait', '16'], { redisWaitSeconds: 15 }, (r) => r.redisWaitMs, 15_000, 16_000],
  [['--title', 'B'], { title: 'A' }, (r) => r.options.homeTitle, 'A', 'B'],
  [['--rate-limit', '3'], { limits: { ratePerSecond: 50 } }, (r) => r.options.limits?.ratePerSecond, 50, 3],
  [['--rate-burst', '7'], { limits: { burst: 70 } }, (r) => r.options.limits?.burst, 70, 7],
  [['--max-body-mb', '2'], { limits: { maxBodyBytes: 1024 * 1024 } }, (r) => r.options.limits?.maxBodyBytes, 1024 * 1024, 2 * 1024 * 1024],
  [['--buffer-body-mb', '4'], { limits: { bufferBodyBytes: 3 * 1024 * 1024 } }, (r) => r.options.limits?.bufferBodyBytes, 3 * 1024 * 1024, 4 * 1024 * 1024],
  [['--max-connections-per-ip', '6'], { limits: { maxConnectionsPerIp: 5 } }, (r) => r.options.limits?.maxConnectionsPerIp, 5, 6],
  [['--empty-user-agent', 'deny'], { limits: { emptyUserAgent: 'allow' } }, (r) => r.options.limits?.emptyUserAgent, 'allow', 'deny'],
  [['--backend-networks', '10.0.0.0/8'], { backendNetworks: ['192.168.0.0/16'] }, (r) => r.options.backendNetworks, ['192.168.0.0/16'], ['10.0.0.0/8']],
  [['--no-rewrite-location'], { rewriteLocation: true }, (r) => r.options.rewriteLocation, true, false],
  [['--allow-trace'], { allowTrace: false }, (r) => r.options.allowTrace, false, true],
];

t.test('every option that has a settings-file key wins over the file (#10)', async (t) => {
  const dir = t.testdir({ 'c.pem': 'x', 'k.pem': 'x', 'c2.pem': 'x', 'k2.pem': 'x' });
  for (const [argv, fileSettings, read, fromFile, fromOption] of PAIRS) {
    const file = path.join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify(fileSettings));
    const withFile = resolveProxySettings(parse(['--config', file]), {}, dir);
    t.same(read(withFile), fromFile, `${argv[0]}: the file's value without the option`);
    const both = resolveProxySettings(parse(['--config', file, ...argv]), {}, dir);
    t.same(read(both), fromOption, `${argv[0]}: the option over the file`);
  }
});

t.test('the table above covers every option of toolhost proxy but --config', async (t) => {
  const program = new Command('toolhost');
  registerProxyCommand(program, { out: () => {}, err: () => {}, env: {}, cwd: '/' }, () => {});
  const proxy = program.commands.find((c) => c.name() === 'proxy') as Command;
  const flags = proxy.options.map((o) => o.long as string).sort();
  // --redis-file has its own test below (it needs a file only its owner may read)
  const covered = new Set(['--config', '--tls-key', '--redis-file', ...PAIRS.map(([argv]) => argv[0] as string)]);
  t.same(flags.filter((f) => !covered.has(f)), []);
});

t.test('the proxy takes a Redis password from a secret file or the environment, never from --redis (#9)', async (t) => {
  const dir = t.testdir();
  const settings = path.join(dir, 'settings.json');
  writeFileSync(settings, JSON.stringify({ redis: 'redis://127.0.0.1:5' }));
  const secret = path.join(dir, 'proxy.url');
  writeFileSync(secret, 'redis://toolhost-proxy:pw@127.0.0.1:7\n', { mode: 0o600 });
  t.equal(formatRedisConnection(resolveProxySettings(parse(['--config', settings, '--redis-file', secret]), {}, dir).options.redis), 'redis://toolhost-proxy:pw@127.0.0.1:7', 'the file over the settings file');
  t.equal(formatRedisConnection(resolveProxySettings(parse(['--config', settings]), { TOOLHOST_REDIS_URL: 'redis://u:p@127.0.0.1:8' }, dir).options.redis), 'redis://u:p@127.0.0.1:8', 'the environment over the settings file');
  t.throws(() => resolveProxySettings(parse(['--redis', 'redis://toolhost-proxy:pw@127.0.0.1:7']), {}, dir), { code: 'TH_ERR_SECRET_ON_COMMAND_LINE' });
});

t.test('--rate-limit N gives a burst of N, whatever the file says, unless --rate-burst is given (#10)', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'settings.json');
  writeFileSync(file, JSON.stringify({ limits: { ratePerSecond: 100, burst: 100 } }));
  t.equal(resolveProxySettings(parse(['--config', file, '--rate-limit', '3']), {}, dir).options.limits?.burst, 3);
  t.equal(resolveProxySettings(parse(['--config', file, '--rate-limit', '3', '--rate-burst', '9']), {}, dir).options.limits?.burst, 9);
  t.equal(resolveProxySettings(parse(['--config', file]), {}, dir).options.limits?.burst, 100, 'without the option, the file\'s burst');
  t.equal(resolveProxySettings(parse([]), {}, dir).options.limits?.burst, 100, 'conf/toolhost.json');
});

t.test('toolhost proxy --rate-limit 3: the fourth request at once is refused with 429 (#10)', async (t) => {
  const redis = await startRedis(t);
  const port = await freePort();
  const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'proxy', '--listen', `127.0.0.1:${port}`, '--admin-listen', 'none', '--redis', redis.url, '--rate-limit', '3'], {
    env: userEnv(),
    cwd: workDir(t),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await waitFor(() => stderr.includes('listening on'), 15_000, 'the proxy to listen');
  const statuses = await Promise.all(Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${port}/nosuch/`).then((r) => r.status)));
  t.same(statuses.sort(), [404, 404, 404, 429, 429]);
});
