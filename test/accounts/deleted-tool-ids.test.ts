// What a deleted tool leaves behind must not reach the next tool created. `tool
// delete` frees the account's uid and its group's gid (userdel, groupdel), and useradd --system
// gives the lowest free ones to the next tool: the new tool then owns the old tool's leftover
// home, and a process a maintainer of the old tool still runs (its groups were fixed at login)
// is in the new tool's group, which may write the new tool's home (2770).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { runBin, startRedisFromGuide, workDir } from '../helpers/index.js';
import { uniq } from '../helpers/platform.js';

const asRoot = process.getuid?.() === 0;

function ids(user: string): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' })) };
}

async function host(t: Test) {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const redis = await startRedisFromGuide(t);
  const homeRoot = path.join(base, 'p');
  const env = { TOOLHOST_REDIS_URL: redis.adminUrl, TOOLHOST_RUNTIME_DIR: path.join(base, 'run'), TOOLHOST_STATE_DIR: path.join(base, 'state') };
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', homeRoot, ...args], { env });
  const made: string[] = [];
  const create = async (prefix: string): Promise<string> => {
    const name = uniq(prefix);
    made.push(name);
    const r = await admin('create', name);
    if (r.code !== 0) throw new Error(r.stderr);
    return name;
  };
  t.teardown(async () => {
    for (const name of made) {
      await admin('delete', name, '--remove-home');
      spawnSync('userdel', [`tools.${name}`]);
      spawnSync('groupdel', [`tools.${name}`]);
      rmSync(path.join('/etc/sudoers.d', `toolhost-${name}`), { force: true });
      rmSync(path.join(homeRoot, name), { recursive: true, force: true });
    }
  });
  return { base, homeRoot, admin, create };
}

t.test('a tool created after another was deleted gets nothing of the deleted tool: not its home, not its maintainers\' group access', { skip: asRoot ? false : 'needs root for unix users' }, async (t) => {
  const { homeRoot, admin, create } = await host(t);
  const old = await create('thrvo');
  const oldIds = ids(`tools.${old}`);
  const maint = uniq('thrvm');
  execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', maint]);
  t.equal((await admin('add-maintainer', old, maint)).code, 0);

  // the old tool keeps a private file in its home
  const secret = path.join(homeRoot, old, 'private');
  execFileSync('su', ['-s', '/bin/sh', `tools.${old}`, '-c', `umask 077; echo old-tool-secret > ${secret}`]);

  // the maintainer logs in while they maintain the old tool: a session with its group, that
  // keeps trying to write in every home under the home root
  const marker = 'planted-by-old-maintainer';
  // (and puts its own ~/.profile in their place: the group may rename in a 2770 home)
  const plant = `[ -e "\${d}${marker}" ] || { echo x > "\${d}${marker}" && echo 'id -un > "$HOME/ran-as"' > "\${d}.profile.new" && mv -f "\${d}.profile.new" "\${d}.profile"; } 2>/dev/null`;
  const loop = `while :; do for d in ${homeRoot}/*/; do ${plant}; done; sleep 0.1; done`;
  const session = spawn('su', ['-s', '/bin/sh', maint, '-c', loop], { detached: true, stdio: 'ignore' });
  t.teardown(async () => {
    // su keeps the shell in a process group of its own: every process of the maintainer goes, then the user
    session.kill('SIGKILL');
    for (let i = 0; i < 50 && spawnSync('pgrep', ['-u', maint]).status === 0; i++) {
      spawnSync('pkill', ['-KILL', '-u', maint]);
      await new Promise((r) => setTimeout(r, 50));
    }
    spawnSync('userdel', [maint]);
  });

  // deleted the way an administrator does by default: the home is kept (no --remove-home)
  const deleted = await admin('delete', old);
  t.equal(deleted.code, 0, deleted.stderr);
  rmSync(path.join(homeRoot, old, marker), { force: true });

  const next = await create('thrvn');
  const nextIds = ids(`tools.${next}`);
  t.comment(`deleted tool: uid ${oldIds.uid} gid ${oldIds.gid}; next tool: uid ${nextIds.uid} gid ${nextIds.gid}`);

  // the new tool reads what the deleted tool kept private
  const read = spawnSync('su', ['-s', '/bin/sh', `tools.${next}`, '-c', `cat ${secret}`], { encoding: 'utf8' });
  t.not(read.stdout, 'old-tool-secret\n', 'the next tool cannot read the deleted tool\'s private file');
  t.not(statSync(path.join(homeRoot, old)).uid, nextIds.uid, 'the deleted tool\'s home does not belong to the next tool');

  // the old tool's maintainer, in a session from before, writes in the new tool's home
  const planted = path.join(homeRoot, next, marker);
  for (let i = 0; i < 30 && !existsSync(planted); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(existsSync(planted), 'a maintainer of the deleted tool cannot write in the next tool\'s home');
  // ... and the next maintainer who becomes the new tool runs the old maintainer's code as it
  // (become runs the tool's login shell, which reads ~/.profile)
  spawnSync('sudo', ['-n', '-i', '-u', `tools.${next}`, 'true'], { stdio: 'ignore', cwd: '/' });
  const ran = path.join(homeRoot, next, 'ran-as');
  t.notOk(existsSync(ran), 'a login as the new tool runs nothing the deleted tool\'s maintainer wrote');
  if (existsSync(ran)) t.comment(`${ran}: ${readFileSync(ran, 'utf8').trim()} (owned by uid ${statSync(ran).uid})`);

  // the deleted tool's name made again: its home must be its own, not the tool that got the old uid
  const again = await admin('create', old);
  t.equal(again.code, 1, 'the name made again is refused while the deleted tool\'s home is there');
  t.match(again.stderr, /is the home a deleted tool left \(owned by uid \d+\); it is not handed to a new tool.*\[TH_ERR_TOOL_HOME_LEFT_BEHIND\]/);
  const home = statSync(path.join(homeRoot, old));
  const agained = spawnSync('id', ['-u', `tools.${old}`], { encoding: 'utf8' });
  t.comment(`its home is owned by uid ${home.uid}; tools.${old} is uid ${agained.stdout.trim() || '(none)'}`);
  t.not(home.uid, nextIds.uid, 'a tool made again under a deleted name does not get a home another tool owns');
});


t.test('a tool made again under a deleted tool\'s name starts from the default quota, not the deleted tool\'s', { skip: asRoot ? false : 'needs root for unix users' }, async (t) => {
  const { base, admin, create } = await host(t);
  const stateDir = path.join(base, 'state'); // the administrator's TOOLHOST_STATE_DIR (host's env)
  const name = await create('thrvq');
  const quota = (...args: string[]) => runBin(t, 'toolhost', ['tool', 'quota', name, '--state-dir', stateDir, '--json', ...args]);
  t.equal((await quota('--memory', '32Gi', '--cpu', '8')).code, 0, 'an administrator raised this tool\'s quota');
  t.equal((await admin('delete', name, '--remove-home')).code, 0);
  t.equal((await admin('create', name)).code, 0, 'someone else\'s tool, made later under the free name');
  const now = JSON.parse((await quota()).stdout) as { memory: number; cpu: number };
  t.comment(`the new ${name}'s quota: memory ${now.memory}, cpu ${now.cpu}`);
  t.equal(now.memory, 8 * 1024 ** 3, 'the default memory quota');
  t.equal(now.cpu, 2000, 'the default CPU quota');
});
