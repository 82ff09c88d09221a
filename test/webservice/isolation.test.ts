// Tool accounts and isolation with real unix users, real Redis ACLs, the real proxy: no tool
// can touch another's routes, files, password or processes; the proxy only reads.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Redis } from 'ioredis';
import { killProcessesOf, runBin, startProxy, startRedis, waitFor, workDir } from '../helpers/index.js';

const asRoot = process.getuid?.() === 0;

function uniq(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${Math.floor(Math.random() * 1e5).toString(36)}`.slice(0, 20);
}

async function client(t: Parameters<Parameters<typeof t.test>[1]>[0], url: string): Promise<Redis> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  await r.connect();
  t.teardown(() => r.disconnect());
  return r;
}

t.test('tool accounts: unix user, private home, Redis user limited to its own routes, proxy reads only', { skip: asRoot ? false : 'needs root for unix users' }, async (t) => {
  killProcessesOf(t);
  const base = workDir(t);
  chmodSync(base, 0o755);
  const homeRoot = path.join(base, 'project');
  const redis = await startRedis(t);
  const env = { TOOLHOST_REDIS_URL: redis.url, TOOLHOST_RUNTIME_DIR: path.join(base, 'run') };
  const a = uniq('tha');
  const b = uniq('thb');
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', homeRoot, ...args], { env });
  t.teardown(async () => {
    await admin('delete', a, '--remove-home');
    await admin('delete', b, '--remove-home');
  });
  for (const name of [a, b]) t.equal((await admin('create', name)).code, 0);
  const shown = JSON.parse((await admin('show', a, '--json')).stdout);
  t.match(shown, { name: a, home: path.join(homeRoot, a), redisUser: `tool-${a}`, credentialsFile: path.join(homeRoot, a, '.toolhost', 'redis-credentials') });
  t.equal(shown.uid, Number(execFileSync('id', ['-u', `tools.${a}`], { encoding: 'utf8' }).trim()));
  t.same((await admin('list')).stdout.split('\n').filter(Boolean).sort(), [a, b].sort());
  t.equal(statSync(shown.home).mode & 0o777, 0o770, 'home: the tool and its maintainers only');
  t.equal(statSync(shown.credentialsFile).mode & 0o777, 0o600, 'credentials: the tool only');
  const credsA = readFileSync(shown.credentialsFile, 'utf8').trim();
  t.match(credsA, new RegExp(`^redis://tool-${a}:[0-9a-f]{48}@127\\.0\\.0\\.1:${redis.port}$`));

  // Redis: a tool writes its own routes and nothing else
  const ra = await client(t, credsA);
  t.equal(await ra.hset(`prefix:${a}`, 'backend:x', 'http://127.0.0.1:1'), 1);
  await t.rejects(ra.hset(`prefix:${b}`, 'backend:x', 'http://127.0.0.1:1'), /NOPERM/);
  await t.rejects(ra.publish(`prefix:${b}`, 'x'), /NOPERM/);
  await t.rejects(ra.keys('*'), /NOPERM/);
  await t.rejects(ra.call('ACL', 'LIST'), /NOPERM/);
  await t.rejects(ra.hset(`prefix:${a}x`, 'f', 'v'), /NOPERM/, 'not even a key that starts with its name');

  // the proxy's user reads the table and writes nothing
  const proxyUrl = (await admin('proxy-user')).stdout.trim();
  const rp = await client(t, proxyUrl);
  await t.rejects(rp.hset(`prefix:${a}`, 'backend:evil', 'http://127.0.0.1:2'), /NOPERM/);
  await t.rejects(rp.del(`prefix:${a}`), /NOPERM/);

  // processes: one tool cannot read the other's home or password, or signal its server
  const asA = (cmd: string) => spawnSync('su', ['-s', '/bin/sh', `tools.${a}`, '-c', cmd], { encoding: 'utf8' });
  t.match(asA(`ls ${path.join(homeRoot, b)}`).stderr, /Permission denied/);
  t.match(asA(`cat ${path.join(homeRoot, b, '.toolhost', 'redis-credentials')}`).stderr, /Permission denied/);
  writeFileSync(path.join(homeRoot, b, 'public_html', 'index.html'), `${b} page`);
  execFileSync('chown', [`tools.${b}:tools.${b}`, path.join(homeRoot, b, 'public_html', 'index.html')]);
  const start = await runBin(t, 'webservice', ['--tool', b, 'start'], { env });
  t.equal(start.code, 0, start.stderr);
  const state = JSON.parse(readFileSync(path.join(base, 'run', b, 'state.json'), 'utf8')) as { serverPid: number };
  t.match(asA(`kill -0 ${state.serverPid}`).stderr, /Operation not permitted/);

  // the webservice registered with b's own credentials, and a read-only proxy routes it
  const proxy = await startProxy(t, proxyUrl);
  await waitFor(() => proxy.proxy.routeTable.get(b)?.backends.length === 1, 5000, 'the route');
  t.equal(await (await fetch(`${proxy.url}/${b}/`)).text(), `${b} page`);

  // portgrabber run by tool a for tool b is refused, with one line
  writeFileSync(path.join(homeRoot, a, 's.cjs'), "require('http').createServer((q,s)=>s.end('x')).listen(Number(process.argv.at(-1)),'127.0.0.1')");
  const pg = spawnSync('su', ['-s', '/bin/sh', `tools.${a}`, '-c', `env -u NODE_OPTIONS ${path.join(path.resolve('bin'), 'portgrabber')} --redis ${credsA} ${b} node ${path.join(homeRoot, a, 's.cjs')}`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 20_000 });
  t.equal(pg.status, 1, pg.stderr);
  t.match(pg.stderr, new RegExp(`Redis refused to let tool-${a} write the routes of "${b}" \\(NOPERM\\).*\\[TH_ERR_ROUTE_NOPERM\\]`));

  t.equal((await runBin(t, 'webservice', ['--tool', b, 'stop'], { env })).code, 0);
  t.equal((await admin('delete', b, '--remove-home')).code, 0);
  const rAdmin = await client(t, redis.url);
  t.notOk(((await rAdmin.call('ACL', 'USERS')) as string[]).includes(`tool-${b}`), 'the Redis user is gone');
  t.equal(await rAdmin.exists(`prefix:${b}`), 0, 'and its routes');
  t.equal(spawnSync('id', [`tools.${b}`]).status, 1, 'and the unix user');
});

t.test('maintainers join a tool through its group', { skip: asRoot ? false : 'needs root for unix users' }, async (t) => {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const redis = await startRedis(t);
  const env = { TOOLHOST_REDIS_URL: redis.url };
  const name = uniq('thm');
  const person = uniq('maint');
  execFileSync('useradd', ['--no-create-home', person]);
  t.teardown(() => void spawnSync('userdel', [person]));
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', path.join(base, 'p'), ...args], { env });
  t.teardown(() => admin('delete', name, '--remove-home'));
  t.equal((await admin('create', name)).code, 0);
  const add = await admin('add-maintainer', name, person);
  t.equal(add.code, 0, add.stderr);
  t.same(JSON.parse((await admin('show', name, '--json')).stdout).maintainers, [person]);
  const unknown = await admin('add-maintainer', 'no-such-tool-here', person);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /there is no tool "no-such-tool-here" on this host.*\[TH_ERR_TOOL_UNKNOWN\]/);
});
