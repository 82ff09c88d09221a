// One place for each default (#14 item 7): src/defaults.ts. The shipped conf/toolhost.json must
// say exactly the same (operators read and copy it), and what the proxy, the notifier and the log
// caps fall back to when a settings file leaves a value out is that module's value.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { resolveProxySettings } from '../../src/cli/proxy-settings.js';
import { DEFAULT_REDIS_URL, DEFAULT_SETTINGS } from '../../src/defaults.js';
import { toolLogPolicy } from '../../src/logs/index.js';
import { DEFAULT_DIGEST_MS, DEFAULT_HOURLY_CAP } from '../../src/notify/index.js';
import { DEFAULT_BACKEND_NETWORKS, DEFAULT_LIMITS } from '../../src/proxy/index.js';
import { ROOT } from '../helpers/index.js';

t.test('conf/toolhost.json holds exactly the defaults of src/defaults.ts', async (t) => {
  t.same(JSON.parse(readFileSync(path.join(ROOT, 'conf', 'toolhost.json'), 'utf8')), DEFAULT_SETTINGS);
});

t.test('the proxy, the notifier and the tool log caps take their defaults from src/defaults.ts', async (t) => {
  // the proxy's limits are the file's, a "…Seconds" value as "…Ms"
  for (const [key, value] of Object.entries(DEFAULT_SETTINGS.limits)) {
    const ms = key.endsWith('Seconds') ? key.replace(/Seconds$/, 'Ms') : null;
    t.equal(DEFAULT_LIMITS[(ms ?? key) as keyof typeof DEFAULT_LIMITS], ms ? (value as number) * 1000 : value, `limits.${key}`);
  }
  t.equal(Object.keys(DEFAULT_LIMITS).length, Object.keys(DEFAULT_SETTINGS.limits).length, 'no limit of the proxy\'s own');
  t.same(DEFAULT_BACKEND_NETWORKS, DEFAULT_SETTINGS.backendNetworks);
  t.equal(DEFAULT_REDIS_URL, DEFAULT_SETTINGS.redis);
  t.equal(DEFAULT_DIGEST_MS, DEFAULT_SETTINGS.mail.digestSeconds * 1000);
  t.equal(DEFAULT_HOURLY_CAP, DEFAULT_SETTINGS.mail.hourlyCap);
  const logs = toolLogPolicy('anytool', {});
  t.same(logs.files, { maxBytes: DEFAULT_SETTINGS.toolLogs.maxBytes, keep: DEFAULT_SETTINGS.toolLogs.keep });
  t.equal(logs.internal.maxBytes, DEFAULT_SETTINGS.toolLogs.internalMaxBytes);
});

t.test('a settings file that leaves values out gets src/defaults.ts for them, a part of limits too', async (t) => {
  const file = path.join(t.testdir(), 'partial.json');
  writeFileSync(file, JSON.stringify({ limits: { ratePerSecond: 7 } }));
  const { options, redisWaitMs } = resolveProxySettings({ config: file }, {}, ROOT);
  t.equal(`${options.listen.host}:${options.listen.port}`, DEFAULT_SETTINGS.listen);
  t.equal(options.limits?.ratePerSecond, 7);
  t.equal(options.limits?.maxBodyBytes, DEFAULT_SETTINGS.limits.maxBodyBytes, 'the rest of limits is the default');
  t.equal(options.limits?.requestTimeoutMs, DEFAULT_SETTINGS.limits.requestTimeoutSeconds * 1000);
  t.equal(options.responseTimeoutMs, DEFAULT_SETTINGS.responseTimeoutSeconds * 1000);
  t.equal(options.homeTitle, DEFAULT_SETTINGS.title);
  t.equal(redisWaitMs, DEFAULT_SETTINGS.redisWaitSeconds * 1000);
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

t.test('the default Redis address is written once in src/ (#14: it was written out 8 times)', async (t) => {
  const holders = sources(path.join(ROOT, 'src'))
    .filter((f) => readFileSync(f, 'utf8').includes(DEFAULT_SETTINGS.redis))
    .map((f) => path.relative(ROOT, f));
  t.same(holders, ['src/defaults.ts']);
});
