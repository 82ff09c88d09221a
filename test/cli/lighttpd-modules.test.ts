// A configuration that needs a lighttpd module this host lacks (#14): webservice config --check,
// start and toolhost lighttpd check name the module, the Debian package providing it and the
// maintainer's line that asks for it, never lighttpd's dlopen() line. A host without some modules
// is the real lighttpd given a module directory without them (lighttpd -m); and on this host,
// set up by bin/setup, the modules Debian recommends are there and such a config passes.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { lighttpdBinary, makeToolHome, ROOT, runBin, workDir } from '../helpers/index.js';

const MODULE_DIR = '/usr/lib/lighttpd';

/** the real lighttpd, on a host whose module directory lacks WITHOUT: its TOOLHOST_LIGHTTPD */
function lighttpdWithout(t: Test, without: readonly string[]): string {
  const dir = path.join(workDir(t), 'modules');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(MODULE_DIR)) if (!without.includes(f.replace(/\.so$/, ''))) symlinkSync(path.join(MODULE_DIR, f), path.join(dir, f));
  const wrapper = path.join(workDir(t), 'lighttpd');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${lighttpdBinary()} -m ${dir} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

const MODULE_MISSING = (place: string, by: string, module: string, pkg: string): RegExp =>
  new RegExp(`^webservice: ${place}: ${by.replace(/[.()"]/g, '\\$&')} loads lighttpd's ${module}, which is not installed on this host; Debian's package ${pkg} provides it: an administrator installs it with "apt-get install ${pkg}" \\[TH_ERR_LIGHTTPD_MODULE_MISSING\\]$`, 'm');

t.test('config --check and start on a host without mod_openssl: an ssl.* key names the module and its package at the maintainer\'s line', async (t) => {
  const lighttpd = lighttpdWithout(t, ['mod_openssl']);
  // corpus file 037's first lines: a real maintainer's config that sets ssl.*
  const tool = makeToolHome(t, 'tlstool', { '.lighttpd.conf': 'server.stream-response-body = 2\nssl.read-ahead = "disable"\nserver.stream-request-body = 2\n' });
  const env = { TOOLHOST_LIGHTTPD: lighttpd, TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir), TOOLHOST_REGISTRAR_DIR: path.join(tool.home, 'no-registrar') };
  for (const action of [['config', '--check'], ['start']]) {
    const r = await runBin(t, 'webservice', ['--tool', tool.name, '--home', tool.home, ...action], { env });
    const what = `webservice ${action.join(' ')}`;
    t.equal(r.code, 3, `${what} exits 3 (a missing dependency)`);
    t.match(r.stderr, MODULE_MISSING('~/\\.lighttpd\\.conf:2', 'ssl.read-ahead', 'mod_openssl', 'lighttpd-mod-openssl'), what);
    t.notMatch(r.stderr + r.stdout, /dlopen|cannot open shared object|loading plugins/, `${what} shows no raw lighttpd line about it`);
  }
  t.notOk(existsSync(path.join(tool.home, 'service.manifest')), 'start wrote no manifest: nothing will try again');
});

t.test('a module named in an included file is reported at that file\'s line; one lighttpd runs without is a warning', async (t) => {
  const lighttpd = lighttpdWithout(t, ['mod_webdav', 'mod_deflate']);
  const tool = makeToolHome(t, 'davtool', {
    '.lighttpd.conf': '# modules live in modules.conf\ninclude "modules.conf"\n',
    'modules.conf': 'server.modules += ("mod_deflate")\n\nserver.modules += ("mod_webdav")\n',
  });
  const r = await runBin(t, 'webservice', ['--tool', tool.name, '--home', tool.home, 'config', '--check'], {
    env: { TOOLHOST_LIGHTTPD: lighttpd, TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir) },
  });
  t.equal(r.code, 3);
  const included = path.join(tool.home, 'modules.conf').replace(/[.]/g, '\\.');
  t.match(r.stderr, MODULE_MISSING(`${included}:3`, 'server.modules', 'mod_webdav', 'lighttpd-mod-webdav'));
  t.match(
    r.stderr,
    new RegExp(`^${included}:1: server\\.modules loads lighttpd's mod_deflate, which is not installed on this host: lighttpd runs without it; Debian's package lighttpd-mod-deflate provides it`, 'm'),
    'mod_deflate, which lighttpd skips, is a warning at its own line',
  );
  t.notMatch(r.stderr, /dlopen/);

  const soft = makeToolHome(t, 'gziptool', { '.lighttpd.conf': 'server.modules += ("mod_deflate")\n' });
  const ok = await runBin(t, 'webservice', ['--tool', soft.name, '--home', soft.home, 'config', '--check'], {
    env: { TOOLHOST_LIGHTTPD: lighttpd, TOOLHOST_RUNTIME_DIR: path.dirname(soft.runtimeDir) },
  });
  t.equal(ok.code, 0, 'a missing mod_deflate alone does not stop lighttpd');
  t.match(ok.stderr, /^~\/\.lighttpd\.conf:1: server\.modules loads lighttpd's mod_deflate, which is not installed on this host: lighttpd runs without it; Debian's package lighttpd-mod-deflate provides it: .* \[TH_WARN_LIGHTTPD_MODULE_MISSING\]$/m);
  t.match(ok.stderr, /lighttpd -tt: Syntax OK/);
});

t.test('a module no Debian package has is named as such; toolhost lighttpd check says the same of a standalone file', async (t) => {
  const tool = makeToolHome(t, 'typotool', { '.lighttpd.conf': 'server.modules += ("mod_rewrit")\n' });
  const r = await runBin(t, 'webservice', ['--tool', tool.name, '--home', tool.home, 'config', '--check'], { env: { TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir) } });
  t.equal(r.code, 3);
  t.match(r.stderr, /^webservice: ~\/\.lighttpd\.conf:1: server\.modules loads lighttpd's mod_rewrit, which is not installed on this host; no Debian package of lighttpd provides mod_rewrit: check its name \[TH_ERR_LIGHTTPD_MODULE_MISSING\]$/m);

  const lighttpd = lighttpdWithout(t, ['mod_openssl']);
  const file = path.join(workDir(t), 'site.conf');
  writeFileSync(file, 'server.document-root = "/tmp"\nserver.port = 8999\n\nssl.read-ahead = "disable"\n');
  const check = await runBin(t, 'toolhost', ['lighttpd', 'check', 'site.conf'], { cwd: path.dirname(file), env: { TOOLHOST_LIGHTTPD: lighttpd } });
  t.equal(check.code, 3);
  t.match(check.stderr, /^toolhost: site\.conf:4: ssl\.read-ahead loads lighttpd's mod_openssl, which is not installed on this host; Debian's package lighttpd-mod-openssl provides it/m);
  t.notMatch(check.stderr, /dlopen/);
});

t.test('bin/setup installs the lighttpd modules Debian recommends, the README lists them, and here they let an ssl.* config pass', async (t) => {
  const setup = readFileSync(path.join(ROOT, 'bin', 'setup'), 'utf8');
  const modules = (/^LIGHTTPD_MODULES="([^"]*)"$/m.exec(setup)?.[1] ?? '').split(/\s+/).filter(Boolean);
  t.ok(modules.includes('openssl') && modules.includes('deflate'), `bin/setup installs ${modules.join(', ')}`);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const m of modules) {
    t.match(readme, `lighttpd-mod-${m}`, `the README lists lighttpd-mod-${m}`);
    t.ok(existsSync(path.join(MODULE_DIR, `mod_${m}.so`)), `mod_${m} is installed on this host (npm test runs bin/setup)`);
  }
  let recommends: string[] | null = null;
  try {
    recommends = [...execFileSync('apt-cache', ['depends', 'lighttpd'], { encoding: 'utf8' }).matchAll(/^\s*Recommends: (lighttpd-mod-[\w-]+)$/gm)].map((m) => m[1] as string);
  } catch {
    // no apt here: the list in bin/setup stands alone
  }
  if (recommends) t.same(recommends.filter((p) => !modules.includes(p.replace('lighttpd-mod-', ''))), [], 'every module Debian recommends with lighttpd is in bin/setup');

  const tool = makeToolHome(t, 'tlsok', { '.lighttpd.conf': 'ssl.read-ahead = "disable"\nserver.modules += ("mod_deflate")\n' });
  const r = await runBin(t, 'webservice', ['--tool', tool.name, '--home', tool.home, 'config', '--check'], { env: { TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir) } });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /lighttpd -tt: Syntax OK/);
  t.notMatch(r.stderr, /not installed/);
});
