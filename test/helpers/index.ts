// The test harness: real redis-server, real lighttpd, the real executables. Everything a
// helper starts is stopped by t.teardown on the line after it starts, even when a test fails.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import type { Test } from 'tap';
import { findLighttpd } from '../../src/lighttpd/index.js';
import { httpProbe, startProcess, startRedisServer, type ManagedProcess, type RedisServer } from '../../src/supervisor/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin');

export function lighttpdBinary(): string {
  const b = findLighttpd();
  if (!b) throw new Error('lighttpd is not installed: run bin/setup (apt-get install lighttpd)');
  return b;
}

export async function startRedis(t: Test): Promise<RedisServer> {
  const server = await startRedisServer(path.join(t.testdir(), 'redis'));
  t.teardown(() => server.stop());
  return server;
}

/** lighttpd -D -f FILE, ready once http://127.0.0.1:PORT/ answers */
export async function startLighttpd(t: Test, configFile: string, port: number, env?: NodeJS.ProcessEnv): Promise<ManagedProcess> {
  const proc = await startProcess({
    command: lighttpdBinary(),
    args: ['-D', '-f', configFile],
    env: env ?? process.env,
    ready: () => httpProbe(`http://127.0.0.1:${port}/`, 500),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => proc.stop(2000));
  return proc;
}

export function freePort(): Promise<number> {
  return getPort({ host: '127.0.0.1' });
}

export interface ToolHome {
  readonly name: string;
  readonly home: string;
  readonly runtimeDir: string;
}

/** a tool home in the test's own directory, with public_html/ and the given files */
export function makeToolHome(t: Test, name: string, files: Record<string, string> = {}): ToolHome {
  const base = t.testdir();
  const home = path.join(base, 'homes', name);
  const runtimeDir = path.join(base, 'run', name);
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  mkdirSync(runtimeDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(home, file)), { recursive: true });
    writeFileSync(path.join(home, file), text);
  }
  return { name, home, runtimeDir };
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** the environment a user's shell has: without the loaders tap puts into NODE_OPTIONS */
export function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAP')) delete env[k];
  return env;
}

/** one of bin/ as a user runs it */
export function runBin(
  t: Test,
  command: 'toolhost' | 'webservice',
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // the executable itself, through its #! line, as a user runs it; tap's process tracking
    // re-adds its loaders to NODE_OPTIONS of every child, so `env -u` takes them out again
    const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, command), ...args], {
      env: userEnv(options.env),
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    t.teardown(kill);
    const timer = setTimeout(kill, options.timeoutMs ?? 60_000);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
