// Tool accounts and isolation as a hostile tool would try them (#9), with real unix users made by
// `toolhost tool create`, Redis started from the operator guide's own files, the real registrar,
// monitor, proxy and executables, all as root: no tool can make root touch what is not its own,
// borrow another tool's identity, read root's environment, or route visitors to what is not its
// own; an anonymous Redis client can do nothing.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { isAlive, runBin, startRedis, startRedisFromGuide, waitFor, workDir } from '../helpers/index.js';
import { asTool, client, environOf, platform, uidOf, uniq } from '../helpers/platform.js';

const asRoot = process.getuid?.() === 0;
const skip = asRoot ? false : 'needs root for unix users';

t.test('tool accounts: unix user, private home, a Redis user that reads its own route and writes none, a proxy user that reads only', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b, admin } = p;
  const shown = JSON.parse((await admin('show', a, '--json')).stdout);
  t.match(shown, { name: a, home: p.homeOf(a), redisUser: `tool-${a}`, credentialsFile: path.join(p.homeOf(a), '.toolhost', 'redis-credentials') });
  t.equal(shown.uid, p.uid(a));
  t.same((await admin('list')).stdout.split('\n').filter(Boolean).sort(), [a, b].sort());
  t.equal(statSync(shown.home).mode & 0o7777, 0o2770, 'home: the tool and its maintainers only');
  t.equal(statSync(shown.home).uid, p.uid(a));
  t.equal(statSync(shown.credentialsFile).mode & 0o777, 0o600, 'credentials: the tool only');
  t.equal(statSync(shown.credentialsFile).uid, p.uid(a), 'written by the tool itself');
  const credsA = readFileSync(shown.credentialsFile, 'utf8').trim();
  t.match(credsA, new RegExp(`^redis://tool-${a}:[0-9a-f]{48}@127\\.0\\.0\\.1:${p.redis.port}$`));

  // a tool's Redis user reads its own route and nothing else: no keyspace on the route table's
  // Redis, where a tool could fill the memory every proxy and registrar depends on
  const ra = await client(t, credsA);
  t.same(await ra.hgetall(`prefix:${a}`), {}, 'it reads its own route');
  await t.rejects(ra.hgetall(`prefix:${b}`), /NOPERM/);
  await t.rejects(ra.set(`tool:${a}:counter`, '1'), /NOPERM/);
  await t.rejects(ra.setrange(`tool:${a}:big`, 499_999_999, 'x'), /NOPERM/);
  await t.rejects(ra.hset(`prefix:${a}`, 'backend:x', 'http://127.0.0.1:1'), /NOPERM/, 'not even its own route: only registrars write routes');
  await t.rejects(ra.hset(`prefix:${b}`, 'backend:x', 'http://127.0.0.1:1'), /NOPERM/);
  await t.rejects(ra.publish(`prefix:${b}`, 'x'), /NOPERM/);
  await t.rejects(ra.scan('0'), /NOPERM/, 'no listing of other keys');
  await t.rejects(ra.keys('*'), /NOPERM/);
  await t.rejects(ra.call('ACL', 'LIST'), /NOPERM/);
  await t.rejects(ra.call('FLUSHALL'), /NOPERM/);

  const rp = await client(t, (await admin('proxy-user')).stdout.trim());
  await t.rejects(rp.hset(`prefix:${a}`, 'backend:evil', 'http://127.0.0.1:2'), /NOPERM/);
  await t.rejects(rp.del(`prefix:${a}`), /NOPERM/);
  await t.rejects(rp.call('EVAL', "return redis.call('DEL', KEYS[1])", 1, `prefix:${a}`), /NOPERM/, 'no writing through a script either');

  // one tool cannot read the other's home or password, or signal its server
  t.match(asTool(a, `ls ${p.homeOf(b)}`).stderr, /Permission denied/);
  t.match(asTool(a, `cat ${path.join(p.homeOf(b), '.toolhost', 'redis-credentials')}`).stderr, /Permission denied/);
  p.page(b, `${b} page`);
  const start = await p.ws(b, 'start');
  t.equal(start.code, 0, start.stderr);
  t.equal(uidOf(p.state(b).serverPid), p.uid(b), 'the server runs as the tool');
  t.match(asTool(a, `kill -0 ${p.state(b).serverPid}`).stderr, /Operation not permitted/);
  await waitFor(() => p.proxy.proxy.routeTable.get(b)?.backends.length === 1, 5000, 'the route');
  t.same(await p.served(b), { status: 200, body: `${b} page` });

  t.equal((await p.ws(b, 'stop')).code, 0);
  t.equal((await admin('delete', b, '--remove-home')).code, 0);
  const rAdmin = await client(t, p.redis.adminUrl);
  t.notOk(((await rAdmin.call('ACL', 'USERS')) as string[]).includes(`tool-${b}`), 'the Redis user is gone');
  t.equal(await rAdmin.exists(`prefix:${b}`), 0, 'and its routes');
  t.equal(spawnSync('id', [`tools.${b}`]).status, 1, 'and the unix user');
});

t.test('a link a tool plants at ~/error.log, ~/service.log or the manifest never makes root chown, open or write its target (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  p.page(a, 'a page');
  t.equal((await p.ws(a, 'start')).code, 0);
  const home = p.homeOf(a);
  // the tool swaps its logs for links to a root-only file, then kills its own supervisor
  t.equal(asTool(a, `cd ${home} && rm -f error.log access.log && ln -s ${p.decoy} error.log && ln -s ${p.decoy} access.log && kill -9 ${p.state(a).supervisorPid}`).status, 0);
  const mon = await p.monitor();
  t.match(mon.stdout, new RegExp(`^${a}\\trestarted$`, 'm'), mon.stderr);
  // and a root-run restart, with links at every name a temporary manifest could have
  const pid = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }));
  asTool(a, `cd ${home} && for i in $(seq ${pid} ${pid + 300}); do ln -sf ${p.decoy} service.manifest.$i.tmp; done; ln -sf ${p.decoy} service.log`);
  await p.ws(a, 'restart');
  await p.monitor();
  t.ok(p.decoyIntact(), 'the root-owned file is still root\'s, 0600 and unchanged');
  // and the manifest itself a link: the monitor ignores it rather than read through it
  asTool(a, `cd ${home} && kill -9 $(cat ${path.join(p.runtime, a, 'supervisor.pid')}) ; rm -f service.manifest && ln -s ${p.decoy} service.manifest`);
  await waitFor(() => {
    try {
      process.kill(p.state(a).supervisorPid, 0);
      return false;
    } catch {
      return true;
    }
  }, 5000, 'the supervisor to die');
  const ignored = await p.monitor();
  t.match(ignored.stdout, new RegExp(`^${a}\\tignored$`, 'm'));
  t.match(ignored.stderr, /service\.manifest: it is a symbolic link/);
  t.ok(p.decoyIntact());
});

t.test('toolhost tool create run again, and delete, never write or remove through a tool\'s links (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a, admin } = p;
  const { mkdirSync, readdirSync } = await import('node:fs');
  // a root-only directory the tool points its ~/.toolhost and another link at
  const vault = path.join(p.base, 'vault');
  mkdirSync(vault, { mode: 0o700 });
  writeFileSync(path.join(vault, 'redis-credentials'), 'root:secret\n', { mode: 0o600 });
  t.equal(asTool(a, `cd ~ && rm -rf .toolhost && ln -s ${vault} .toolhost && ln -s ${vault} keep && ln -s ${p.decoy} public_html/leak`).status, 0);
  const again = await admin('create', a);
  t.equal(again.code, 1, 'the tool\'s own shell could not write through the link');
  t.match(again.stderr, /failed while preparing .* as tools\..*\[TH_ERR_COMMAND_FAILED\]/);
  t.equal(readFileSync(path.join(vault, 'redis-credentials'), 'utf8'), 'root:secret\n', 'root\'s file is untouched');
  t.equal(statSync(vault).uid, 0);
  t.ok(p.decoyIntact());
  t.equal((await admin('delete', a, '--remove-home')).code, 0);
  t.same(readdirSync(vault), ['redis-credentials'], 'removing the home removed the links, not what they point at');
  t.ok(p.decoyIntact());
});

t.test('toolhost tool delete removes a tool whose process is started again after the kill (the monitor restarting a supervisor it saw die)', { skip }, async (t) => {
  const p = await platform(t);
  const { a, admin } = p;
  const uid = p.uid(a);
  // a stand-in for the monitor: the tool's process, started again once, as the tool, when it dies
  const started: number[] = [];
  const start = (): ChildProcess => {
    const child = spawn('sleep', ['600'], { uid, gid: uid, stdio: 'ignore' });
    started.push(child.pid as number);
    return child;
  };
  const first = start();
  let second: ChildProcess | null = null;
  first.once('exit', () => (second = start()));
  t.teardown(() => void second?.kill('SIGKILL'));
  const deleted = await admin('delete', a, '--remove-home');
  t.equal(deleted.code, 0, deleted.stderr);
  t.equal(started.length, 2, 'the process was started again after the first kill');
  t.equal(spawnSync('id', [`tools.${a}`]).status, 1, 'the unix user is gone');
  t.notOk(started.some(isAlive), 'nothing runs as the deleted tool');
});

t.test('a tool cannot borrow another tool\'s identity: no credentials reach a supervisor, and a tool can register only its own ports (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b } = p;
  p.page(a, `${a} page`);
  p.page(b, `${b} page`);
  t.equal((await p.ws(a, 'start')).code, 0);
  t.equal((await p.ws(b, 'start')).code, 0);
  await waitFor(() => p.proxy.proxy.routeTable.get(b)?.backends.length === 1 && p.proxy.proxy.routeTable.get(a)?.backends.length === 1, 5000, 'both routes');
  // a links b's credentials (it cannot read them) over its own, kills its supervisor, waits for the monitor
  const credsB = path.join(p.homeOf(b), '.toolhost', 'redis-credentials');
  /** kill a's supervisor as a would, let the monitor start the next, return its pid */
  const replaceSupervisor = async (shell: string): Promise<number> => {
    const old = p.state(a).supervisorPid;
    asTool(a, `${shell}; kill -9 ${old}`);
    t.match((await p.monitor()).stdout, new RegExp(`^${a}\\trestarted$`, 'm'));
    await waitFor(() => p.state(a).supervisorPid !== old && p.state(a).state === 'running', 10_000, 'a\'s new supervisor');
    return p.state(a).supervisorPid;
  };
  const next = await replaceSupervisor(`ln -sf ${credsB} ~/.toolhost/redis-credentials`);
  t.equal(uidOf(next), p.uid(a));
  t.notOk(environOf(next).some((v) => /redis:\/\//.test(v)), 'no Redis URL of anyone in the supervisor\'s environment');
  // a deletes its credentials: still nothing falls back to the administrator's URL
  const third = await replaceSupervisor('rm -f ~/.toolhost/redis-credentials');
  t.notOk(environOf(third).some((v) => /redis:\/\/|REDIS/.test(v)), 'not the administrator\'s either');

  // a tries portgrabber for b: refused, and b's registrar socket is closed to a by the kernel anyway
  const bin = path.resolve('bin');
  const pgB = asTool(a, `env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} ${bin}/portgrabber ${b} true`);
  t.equal(pgB.status, 1, pgB.stderr);
  t.match(pgB.stderr, new RegExp(`you are tools\\.${a}, not tool "${b}".*\\[TH_ERR_TOOL_NOT_YOURS\\]`));
  const client = path.resolve('.build', 'registrar', 'index.js');
  const raw = asTool(a, `env -u NODE_OPTIONS node --input-type=module -e "const { RegistrarClient } = await import('${client}'); try { await new RegistrarClient({ dir: '${p.registrar.dir}', tool: '${b}' }).connect(1000); console.log('CONNECTED') } catch (e) { console.log(e.code) }"`);
  t.equal(raw.stdout.trim(), 'TH_ERR_REGISTRAR_DENIED', `the socket itself refuses another tool ${raw.stderr}`);
  // a asks its own registrar socket for b's server port: the kernel says the port is b's
  const portB = p.state(b).port;
  const steal = asTool(
    a,
    `env -u NODE_OPTIONS node -e "const s=require('net').connect('${p.registrar.dir}/${a}.sock');let d='';s.on('data',c=>{d+=c;if(d.split('\\n').length>2){console.log(d);process.exit(0)}});s.write(JSON.stringify({n:1,op:'register',port:${portB}})+'\\n')"`,
  );
  t.match(steal.stdout, /"ok":false,"code":"TH_ERR_REGISTRAR_NOT_OWNER"/, steal.stderr);
  t.match(steal.stdout, new RegExp(`the kernel says: uid ${p.uid(b)}, not ${a}`));
  // nothing of b changed: its route, its page
  await new Promise((r) => setTimeout(r, 300));
  t.same(await p.served(b), { status: 200, body: `${b} page` });
  t.same(p.proxy.proxy.routeTable.get(b)?.backends.map((x) => x.port), [portB]);
  t.equal(p.proxy.proxy.routeTable.get(a)?.backends.some((x) => x.port === portB), false);
});

t.test('a tool\'s copy of a root-typed command has no terminal: it cannot type into root\'s shell (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  // the tool's ~/.lighttpd.conf runs a command while root's `webservice config` reads it
  const conf = path.join(p.homeOf(a), '.lighttpd.conf');
  writeFileSync(conf, 'include_shell "cat /proc/$PPID/stat /proc/self/stat > $HOME/seen.txt; echo"\n');
  execFileSync('chown', [`tools.${a}:tools.${a}`, conf]);
  // root types it on a terminal (a pseudo-terminal made by script(1))
  const bin = path.resolve('bin');
  const r = spawnSync('script', ['-qec', `env -u NODE_OPTIONS TOOLHOST_RUNTIME_DIR=${p.runtime} ${bin}/webservice --tool ${a} config`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stdout + r.stderr);
  const seen = readFileSync(path.join(p.homeOf(a), 'seen.txt'), 'utf8').trim().split('\n');
  t.ok(seen.length >= 2, 'the tool\'s command ran');
  for (const line of seen) {
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
    // stat field 7 (tty_nr) is the controlling terminal: none
    t.equal(fields[4], '0', `no controlling terminal: ${line.slice(0, 60)}`);
  }
});

t.test('root\'s environment never reaches a tool\'s supervisor or server (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  p.page(a, 'a page');
  const start = await runBin(t, 'webservice', ['--tool', a, 'start'], { env: { ...p.env, ...p.toolEnv, ROOT_SECRET_TOKEN: 'do-not-leak', AWS_SECRET_ACCESS_KEY: 'nope' } });
  t.equal(start.code, 0, start.stderr);
  for (const pid of [p.state(a).supervisorPid, p.state(a).serverPid]) {
    const env = environOf(pid);
    t.notOk(env.some((v) => v.includes('do-not-leak') || v.includes('AWS_') || v.startsWith('TOOLHOST_REDIS_URL=')), `pid ${pid} has none of root's variables`);
    t.ok(env.includes(`HOME=${p.homeOf(a)}`) && env.includes(`USER=tools.${a}`) && env.includes(`TOOLHOST_TOOL=${a}`), `pid ${pid} has the tool's own`);
    t.equal(uidOf(pid), p.uid(a));
  }
});

t.test('Redis started from the guide\'s files lets nobody in without a password; tool create refuses an open Redis (#9)', { skip }, async (t) => {
  const guide = await startRedisFromGuide(t, 'guide-redis');
  const anon = await client(t, guide.url);
  await t.rejects(anon.ping(), /NOAUTH/);
  await t.rejects(anon.hset('prefix:x', '.*', 'http://127.0.0.1:1'), /NOAUTH/);
  await t.rejects(anon.call('ACL', 'LIST'), /NOAUTH/);
  await t.rejects(anon.call('AUTH', 'default', ''), /WRONGPASS|disabled/);
  const adminClient = await client(t, guide.adminUrl);
  t.equal(await adminClient.ping(), 'PONG', 'the administrator added as the guide says gets in');
  // an out-of-the-box Redis: default user on, no password, every command
  const open = await startRedis(t);
  const base = workDir(t);
  const refused = await runBin(t, 'toolhost', ['tool', '--home-root', path.join(base, 'p'), 'create', uniq('tho')], { env: { TOOLHOST_REDIS_URL: open.url } });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /^toolhost: Redis at redis:\/\/127\.0\.0\.1:\d+ lets anyone in as administrator .*user default off.* \[TH_ERR_REDIS_OPEN\]\n$/);
  for (const cmd of ['proxy-user', 'registrar-user']) {
    const r = await runBin(t, 'toolhost', ['tool', cmd], { env: { TOOLHOST_REDIS_URL: open.url } });
    t.equal(r.code, 2, cmd);
  }
});

t.test('a tool\'s description is cut to one short line before it reaches Redis (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  p.page(a, 'a page');
  const desc = path.join(p.homeOf(a), '.description');
  writeFileSync(desc, `${'x'.repeat(100_000)}\nsecond line\n`);
  execFileSync('chown', [`tools.${a}:tools.${a}`, desc]);
  t.equal((await p.ws(a, 'start')).code, 0);
  const rAdmin = await client(t, p.redis.adminUrl);
  const stored = await rAdmin.hget(`prefix:${a}`, 'description');
  t.equal(stored, 'x'.repeat(300));
});

t.test('a home left behind by a deleted tool is nobody\'s: not served by the registrar, the monitor or root\'s webservice (#9)', { skip }, async (t) => {
  const p = await platform(t);
  const { mkdirSync, chownSync, existsSync } = await import('node:fs');
  // a home without an account, owned by a uid the system may give to the next tool created
  const left = path.join(p.homeRoot, 'leftover');
  mkdirSync(path.join(left, 'public_html'), { recursive: true });
  writeFileSync(path.join(left, 'service.manifest'), 'web: lighttpd\n');
  chownSync(left, 65534, 65534);
  chownSync(path.join(left, 'service.manifest'), 65534, 65534);
  await new Promise((r) => setTimeout(r, 500));
  t.notOk(existsSync(path.join(p.registrar.dir, 'leftover.sock')), 'no registrar socket for it');
  t.match((await p.monitor()).stdout, /^leftover\tno-manifest$/m, 'the monitor starts nothing for it');
  const ws = await runBin(t, 'webservice', ['--tool', 'leftover', '--home', left, 'start'], { env: { ...p.env, ...p.toolEnv } });
  t.equal(ws.code, 1);
  t.match(ws.stderr, /there is no tool "leftover" on this host.*\[TH_ERR_TOOL_UNKNOWN\]/);
});

t.test('maintainers join a tool through its group', { skip }, async (t) => {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const redis = await startRedisFromGuide(t);
  const env = { TOOLHOST_REDIS_URL: redis.adminUrl, TOOLHOST_RUNTIME_DIR: path.join(base, 'run') };
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
