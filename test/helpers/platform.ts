// A host as an operator sets one up, for tests with hostile tool accounts (#9, #12): Redis
// started from the guide's files, two tools made by `toolhost tool create`, the registrar and a
// read-only proxy; and what such tests need to act as a tool and to look at processes.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { killProcessesOf, runBin, startProxy, startRedisFromGuide, startRegistrar, workDir } from './index.js';

export function uniq(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${Math.floor(Math.random() * 1e5).toString(36)}`.slice(0, 20);
}

export async function client(t: Test, url: string): Promise<Redis> {
  // no INFO ready check: a tool's user (and an anonymous one) may not run INFO
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
  r.on('error', () => {});
  await r.connect();
  t.teardown(() => r.disconnect());
  return r;
}

/** a shell command run as a tool's unix user, the way the tool itself would */
export function asTool(tool: string, cmd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('su', ['-s', '/bin/sh', `tools.${tool}`, '-c', cmd], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

export function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

/** two tools a and b on a host as an operator sets one up: Redis, registrar, proxy */
export async function platform(t: Test) {
  killProcessesOf(t);
  const base = workDir(t);
  chmodSync(base, 0o755);
  const homeRoot = path.join(base, 'project');
  const redis = await startRedisFromGuide(t);
  const runtime = path.join(base, 'run');
  const stateDir = path.join(base, 'state');
  const env = { TOOLHOST_REDIS_URL: redis.adminUrl, TOOLHOST_RUNTIME_DIR: runtime };
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', homeRoot, ...args], { env });
  const a = uniq('tha');
  const b = uniq('thb');
  t.teardown(async () => {
    await admin('delete', a, '--remove-home');
    await admin('delete', b, '--remove-home');
  });
  for (const name of [a, b]) {
    const made = await admin('create', name);
    if (made.code !== 0) throw new Error(made.stderr);
  }
  const registrarUrl = (await admin('registrar-user')).stdout.trim();
  const registrar = await startRegistrar(t, registrarUrl, homeRoot, { stateDir });
  const proxy = await startProxy(t, (await admin('proxy-user')).stdout.trim());
  const toolEnv = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtime, TOOLHOST_STATE_DIR: stateDir };
  const homeOf = (name: string) => path.join(homeRoot, name);
  const uid = (name: string) => Number(execFileSync('id', ['-u', `tools.${name}`], { encoding: 'utf8' }).trim());
  /** a page in the tool's public_html, owned by the tool */
  const page = (name: string, text: string) => {
    const file = path.join(homeOf(name), 'public_html', 'index.html');
    writeFileSync(file, text);
    execFileSync('chown', [`tools.${name}:tools.${name}`, file]);
  };
  /** webservice as root runs it for a tool */
  const ws = (name: string, ...args: string[]) => runBin(t, 'webservice', ['--tool', name, ...args], { env: { ...env, ...toolEnv } });
  const state = (name: string) => JSON.parse(readFileSync(path.join(runtime, name, 'state.json'), 'utf8')) as { serverPid: number; supervisorPid: number; port: number; url: string; state: string };
  const monitor = () => runBin(t, 'toolhost', ['monitor', '--once', '--home-root', homeRoot], { env: { ...env, ...toolEnv } });
  const served = async (name: string) => {
    const res = await fetch(`${proxy.url}/${name}/`);
    return { status: res.status, body: await res.text() };
  };
  /** a root-owned secret the attacks aim at (a stand-in for /etc/shadow) */
  const decoy = path.join(base, 'shadow');
  writeFileSync(decoy, 'root:secret\n', { mode: 0o600 });
  const decoyIntact = () => {
    const st = statSync(decoy);
    return st.uid === 0 && (st.mode & 0o777) === 0o600 && readFileSync(decoy, 'utf8') === 'root:secret\n';
  };
  return { base, homeRoot, redis, env, toolEnv, admin, a, b, registrar, proxy, homeOf, uid, page, ws, state, monitor, served, decoy, decoyIntact, runtime, stateDir };
}

