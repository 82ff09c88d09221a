// The rig of the limits tests (#13): the platform of test/helpers/platform.ts with a registrar
// placing processes in cgroups of its own, and the ways to look at what the kernel holds.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { detectCgroups } from '../../src/limits/index.js';
import { runBin } from './index.js';
import { asTool, platform } from './platform.js';

export const mounts = detectCgroups();
export const skip = process.getuid?.() !== 0 ? 'needs root for unix users and cgroups' : !mounts ? 'this host has no memory cgroup controller' : false;
export const BIN = path.resolve('bin');
export const MI = 1024 ** 2;

export interface Rec {
  status: string;
  pid: number | null;
  runner: { pid: number } | null;
  message: string;
  cause: { kind: string; limit?: number; scope?: string } | null;
  limits: { memory: number; cpu: number; enforced: boolean } | null;
}

export async function rig(t: Test) {
  const p = await platform(t);
  const env = (tool: string) => `env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} TOOLHOST_STATE_DIR=${p.stateDir} TOOLHOST_TOOL=${tool} TOOLHOST_HOME=${p.homeOf(tool)}`;
  /** a command of ours, typed by the tool in its own account */
  const as = (tool: string, command: string) => asTool(tool, `cd ~ && ${env(tool)} ${BIN}/${command}`);
  const record = (tool: string, job: string): Rec | null => {
    try {
      return JSON.parse(readFileSync(path.join(p.runtime, tool, 'jobs', `${job}.json`), 'utf8')) as Rec;
    } catch {
      return null;
    }
  };
  /** the unit's directory in a controller's hierarchy */
  const cgroup = (controller: 'memory' | 'cpu' | 'pids', tool: string, ...parts: string[]) => path.join(mounts?.mounts[controller] as string, p.registrar.cgroupRoot, tool, ...parts);
  /** the cgroup a process is in, for a controller (/proc/PID/cgroup) */
  const cgroupOf = (pid: number, controller: string) => {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
    return line?.split(':')[2] ?? '';
  };
  const quota = (tool: string, ...args: string[]) => runBin(t, 'toolhost', ['tool', 'quota', tool, '--state-dir', p.stateDir, ...args], { env: p.env });
  return { ...p, as, record, cgroup, cgroupOf, quota };
}

