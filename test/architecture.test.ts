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

/**
 * The internal invariants that may throw a plain Error in the layers users and operators see:
 * each is a bug if it ever fires (a state machine asked for a transition its table forbids, a
 * helper called the wrong way), and the CLI then prints it as an internal error with its stack
 * (exit 70), the supervisor logs it. Every other failure there is a ToolhostError with a code.
 */
const INVARIANTS: readonly { file: string; text: string }[] = [
  { file: 'src/supervisor/unit.ts', text: 'no transition from' },
  // a launch asked for while the unit stops: its callers see #stopRequested and report nothing
  { file: 'src/supervisor/unit.ts', text: 'the unit is stopping' },
  { file: 'src/supervisor/gate.ts', text: 'openGate: the process was not spawned behind a gate' },
  { file: 'src/proxy/http1/client-connection.ts', text: 'fast lane connection:' },
  { file: 'src/proxy/http1/exchange.ts', text: 'fast lane exchange: ${this.#phase} -> ${next}' },
  { file: 'src/proxy/http1/exchange.ts', text: 'fast lane exchange: connect in' },
  { file: 'src/proxy/request-body.ts', text: 'append in state' },
  { file: 'src/proxy/request-body.ts', text: 'finish in state' },
  { file: 'src/webservice/server-instance.ts', text: 'a configuration is written for a real port' },
];

t.test('no free-text error reaches a user from src/cli, src/supervisor, src/proxy or src/webservice: every throw is a coded ToolhostError, or a listed invariant (#14)', async (t) => {
  const found: string[] = [];
  for (const folder of ['cli', 'supervisor', 'proxy', 'webservice']) {
    for (const file of sources(path.join(SRC, folder))) {
      const rel = path.relative(ROOT, file);
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // a thrown Error of any kind, or a rejected promise with one, or a thrown string
          if (!/throw new (?:Range|Type|Syntax)?Error\(|reject\(new Error\(|throw ['`"]/.test(line)) return;
          if (INVARIANTS.some((inv) => inv.file === rel && line.includes(inv.text))) return;
          found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
  }
  t.same(found, [], 'throw a ToolhostError with a TH_ERR_* code of src/errors.ts instead (or list a true invariant above)');
  // the list stays true: every invariant is still in its file
  for (const inv of INVARIANTS) t.match(readFileSync(path.join(ROOT, inv.file), 'utf8'), inv.text, `${inv.file} still has "${inv.text}"`);
});
