// Commands load only what they use (#14): the commands typed all day — --help, --version,
// `webservice status` and `webservice config` — must not load the proxy, Redis's client, the
// metrics or the job scheduler. Checked by what the process loaded, not by timing it; the times
// themselves are `npm run bench -- cli-start`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeToolHome, ROOT } from '../helpers/index.js';
import { foldersOf, loadedBy } from '../helpers/loaded-modules.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const EXECUTABLES = Object.keys(pkg.bin);
/** executables built with commander, which have --help */
const WITH_HELP = ['toolhost', 'webservice', 'portgrabber', 'toolforge'];

/** what no --help needs: the proxy, the route table, jobs, the registrar, process supervision, the lighttpd engine */
const HEAVY_FOLDERS = ['proxy', 'routes', 'jobs', 'registrar', 'supervisor', 'lighttpd', 'accesslog', 'slurm'];

/**
 * modules of those folders that hold only data and pure functions, and load nothing else of
 * their folder: the registrar's socket path and messages, the jobs' e-mail policies
 */
const PURE_MODULES = ['registrar/protocol.js', 'jobs/job-spec.js'];
/** the folders of src/ whose code ran, not counting PURE_MODULES */
const codeFolders = (modules: ReadonlySet<string>): Set<string> => foldersOf(new Set([...modules].filter((m) => !PURE_MODULES.includes(m))));

const only = (loaded: ReadonlySet<string>, allowed: readonly string[]): string[] => [...loaded].filter((p) => !allowed.includes(p)).sort();

t.test('--version prints toolhost\'s version and loads no command and no package, on every executable', async (t) => {
  t.ok(EXECUTABLES.length >= 9, `${EXECUTABLES.length} executables`);
  for (const name of EXECUTABLES) {
    const r = await loadedBy(t, name, ['--version']);
    t.equal(r.code, 0, `${name}: ${r.stderr}`);
    t.equal(r.stdout, `${name === 'toolhost' ? 'toolhost' : `${name} (toolhost)`} ${pkg.version}\n`, `${name} --version prints toolhost's version`);
    t.same(only(r.packages, []), [], `${name} --version loads no package`);
    t.same(only(r.modules, ['cli/io.js', 'cli/printable.js', 'cli/version.js', 'package-files.js', 'errors.js']), [], `${name} --version loads no command`);
  }
});

t.test('--help of every command and subcommand loads no package but commander, and none of the code the command runs', async (t) => {
  const top = await loadedBy(t, 'toolhost', ['--help']);
  t.equal(top.code, 0, top.stderr);
  const subcommands = [...(top.stdout.split('Commands:')[1] ?? '').matchAll(/^ {2}(\w+)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help');
  t.ok(subcommands.length >= 9, `toolhost lists ${subcommands.join(', ')}`);
  const cases: string[][] = [...WITH_HELP.map((e) => [e, '--help']), ...subcommands.map((c) => ['toolhost', c, '--help']), ['toolforge', 'jobs', '--help'], ['toolhost', 'jobs', 'run', '--help']];
  for (const [command, ...args] of cases) {
    const what = [command, ...args].join(' ');
    const r = await loadedBy(t, command as string, args);
    t.equal(r.code, 0, `${what}: ${r.stderr}`);
    t.match(r.stdout, /^Usage: /, `${what} prints its usage`);
    t.same(only(r.packages, ['commander']), [], `${what} loads no package but commander`);
    const folders = codeFolders(r.modules);
    t.same(HEAVY_FOLDERS.filter((f) => folders.has(f)), [], `${what} loads nothing of src/{${HEAVY_FOLDERS.join(',')}}`);
  }
});

t.test('webservice status loads neither the proxy, Redis, the lighttpd engine nor jobs', async (t) => {
  const tool = makeToolHome(t, 'loadstatus', { 'service.manifest': 'backend: toolhost\nweb: lighttpd\nversion: 1\n' });
  const env = { TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir), TOOLHOST_REGISTRAR_DIR: path.join(tool.home, 'no-registrar') };
  for (const args of [['status'], ['status', '--json']]) {
    const r = await loadedBy(t, 'webservice', ['--tool', tool.name, '--home', tool.home, ...args], env);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /not running|"state":"stopped"/);
    t.same(only(r.packages, ['commander']), [], `webservice ${args.join(' ')} loads no package but commander (the flat manifest is read without yaml)`);
    for (const folder of ['proxy', 'routes', 'jobs', 'lighttpd', 'accesslog', 'slurm']) t.notOk(codeFolders(r.modules).has(folder), `webservice ${args.join(' ')} loads nothing of src/${folder}`);
  }
});

t.test('webservice config loads the lighttpd engine, not the proxy, Redis, jobs or the yaml package', async (t) => {
  const tool = makeToolHome(t, 'loadconfig', { 'service.manifest': 'backend: toolhost\nweb: lighttpd\nversion: 1\n', '.lighttpd.conf': 'index-file.names = ("index.html")\n' });
  const r = await loadedBy(t, 'webservice', ['--tool', tool.name, '--home', tool.home, 'config'], { TOOLHOST_RUNTIME_DIR: path.dirname(tool.runtimeDir) });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^# Generated by toolhost/);
  t.same(only(r.packages, ['commander']), [], 'no package but commander (the flat manifest is read without yaml)');
  t.ok(foldersOf(r.modules).has('lighttpd'), 'the lighttpd engine is what config uses');
  for (const folder of ['proxy', 'routes', 'jobs', 'registrar']) t.notOk(codeFolders(r.modules).has(folder), `webservice config loads nothing of src/${folder}`);
});
