// What an executable loads, from exec to exit: every module of src/ (compiled) and every npm
// package, as the process itself saw them. A module hook records each ES module it loads, and
// the CommonJS cache at exit adds the packages loaded through require. No timing involved: a
// command that loads what it does not use shows up here, whatever the machine's load (#14).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { BIN, outputOf, ROOT, userEnv, workDir } from './index.js';

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.TOOLHOST_TEST_LOAD_LOG, url + '\\n');
  return next(url, context);
}`;
const REGISTER = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
process.on('exit', () => appendFileSync(process.env.TOOLHOST_TEST_LOAD_LOG, Object.keys(createRequire(process.execPath).cache).map((f) => 'file://' + f + '\\n').join('')));`;

export interface Loaded {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** the npm packages loaded, by name */
  readonly packages: ReadonlySet<string>;
  /** the modules of src/ loaded, as paths below .build/ (`webservice/control.js`) */
  readonly modules: ReadonlySet<string>;
}

/** run bin/COMMAND ARGS as a user does, and say what it loaded */
export async function loadedBy(t: Test, command: string, args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Loaded> {
  const log = path.join(workDir(t), `loaded-${command}-${Math.random().toString(36).slice(2)}.log`);
  // tap's process tracking re-adds its loaders to NODE_OPTIONS of every child: `env -u` takes them out
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, path.join(BIN, command), ...args], {
    env: userEnv({ ...env, TOOLHOST_TEST_LOAD_LOG: log }),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await outputOf(t, child);
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const packages = new Set<string>();
  const modules = new Set<string>();
  for (const url of urls) {
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (pkg) packages.add(pkg[1] as string);
    const own = url.indexOf('/.build/');
    if (!pkg && own >= 0) modules.add(url.slice(own + '/.build/'.length));
  }
  return { code, stdout, stderr, packages, modules };
}

/** the folders of src/ among the modules (`.` for the root modules) */
export function foldersOf(modules: ReadonlySet<string>): Set<string> {
  return new Set([...modules].map((m) => (m.includes('/') ? (m.split('/')[0] as string) : '.')));
}
