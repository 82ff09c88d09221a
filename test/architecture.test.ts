// Imports point down only (STYLE rules 2 and 3): cli -> webservice -> registrar | supervisor |
// routes | lighttpd | accounts | logs, jobs -> logs, registrar -> routes | accounts, proxy -> routes,
// notify -> limits -> accounts (both below jobs, registrar, webservice and cli), everything ->
// the root modules (errors, tool-name, ip-address, package-files, on-first-use);
// another folder is reached only through its index.ts, or one of the few modules it offers to
// the commands typed all day (PUBLIC_MODULES).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/index.js';

const SRC = path.join(ROOT, 'src');

/** which folders each folder may import ('.' = the root modules of src/) */
const ALLOWED: Record<string, readonly string[]> = {
  '.': [],
  lighttpd: ['.'],
  routes: ['.'],
  supervisor: ['.'],
  accesslog: ['.'],
  accounts: ['.'],
  logs: ['.'],
  slurm: ['.', 'accounts'],
  limits: ['.', 'accounts'],
  notify: ['.', 'accounts', 'limits', 'supervisor'],
  registrar: ['.', 'accounts', 'routes', 'limits', 'notify'],
  jobs: ['.', 'accounts', 'registrar', 'routes', 'supervisor', 'limits', 'notify', 'logs', 'slurm'],
  proxy: ['.', 'routes'],
  webservice: ['.', 'lighttpd', 'routes', 'supervisor', 'accesslog', 'accounts', 'registrar', 'jobs', 'limits', 'notify', 'logs', 'slurm'],
  cli: ['.', 'lighttpd', 'routes', 'supervisor', 'accesslog', 'accounts', 'registrar', 'jobs', 'webservice', 'proxy', 'limits', 'notify', 'logs', 'slurm'],
};

/**
 * Modules other folders may import directly besides index.ts: what `webservice status` and
 * `webservice config` use, so that they load neither the rest of the folder nor what it needs —
 * the registrar's daemon and Redis, the host monitor, jobs (#14: they took 3-4× a bare
 * `node -e 0`; test/cli/module-loads.test.ts, `npm run bench -- cli-start`). index.ts
 * re-exports each of them too.
 */
const PUBLIC_MODULES: Record<string, readonly string[]> = {
  registrar: ['registrar-client.ts', 'protocol.ts'],
  webservice: ['control.ts', 'lighttpd-config.ts', 'manifest.ts', 'webservice-types.ts', 'server-instance.ts'],
  supervisor: ['process-info.ts'],
  jobs: ['job-spec.ts'],
  limits: ['quantities.ts', 'quota.ts'],
  notify: ['policy.ts', 'delivery.ts'],
};

/**
 * The Slurm backend's modules (issue 15): imported directly where the backend is used, and not
 * re-exported by their folder's index.ts, so that no command loads Slurm's code unless it uses
 * the backend (test/cli/module-loads.test.ts).
 */
const ON_DEMAND_MODULES: Record<string, readonly string[]> = {
  webservice: ['slurm-control.ts', 'slurm-jobs.ts'],
  jobs: ['slurm-run.ts'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

function folderOf(file: string): string {
  const rel = path.relative(SRC, file);
  return rel.includes(path.sep) ? (rel.split(path.sep)[0] as string) : '.';
}

t.test('every import of src/ points down the layers, into other folders only through index.ts', async (t) => {
  const problems: string[] = [];
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) {
      problems.push(`${path.relative(ROOT, file)}: folder "${from}" has no place in the layers (add it to this test)`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.resolve(path.dirname(file), m[1] as string);
      if (!target.startsWith(SRC)) continue;
      const to = folderOf(target);
      if (to === from) continue;
      if (!allowed.includes(to)) problems.push(`${path.relative(ROOT, file)} imports ${m[1]} (${from} -> ${to} points up or sideways)`);
      else if (to !== '.' && path.basename(target) !== 'index.js' && ![...(PUBLIC_MODULES[to] ?? []), ...(ON_DEMAND_MODULES[to] ?? [])].includes(path.basename(target).replace(/\.js$/, '.ts'))) {
        problems.push(`${path.relative(ROOT, file)} imports ${m[1]}: use ${to}/index.js`);
      }
    }
  }
  t.same(problems, []);
});

t.test('every public module of a folder is also exported by its index.ts', async (t) => {
  for (const [folder, modules] of Object.entries(PUBLIC_MODULES)) {
    const index = readFileSync(path.join(SRC, folder, 'index.ts'), 'utf8');
    for (const m of modules) t.match(index, `from './${m.replace(/\.ts$/, '.js')}'`, `${folder}/index.ts exports ${m}`);
  }
});

t.test('no index.ts re-exports the Slurm backend\'s modules, and no index.ts but slurm/index.ts loads src/slurm', async (t) => {
  for (const [folder, modules] of Object.entries(ON_DEMAND_MODULES)) {
    const index = readFileSync(path.join(SRC, folder, 'index.ts'), 'utf8');
    for (const m of modules) t.notMatch(index, `from './${m.replace(/\.ts$/, '.js')}'`, `${folder}/index.ts leaves ${m} out`);
  }
  for (const folder of Object.keys(ALLOWED).filter((f) => f !== '.' && f !== 'slurm' && f !== 'cli')) t.notMatch(readFileSync(path.join(SRC, folder, 'index.ts'), 'utf8'), /\.\.\/slurm\//, `${folder}/index.ts loads nothing of src/slurm`);
});

t.test('src/errors.ts imports nothing of ours', async (t) => {
  t.notMatch(readFileSync(path.join(SRC, 'errors.ts'), 'utf8'), /from '\./);
});

t.test('bin/ shims stay at most 15 lines', async (t) => {
  const { readdirSync } = await import('node:fs');
  const shims = readdirSync(path.join(ROOT, 'bin')).filter((n) => n !== 'setup');
  t.ok(shims.length >= 9, `${shims.length} executables`);
  for (const name of shims) {
    const lines = readFileSync(path.join(ROOT, 'bin', name), 'utf8').trimEnd().split('\n').length;
    t.ok(lines <= 15, `bin/${name} has ${lines} lines`);
  }
});
