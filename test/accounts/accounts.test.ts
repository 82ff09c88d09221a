// What root may touch of a tool (#9): tool files are read only when they are regular files the
// tool owns, never through a link and never blocking on a FIFO; runtime directories are made
// by root only inside a root-owned parent nobody else may write; a tool's processes start from
// a clean environment.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { prepareRuntimeDirectory, readOwnedFile, runtimeDirectory, toolProcessEnvironment } from '../../src/accounts/index.js';
import { ToolhostError } from '../../src/errors.js';
import { runBin, workDir } from '../helpers/index.js';

const asRoot = process.getuid?.() === 0;
const me = { uid: process.getuid?.() ?? 0 };

t.test('a tool file is read only if it is a regular file the tool owns, never through a link', async (t) => {
  const dir = workDir(t);
  const file = path.join(dir, 'service.manifest');
  writeFileSync(file, 'web: lighttpd\n');
  t.same(readOwnedFile(file, me), { ok: true, text: 'web: lighttpd\n' });
  t.same(readOwnedFile(path.join(dir, 'missing'), me), { ok: false, missing: true, reason: 'missing' });
  symlinkSync(file, path.join(dir, 'link'));
  t.match(readOwnedFile(path.join(dir, 'link'), me), { ok: false, reason: 'it is a symbolic link' });
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  t.match(readOwnedFile(path.join(dir, 'fifo'), me), { ok: false, reason: 'it is not a regular file' }, 'a FIFO neither blocks nor counts');
  mkdirSync(path.join(dir, 'adir'));
  t.match(readOwnedFile(path.join(dir, 'adir'), me), { ok: false });
  writeFileSync(path.join(dir, 'big'), 'x'.repeat(100_000));
  t.equal((readOwnedFile(path.join(dir, 'big'), me, 10) as { text: string }).text, 'x'.repeat(10), 'at most the bytes asked for');
  if (!asRoot) return;
  const theirs = path.join(dir, 'theirs');
  writeFileSync(theirs, 'secret');
  chownSync(theirs, 65534, 65534);
  t.match(readOwnedFile(theirs, me), { ok: false, reason: 'it is owned by uid 65534, not the tool (uid 0)' });
  // a hard link to someone else's file carries that owner
  linkSync(theirs, path.join(dir, 'hardlink'));
  t.match(readOwnedFile(path.join(dir, 'hardlink'), me), { ok: false, reason: /owned by uid 65534/ });
});

t.test('one runtime directory per tool, whoever asks: the operator\'s root, /run/toolhost for accounts, the home in development', async (t) => {
  const account = { user: 'tools.x', uid: 1, gid: 1, group: 'tools.x', home: '/data/project/x' };
  t.equal(runtimeDirectory({ name: 'x', home: '/h/x', account }, {}), '/run/toolhost/x');
  t.equal(runtimeDirectory({ name: 'x', home: '/h/x', account: null }, {}), '/h/x/.toolhost/run');
  t.equal(runtimeDirectory({ name: 'x', home: '/h/x', account }, { TOOLHOST_RUNTIME_DIR: '/srv/run', XDG_RUNTIME_DIR: '/run/user/5' }), '/srv/run/x');
});

t.test('root makes a runtime directory only inside a root-owned parent nobody else may write, never through a link', { skip: asRoot ? false : 'needs root' }, async (t) => {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const parent = path.join(base, 'run');
  prepareRuntimeDirectory(path.join(parent, 'tool'), { uid: 65534, gid: 65534 });
  const st = lstatSync(path.join(parent, 'tool'));
  t.same([st.isDirectory(), st.uid, st.gid, st.mode & 0o777], [true, 65534, 65534, 0o750]);
  t.equal(lstatSync(parent).mode & 0o777, 0o755);
  // a parent others may write could have anything swapped into it
  const open = path.join(base, 'open');
  mkdirSync(open, { mode: 0o777 });
  chmodSync(open, 0o1777);
  t.throws(() => prepareRuntimeDirectory(path.join(open, 'tool'), { uid: 65534, gid: 65534 }), { code: 'TH_ERR_UNSAFE_DIRECTORY' });
  // a link where the directory should be is not followed
  symlinkSync('/etc', path.join(parent, 'linked'));
  t.throws(() => prepareRuntimeDirectory(path.join(parent, 'linked'), { uid: 65534, gid: 65534 }), { code: 'TH_ERR_UNSAFE_DIRECTORY' });
  t.equal(lstatSync('/etc').uid, 0, '/etc is still root\'s');
});

t.test('a tool that may not make its runtime directory is told so in one line', { skip: asRoot ? false : 'needs root to run as another user' }, async (t) => {
  const base = workDir(t);
  chmodSync(base, 0o755);
  const home = path.join(base, 'homes', 'late');
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  chownSync(home, 65534, 65534);
  mkdirSync(path.join(base, 'run'), { mode: 0o755 });
  const r = await runBin(t, 'webservice', ['--tool', 'late', '--home', home, 'start'], { uid: 65534, gid: 65534, env: { TOOLHOST_RUNTIME_DIR: path.join(base, 'run') } });
  t.equal(r.code, 1);
  t.match(r.stderr, /^Starting webservice...\nwebservice: the runtime directory .*run\/late is missing and you may not create it; .*\[TH_ERR_RUNTIME_DIR_MISSING\]\n$/);
});

t.test('a tool\'s processes get only the documented variables of their caller', async (t) => {
  const env = toolProcessEnvironment(
    { name: 'clean', home: '/data/project/clean', account: null },
    { TOOLHOST_REDIS_URL: 'redis://admin:pw@x', SSH_AUTH_SOCK: '/tmp/agent', LANG: 'C.UTF-8', TOOLHOST_LIVENESS_MS: '500', PATH: '/root/bin', HOME: '/root' },
  );
  t.same(Object.keys(env).sort(), ['HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'TOOLHOST_HOME', 'TOOLHOST_LIVENESS_MS', 'TOOLHOST_TOOL', 'USER']);
  t.equal(env.HOME, '/data/project/clean');
  t.notMatch(env.PATH, /\/root/);
  t.ok(new ToolhostError('TH_ERR_UNSAFE_DIRECTORY', '/x', 'y').message.startsWith('/x is not safe'));
});
