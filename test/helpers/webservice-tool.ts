// A development tool served the way a maintainer serves it: real Redis, the real proxy and
// registrar, `webservice` as the executable, a request loop through the proxy, and what the
// kernel says about the server's processes. Used by the python and node webservice tests.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { killProcessesOf, makeToolHome, redisClient, runBin, startProxy, startRedis, startRegistrar, workDir } from './index.js';

export interface ServedState {
  readonly serverPid: number;
  readonly supervisorPid: number;
  readonly port: number;
  readonly state: string;
  readonly url: string;
}

export async function webTool(t: Test, name: string, files: Record<string, string> = {}) {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const tool = makeToolHome(t, name, files);
  const registrar = await startRegistrar(t, redis.url, path.dirname(tool.home), { leaseSeconds: 1.5 });
  const runtimeDir = path.join(workDir(t), 'runtime', name);
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: path.dirname(runtimeDir), TOOLHOST_LIVENESS_MS: '500' };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', name, '--home', tool.home, ...args], { env });
  const state = () => JSON.parse(readFileSync(path.join(runtimeDir, 'state.json'), 'utf8')) as ServedState;
  // whatever a test leaves running goes: the supervisor, and the server's whole process group
  t.teardown(async () => {
    await ws('stop').catch(() => {});
    try {
      const s = state();
      for (const pid of [s.supervisorPid, s.serverPid]) if (pid) signalGroup(pid, 'SIGKILL');
    } catch {
      // never started
    }
  });
  const page = async (p = '/') => {
    const res = await fetch(`${proxy.url}/${name}${p}`);
    return { status: res.status, body: await res.text() };
  };
  return { r, proxy, tool, env, ws, state, page, registrar };
}

/** a signal to a process group (or, if it is no group leader, the process); false if nothing got it */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return true;
    } catch {
      // try the process alone
    }
  }
  return false;
}

/** the live processes of a process group, from /proc */
export function groupMembers(pgid: number): { pid: number; uid: number; argv: string[] }[] {
  const out: { pid: number; uid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      out.push({ pid: Number(entry), uid, argv: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** the cgroup a process is in for one controller, from /proc/PID/cgroup ('' when gone) */
export function cgroupOf(pid: number, controller: string): string {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
    return line?.split(':')[2] ?? '';
  } catch {
    return '';
  }
}

/** requests through the proxy in a loop until stopped; anything but 200 is a failure */
export function requestLoop(url: string) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const done = (async () => {
    while (running) {
      try {
        // a request that hangs is a failure too, not the end of the loop
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failures.push(`HTTP ${res.status} ${res.headers.get('x-toolhost-error') ?? ''}`);
      } catch (err) {
        failures.push((err as Error).message);
        // a refused connection fails at once: not a busy loop
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { ok, failures };
    },
  };
}
