// `become TOOL` as maintainers and strangers use it (#14), as root with real unix users, the real
// sudo and the sudoers rules `toolhost tool create|add-maintainer|remove-maintainer|sync` write:
// a maintainer becomes the tool, anybody else is refused in one line and cannot reach the tool
// through sudo either, and a removed maintainer is refused at once.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { BIN, runBin, startRedisFromGuide, userEnv, workDir } from '../helpers/index.js';
import { uniq } from '../helpers/platform.js';

const asRoot = process.getuid?.() === 0;
const hasSudo = existsSync('/usr/bin/sudo');
const skip = !asRoot ? 'needs root for unix users' : !hasSudo ? 'sudo is not installed (bin/setup installs it as root)' : false;
const SUDOERS = '/etc/sudoers.d';

/** a command run by a unix user, from a shell of their own (no terminal) */
function as(user: string, cmd: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('su', ['-s', '/bin/sh', user, '-c', `cd / && ${cmd}`], { encoding: 'utf8', cwd: '/', env: userEnv(env), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const become = (args: string): string => `env -u NODE_OPTIONS ${BIN}/become ${args}`;

/** a person's unix account, removed at teardown */
function person(t: Test, prefix: string): string {
  const name = uniq(prefix);
  execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name]);
  t.teardown(() => void spawnSync('userdel', [name]));
  return name;
}

/** Redis from the guide and `toolhost tool` as the administrator runs it; a tool, removed at teardown with its rule and group */
async function host(t: Test) {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const redis = await startRedisFromGuide(t);
  const env = { TOOLHOST_REDIS_URL: redis.adminUrl, TOOLHOST_RUNTIME_DIR: path.join(base, 'run') };
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', path.join(base, 'p'), ...args], { env });
  const tool = uniq('thbe');
  t.teardown(async () => {
    await admin('delete', tool, '--remove-home');
    // even when delete itself failed
    rmSync(path.join(SUDOERS, `toolhost-${tool}`), { force: true });
    spawnSync('userdel', [`tools.${tool}`]);
    spawnSync('groupdel', [`tools.${tool}`]);
  });
  const made = await admin('create', tool);
  if (made.code !== 0) throw new Error(made.stderr);
  return { base, admin, tool, rule: path.join(SUDOERS, `toolhost-${tool}`), home: path.join(base, 'p', tool) };
}

t.test('a maintainer becomes the tool; anybody else is refused in one line, by become and by sudo itself; a removed maintainer at once', { skip }, async (t) => {
  const { admin, tool, rule, home } = await host(t);
  const maint = person(t, 'thmnt');
  const other = person(t, 'thoth');
  t.notOk(existsSync(rule), 'no maintainers yet: no rule');

  const added = await admin('add-maintainer', tool, maint);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, new RegExp(`^${tool}: maintained by ${maint}\n${maint} can become ${tool} now`));
  t.equal(statSync(rule).mode & 0o7777, 0o440, 'the rule is 0440');
  t.equal(statSync(rule).uid, 0);
  t.match(readFileSync(rule, 'utf8'), new RegExp(`^${maint} ALL = \\(tools\\.${tool}\\) NOPASSWD: ALL$`, 'm'));
  t.equal(spawnSync('visudo', ['-c']).status, 0, 'the whole sudo configuration still parses');

  const id = as(maint, become(`${tool} id -un`));
  t.same(id, { code: 0, stdout: `tools.${tool}\n`, stderr: '' }, 'the maintainer runs a command as the tool');
  t.equal(as(maint, become(`${tool} pwd`)).stdout, `${home}\n`, 'in the tool\'s home');
  const shell = spawnSync('su', ['-s', '/bin/sh', maint, '-c', `cd / && ${become(tool)}`], { input: 'id -un\necho "$HOME"\nexit 3\n', encoding: 'utf8', env: userEnv() });
  t.equal(shell.stdout, `tools.${tool}\n${home}\n`, 'a shell as the tool, reading commands');
  t.equal(shell.status, 3, 'its exit code is become\'s');
  t.equal(as(maint, become(`${tool} sh -c "exit 42"`)).code, 42);

  const refused = as(other, become(`${tool} id -un`));
  t.equal(refused.code, 1);
  t.equal(refused.stdout, '', 'nothing ran');
  t.equal(refused.stderr, `become: you (${other}) do not maintain tool "${tool}"; its maintainers (${maint}) or an administrator can add you: toolhost tool add-maintainer ${tool} ${other} [TH_ERR_BECOME_NOT_MAINTAINER]\n`);
  for (const cmd of [`sudo -n -u tools.${tool} id -un`, `sudo -n -i -u tools.${tool} id -un`, `sudo -n -u tools.${tool} -g tools.${tool} id -un`, `sudo -n -u root id -un`]) {
    const direct = as(other, cmd);
    t.not(direct.code, 0, `${cmd}: refused`);
    t.equal(direct.stdout, '', `${cmd}: nothing ran`);
  }
  t.not(as(maint, 'sudo -n -u root id -un').code, 0, 'the rule gives a maintainer the tool, not root');

  const removed = await admin('remove-maintainer', tool, maint);
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, new RegExp(`^${tool}: maintained by nobody\n${maint} can no longer become ${tool}`));
  t.notOk(existsSync(rule), 'no maintainers left: no rule');
  const after = as(maint, become(`${tool} id -un`));
  t.equal(after.code, 1);
  t.match(after.stderr, /^become: you \(\w+\) do not maintain tool "\w+"; its maintainers \(none yet\).*\[TH_ERR_BECOME_NOT_MAINTAINER\]\n$/);
  t.equal(after.stdout, '');

  const again = await admin('remove-maintainer', tool, maint);
  t.equal(again.code, 1);
  t.match(again.stderr, new RegExp(`${maint} does not maintain tool "${tool}" \\(its maintainers: none\\); nothing to remove \\[TH_ERR_TOOL_NOT_MAINTAINER\\]`));
});

t.test('a removed maintainer\'s open session keeps the group but not sudo: the rule names people, not the group', { skip }, async (t) => {
  const { admin, tool } = await host(t);
  const stays = person(t, 'thsty');
  const leaves = person(t, 'thlvs');
  t.equal((await admin('add-maintainer', tool, stays)).code, 0);
  t.equal((await admin('add-maintainer', tool, leaves)).code, 0);
  const gid = execFileSync('getent', ['group', `tools.${tool}`], { encoding: 'utf8' }).split(':')[2] as string;
  // a session started while they were a maintainer: the group is in its credentials
  const session = (user: string, cmd: string) =>
    spawnSync('setpriv', ['--reuid', user, '--regid', user, '--groups', gid, '--', 'sh', '-c', cmd], { encoding: 'utf8', cwd: '/', env: userEnv() });
  t.equal(session(leaves, `sudo -n -u tools.${tool} id -un`).stdout, `tools.${tool}\n`, 'before: sudo lets them');
  t.equal((await admin('remove-maintainer', tool, leaves)).code, 0);
  const held = session(leaves, `id -G; sudo -n -u tools.${tool} id -un`);
  t.match(held.stdout, new RegExp(`\\b${gid}\\b`), 'the old session still holds the group');
  t.notMatch(held.stdout, /tools\./, 'and sudo refuses it all the same');
  t.equal(as(stays, become(`${tool} id -un`)).stdout, `tools.${tool}\n`, 'the other maintainer keeps becoming the tool');
});

t.test('become says what is wrong in one line: no such tool, already the tool, no rule on this host, no sudo; sync writes the rule again', { skip }, async (t) => {
  const { admin, tool, rule } = await host(t);
  const maint = person(t, 'thmnt');
  t.equal((await admin('add-maintainer', tool, maint)).code, 0);

  const unknown = as(maint, become('no-such-tool-here id'));
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^become: there is no tool "no-such-tool-here" on this host.*\[TH_ERR_TOOL_UNKNOWN\]\n$/);
  const self = spawnSync('su', ['-s', '/bin/sh', `tools.${tool}`, '-c', `cd / && ${become(tool)}`], { encoding: 'utf8', env: userEnv() });
  t.equal(self.status, 2);
  t.match(self.stderr, new RegExp(`^become: you are already tools\\.${tool}; run the command directly \\[TH_ERR_BECOME_ALREADY\\]\n$`));
  const noSudo = as(maint, become(`${tool} id`), { TOOLHOST_SUDO: '/nonexistent/sudo' });
  t.match(noSudo.stderr, /^become: sudo is not installed on this host \(\/nonexistent\/sudo is missing\); install it: apt-get install sudo \[TH_ERR_SUDO_MISSING\]\n$/);

  // a rule that is not on this host (written before sudo was installed, or lost): one line, then sync
  rmSync(rule);
  const noRule = as(maint, become(`${tool} id -un`));
  t.equal(noRule.code, 1);
  t.equal(noRule.stdout, '');
  t.match(noRule.stderr, new RegExp(`^become: sudo does not let you \\(${maint}\\) act as tools\\.${tool} although you maintain it; ask an administrator to run: toolhost tool sync ${tool} \\[TH_ERR_BECOME_NO_RULE\\]\n$`));
  const synced = await admin('sync', tool);
  t.equal(synced.code, 0, synced.stderr);
  t.equal(synced.stdout, `${tool}: maintained by ${maint}\n`);
  t.equal(as(maint, become(`${tool} id -un`)).stdout, `tools.${tool}\n`);
});

t.test('hostile names never reach a sudoers rule: tool names and user names are refused before anything is written', { skip }, async (t) => {
  const { admin, tool } = await host(t);
  const before = readdirSync(SUDOERS).sort();
  for (const name of ['x ALL=(ALL) NOPASSWD: ALL', 'x,root', 'a.b', 'ALL']) {
    const made = await admin('create', name);
    t.equal(made.code, 2, name);
    t.match(made.stderr, /\[TH_ERR_TOOL_NAME_INVALID\]\n$/);
  }
  const evil = as('nobody', become('"x ALL=(ALL) NOPASSWD: ALL" id'));
  t.match(evil.stderr, /\[TH_ERR_TOOL_NAME_INVALID\]\n$/);
  for (const user of ['ALL', '%sudo', '#0', 'root,nobody', 'nobody ALL=(ALL) NOPASSWD: ALL']) {
    const add = await admin('add-maintainer', tool, user);
    t.equal(add.code, 2, user);
    t.match(add.stderr, /\[TH_ERR_USER_NAME_INVALID\]\n$/);
  }
  const ghost = await admin('add-maintainer', tool, 'nosuchuserhere');
  t.equal(ghost.code, 1);
  t.match(ghost.stderr, /there is no user "nosuchuserhere" on this host.*\[TH_ERR_USER_UNKNOWN\]/);
  t.same(readdirSync(SUDOERS).sort(), before, 'no rule written or changed');
});

t.test('tool delete removes the rule and the group, even when the tool has maintainers, and the name can be created again', { skip }, async (t) => {
  const { admin, tool, rule } = await host(t);
  const maint = person(t, 'thmnt');
  t.equal((await admin('add-maintainer', tool, maint)).code, 0);
  t.ok(existsSync(rule));
  t.equal((await admin('delete', tool, '--remove-home')).code, 0);
  t.notOk(existsSync(rule), 'the rule is gone');
  t.equal(spawnSync('getent', ['group', `tools.${tool}`]).status, 2, 'the group is gone');
  t.match(as(maint, become(`${tool} id`)).stderr, /\[TH_ERR_TOOL_UNKNOWN\]/);
  const again = await admin('create', tool);
  t.equal(again.code, 0, again.stderr);
});
