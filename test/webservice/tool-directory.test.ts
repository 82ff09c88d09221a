// The tool directory on a host as an operator sets one up (#14): `toolhost tool` records every
// tool and its maintainers, the read-only proxy lists them and tells "exists but not running"
// from "no such tool", and no tool, registrar or proxy can write the directory.
import { execFileSync, spawnSync } from 'node:child_process';
import t from 'tap';
import { directoryKey } from '../../src/routes/index.js';
import { waitFor } from '../helpers/index.js';
import { client, platform, uniq } from '../helpers/platform.js';

const asRoot = process.getuid?.() === 0;
const skip = asRoot ? false : 'needs root for unix users';

interface Listed {
  name: string;
  description: string | null;
  maintainers: string[];
  up: boolean;
}

t.test('every tool is on the home page with its maintainers from its creation, up once its webservice runs, 503 while not, 404 once deleted', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b, admin } = p;
  const listed = async (): Promise<Listed[]> => ((await (await fetch(`${p.proxy.url}/?format=json`)).json()) as { tools: Listed[] }).tools;
  const one = async (name: string): Promise<Listed | undefined> => (await listed()).find((x) => x.name === name);
  await waitFor(async () => (await one(a)) !== undefined && (await one(b)) !== undefined, 5000, 'both tools listed');
  t.same(await one(a), { name: a, description: null, maintainers: [], url: `/${a}/`, up: false, backends: 0 }, 'listed from its creation, before any webservice ran');
  t.equal((await fetch(`${p.proxy.url}/${a}/`)).status, 503, 'a tool that exists answers 503, not 404');

  const maint = uniq('thdm');
  execFileSync('useradd', ['--no-create-home', maint]);
  t.teardown(() => void spawnSync('userdel', [maint]));
  t.equal((await admin('add-maintainer', a, maint)).code, 0);
  t.equal((await admin('describe', a, 'Maps of <everything>')).code, 0);
  await waitFor(async () => (await one(a))?.maintainers[0] === maint && (await one(a))?.description === 'Maps of <everything>', 5000, 'maintainer and description');
  t.match(await (await fetch(`${p.proxy.url}/${a}/`)).text(), new RegExp(`It is maintained by <b>${maint}</b>\\.`));

  p.page(a, 'hello');
  t.equal((await p.ws(a, 'start')).code, 0);
  await waitFor(async () => (await one(a))?.up === true, 5000, 'up');
  t.same(await p.served(a), { status: 200, body: 'hello' });
  t.equal((await one(a))?.description, 'Maps of <everything>', 'without a ~/.description, the administrator\'s');
  t.equal((await p.ws(a, 'stop')).code, 0);
  await waitFor(async () => (await fetch(`${p.proxy.url}/${a}/`)).status === 503, 5000, 'down again');

  t.equal((await admin('delete', b, '--remove-home')).code, 0);
  await waitFor(async () => (await one(b)) === undefined, 5000, 'b gone from the page');
  t.equal((await fetch(`${p.proxy.url}/${b}/`)).status, 404);

  // an entry nobody's tool stands behind (written by hand) goes at the next sync
  const rAdmin = await client(t, p.redis.adminUrl);
  await rAdmin.hset(directoryKey('ghost-tool'), 'maintainers', maint);
  const synced = await admin('sync');
  t.equal(synced.code, 0, synced.stderr);
  t.match(synced.stdout, new RegExp(`^${a}: maintained by ${maint}$`, 'm'));
  t.equal(await rAdmin.exists(directoryKey('ghost-tool')), 0);
});

t.test('no tool, registrar or proxy can write the tool directory: only the administrator (#14)', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b, admin } = p;
  const rAdmin = await client(t, p.redis.adminUrl);
  const { readFileSync } = await import('node:fs');
  const { default: path } = await import('node:path');
  const ra = await client(t, readFileSync(path.join(p.homeOf(a), '.toolhost', 'redis-credentials'), 'utf8').trim());
  // the registrar's and the proxy's rules, on users of the test's own
  const copy = async (user: string, as: string): Promise<void> => {
    const line = ((await rAdmin.call('ACL', 'LIST')) as string[]).find((l) => l.startsWith(`user ${user} `)) as string;
    const rules = line.split(' ').slice(2).filter((r) => !r.startsWith('#') && !r.startsWith('>'));
    await rAdmin.call('ACL', 'SETUSER', as, 'reset', ...rules, '>pw');
  };
  t.equal((await admin('registrar-user')).code, 0);
  await copy('toolhost-registrar', 'reg-copy');
  await copy('toolhost-proxy', 'proxy-copy');
  const rr = await client(t, `redis://reg-copy:pw@127.0.0.1:${p.redis.port}`);
  const rp = await client(t, `redis://proxy-copy:pw@127.0.0.1:${p.redis.port}`);
  for (const [who, r] of [['tool', ra], ['registrar', rr], ['proxy', rp]] as const) {
    await t.rejects(r.hset(directoryKey(a), 'maintainers', 'mallory'), /NOPERM/, `${who}: not its own entry`);
    await t.rejects(r.hset(directoryKey(b), 'maintainers', 'mallory'), /NOPERM/, `${who}: not another's`);
    await t.rejects(r.hset(directoryKey('newtool'), 'maintainers', 'mallory'), /NOPERM/, `${who}: no new entry`);
    await t.rejects(r.del(directoryKey(b)), /NOPERM/, `${who}: no removal`);
    await t.rejects(r.publish(directoryKey(b), 'x'), /NOPERM/, `${who}: no announcement`);
    await t.rejects(r.call('EVAL', "return redis.call('HSET', KEYS[1], 'maintainers', 'mallory')", 1, directoryKey(a)), /NOPERM/, `${who}: no script`);
  }
  t.same(await rp.hgetall(directoryKey(a)), { maintainers: '' }, 'the proxy reads it');
  await t.rejects(ra.hgetall(directoryKey(b)), /NOPERM/, 'a tool reads only its own route');
  t.same(await rAdmin.hgetall(directoryKey(a)), { maintainers: '' }, 'unchanged');
});
