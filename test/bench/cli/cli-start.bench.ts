// How long the commands a maintainer or operator types all day take, whole, from exec to exit
// (#14): --help, --version, `webservice status` and `webservice config`, each against a bare
// `node -e 0` measured in the same rounds. Target: within 2× of it.
// The executables run through their #! line as a user runs them; every round runs the baseline
// and each command once, in a rotating order, so a busy moment of the (shared) machine falls on
// all of them alike. BENCH_RUNS rounds (default 21); the medians are reported.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const TARGET = 2;

const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-cli-'));
const home = path.join(work, 'benchtool');
mkdirSync(path.join(home, 'public_html'), { recursive: true });
// what a tool that has run once has: a manifest (YAML) and a ~/.lighttpd.conf of its own
writeFileSync(path.join(home, 'service.manifest'), 'backend: toolhost\nweb: lighttpd\nversion: 1\n');
writeFileSync(path.join(home, '.lighttpd.conf'), 'index-file.names = ("index.html")\nmimetype.assign += (".txt" => "text/plain")\n');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  TOOLHOST_TOOL: 'benchtool',
  TOOLHOST_HOME: home,
  TOOLHOST_RUNTIME_DIR: path.join(work, 'run'),
  // no registrar listens here: status says the route is unknown, as on a node whose registrar is down
  TOOLHOST_REGISTRAR_DIR: path.join(work, 'registrar'),
};
delete env.NODE_OPTIONS;

interface Case {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** under the 2× target (the baseline itself has none) */
  readonly targeted: boolean;
}

const bin = (name: string): string => path.join(ROOT, 'bin', name);
const CASES: readonly Case[] = [
  { name: 'baseline: node -e 0', command: process.execPath, args: ['-e', '0'], targeted: false },
  { name: 'toolhost --help', command: bin('toolhost'), args: ['--help'], targeted: true },
  { name: 'toolhost --version', command: bin('toolhost'), args: ['--version'], targeted: true },
  { name: 'toolhost routes --help', command: bin('toolhost'), args: ['routes', '--help'], targeted: true },
  { name: 'toolhost jobs --help', command: bin('toolhost'), args: ['jobs', '--help'], targeted: true },
  { name: 'webservice --help', command: bin('webservice'), args: ['--help'], targeted: true },
  { name: 'webservice --version', command: bin('webservice'), args: ['--version'], targeted: true },
  { name: 'webservice status', command: bin('webservice'), args: ['status'], targeted: true },
  { name: 'webservice config', command: bin('webservice'), args: ['config'], targeted: true },
  { name: 'jsub --version', command: bin('jsub'), args: ['--version'], targeted: true },
];

function once(c: Case): number {
  const t0 = performance.now();
  const r = spawnSync(c.command, c.args, { env, cwd: work, stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${c.name} exited with ${r.status ?? r.signal}`);
  return ms;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  // one unmeasured round: the file cache warm for every case alike
  for (const c of CASES) once(c);
  const times = new Map<Case, number[]>(CASES.map((c) => [c, []]));
  for (let round = 0; round < RUNS; round++) {
    for (let i = 0; i < CASES.length; i++) {
      const c = CASES[(round + i) % CASES.length] as Case;
      times.get(c)?.push(once(c));
    }
  }
  const base = median(times.get(CASES[0] as Case) ?? []);
  const rows = CASES.map((c) => {
    const m = median(times.get(c) ?? []);
    const ratio = m / base;
    const verdict = c.targeted ? (ratio <= TARGET ? 'met' : 'MISSED') : '';
    return `| ${c.name} | ${m.toFixed(0)} ms | ${ratio.toFixed(2)}× | ${verdict} |`;
  });
  process.stdout.write(
    `Wall time from exec to exit, median of ${RUNS} interleaved rounds; target: within ${TARGET}× of \`node -e 0\` (#14).\n\n` +
      `${['| command | median | vs node -e 0 | target |', '| --- | --- | --- | --- |', ...rows].join('\n')}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
