// Imports point down only (STYLE rules 2 and 3): cli -> webservice -> registrar | supervisor |
// routes | lighttpd | accounts | logs | limits, jobs -> logs | limits, registrar -> routes | accounts |
// limits, limits -> accounts, proxy -> routes, everything ->
// the root modules (errors, tool-name, ip-address, package-files);
// another folder is reached only through its index.ts.
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
  limits: ['.', 'accounts'],
  registrar: ['.', 'accounts', 'routes', 'limits'],
  jobs: ['.', 'accounts', 'registrar', 'routes', 'supervisor', 'logs', 'limits'],
  proxy: ['.', 'routes'],
  webservice: ['.', 'lighttpd', 'routes', 'supervisor', 'accesslog', 'accounts', 'registrar', 'jobs', 'logs', 'limits'],
  cli: ['.', 'lighttpd', 'routes', 'supervisor', 'accesslog', 'accounts', 'registrar', 'jobs', 'webservice', 'proxy', 'logs', 'limits'],
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
      else if (to !== '.' && path.basename(target) !== 'index.js') problems.push(`${path.relative(ROOT, file)} imports ${m[1]}: use ${to}/index.js`);
    }
  }
  t.same(problems, []);
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
