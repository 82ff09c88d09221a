// A real Slurm cluster for tests (issue 15): munged with a private key and socket, slurmctld, and
// one slurmd per web node — each node a host of test/helpers/hosts.ts (its own network and UTS
// namespace, its hostname the node's name), so a job's server listens on the node's address.
// Everything lives in a temp directory; the node names carry the test process's pid (Slurm's
// cgroups are named slurm_<node>, global to the machine, so two runs side by side must differ).
// Teardown, even after a failure: every job cancelled, slurmd, slurmctld and munged stopped (by the
// pids their files name, checked against /proc/PID/comm: pids wrap on this machine), what is
// left in the nodes' cgroups killed and the cgroups removed, the directory removed.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { freePort } from './index.js';
import type { Host, Network } from './hosts.js';

/** why the Slurm tests cannot run here, or false */
export function slurmUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (munged, slurmctld, slurmd, network namespaces)';
  for (const bin of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/sbin/munged', '/usr/sbin/mungekey']) {
    if (!existsSync(bin)) return `Slurm is not installed (no ${bin}): bin/setup installs slurmctld slurmd slurm-client munge as root`;
  }
  return false;
}

export interface SlurmNode {
  /** Slurm's NodeName, also the host's hostname and the registrar's node name */
  readonly name: string;
  readonly host: Host;
}

export interface SlurmCluster {
  readonly dir: string;
  /** SLURM_CONF */
  readonly conf: string;
  /** the partition every node is in */
  readonly partition: string;
  readonly nodes: readonly SlurmNode[];
  /** seconds slurmctld waits for a silent slurmd before it declares the node down */
  readonly slurmdTimeout: number;
  /** a Slurm command as root, with this cluster's SLURM_CONF */
  run(command: string, args: readonly string[]): string;
  /** the node's slurmd and every process on the node killed at once (as a machine that dies) */
  killNode(name: string): void;
  /** slurmctld's log (for a failing test's comment) */
  log(): string;
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

function pidFrom(file: string, comm: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 && commOf(pid) === comm ? pid : null;
  } catch {
    return null;
  }
}

async function stopPid(pid: number | null, comm: string): Promise<void> {
  if (pid === null) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && commOf(pid) === comm; i++) await sleep(50);
  if (commOf(pid) === comm) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** kill what is left in a node's cgroups (job processes, slurmstepd) and remove them, deepest first */
function removeCgroups(node: string): void {
  const root = '/sys/fs/cgroup';
  if (!existsSync(root)) return;
  for (const controller of readdirSync(root)) {
    const top = path.join(root, controller, `slurm_${node}`);
    if (!existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (d: string): void => {
      dirs.push(d);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    };
    try {
      walk(top);
    } catch {
      continue;
    }
    for (const d of dirs) {
      try {
        for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const d of dirs.reverse()) {
      // a cgroup goes once its last process is reaped: a few tries
      for (let i = 0; i < 40 && existsSync(d); i++) {
        try {
          rmdirSync(d);
        } catch {
          spawnSync('sleep', ['0.05']);
        }
      }
    }
  }
}

/**
 * A cluster whose nodes are the given hosts of `network` (each host's name is used as its node
 * name: give them unique ones, e.g. from slurmNodeNames), in one partition. slurmctld listens
 * on the bridge's address (the test process's end of the network).
 */
export async function startSlurmCluster(t: Test, network: Network, hosts: readonly Host[], options: { partition?: string; slurmdTimeout?: number; realMemoryMb?: number } = {}): Promise<SlurmCluster> {
  const dir = mkdtempSync('/tmp/thslurm-');
  chmodSync(dir, 0o755); // munged's socket and slurm.conf must be reachable by the tools' users
  const partition = options.partition ?? 'webgrid';
  const slurmdTimeout = options.slurmdTimeout ?? 5;
  for (const d of ['munge', 'munge-run', 'etc', 'state', 'log', 'spool']) mkdirSync(path.join(dir, d), { mode: 0o755 });
  chmodSync(path.join(dir, 'munge'), 0o700);
  const conf = path.join(dir, 'etc', 'slurm.conf');
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf };
  delete env.NODE_OPTIONS;
  const nodes: SlurmNode[] = hosts.map((host) => ({ name: host.name, host }));

  const teardown = async (): Promise<void> => {
    // 1. every job cancelled while the controller runs (slurmstepd and job processes outlive slurmd)
    if (pidFrom(path.join(dir, 'slurmctld.pid'), 'slurmctld') !== null) {
      spawnSync('scancel', ['--full', '--quiet', `--partition=${partition}`], { env, timeout: 10_000 });
      for (let i = 0; i < 50; i++) {
        const q = spawnSync('squeue', ['-h', '-o', '%i'], { env, encoding: 'utf8', timeout: 5000 });
        if (q.status !== 0 || !q.stdout.trim()) break;
        await sleep(100);
      }
    }
    // 2. the daemons, by the pids their files name
    await Promise.all(nodes.map((n) => stopPid(pidFrom(path.join(dir, `slurmd-${n.name}.pid`), 'slurmd'), 'slurmd')));
    await stopPid(pidFrom(path.join(dir, 'slurmctld.pid'), 'slurmctld'), 'slurmctld');
    await stopPid(pidFrom(path.join(dir, 'munge', 'munged.pid'), 'munged'), 'munged');
    // 3. what is left in the nodes' cgroups
    for (const n of nodes) removeCgroups(n.name);
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(teardown);

  const key = path.join(dir, 'munge', 'munge.key');
  const socket = path.join(dir, 'munge-run', 'munge.sock');
  execFileSync('mungekey', ['--create', `--keyfile=${key}`], { stdio: 'ignore' });
  execFileSync('munged', [`--key-file=${key}`, `--socket=${socket}`, `--pid-file=${path.join(dir, 'munge', 'munged.pid')}`, `--log-file=${path.join(dir, 'munge', 'munged.log')}`, `--seed-file=${path.join(dir, 'munge', 'munged.seed')}`], { stdio: 'ignore' });

  const ctldPort = await freePort();
  const slurmdPort = await freePort(); // each node has a port space of its own
  const mem = options.realMemoryMb ?? 1000;
  const hostname = execFileSync('hostname', { encoding: 'utf8' }).trim();
  writeFileSync(
    conf,
    [
      `ClusterName=th${process.pid.toString(36)}`,
      `SlurmctldHost=${hostname}(${network.subnet}.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      // cred_expire is also how long a requeued job waits before it may start again (default 120 s)
      `AuthInfo=socket=${socket},cred_expire=10`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool/%n`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd-%n.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd-%n.log`,
      'SlurmctldDebug=info',
      'SlurmdDebug=info',
      'MailProg=/bin/true',
      'MpiDefault=none',
      // Slurm tracks a job's processes in its freezer cgroups: scancel and a requeue leave nothing behind
      'ProctrackType=proctrack/cgroup',
      'TaskPlugin=task/cgroup',
      'JobAcctGatherType=jobacct_gather/cgroup',
      'JobAcctGatherFrequency=5',
      'SchedulerType=sched/backfill',
      'SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=2',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core_Memory',
      'DefMemPerCPU=100',
      'ReturnToService=2',
      // a node silent this long is down and its requeueable jobs go back to the queue (production: 300)
      `SlurmdTimeout=${slurmdTimeout}`,
      'MessageTimeout=5',
      'KillWait=5',
      'MinJobAge=60',
      'JobRequeue=1',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/filetxt',
      `JobCompLoc=${dir}/log/jobcomp.txt`,
      ...nodes.map((n) => `NodeName=${n.name} NodeHostname=${n.name} NodeAddr=${n.host.address} CPUs=1 RealMemory=${mem}`),
      `PartitionName=${partition} Nodes=${nodes.map((n) => n.name).join(',')} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'etc', 'cgroup.conf'), ['CgroupPlugin=cgroup/v1', 'CgroupMountpoint=/sys/fs/cgroup', 'ConstrainCores=no', 'ConstrainRAMSpace=yes', 'ConstrainSwapSpace=yes', 'AllowedRAMSpace=100', 'AllowedSwapSpace=0', ''].join('\n'));

  execFileSync('slurmctld', ['-f', conf, '-i'], { env, stdio: 'ignore' });
  for (const n of nodes) {
    mkdirSync(path.join(dir, 'spool', n.name), { recursive: true });
    // nsenter --net, not `ip netns exec` (which remounts /sys and hides the cgroups); a UTS
    // namespace of its own, so the node's hostname is its name
    execFileSync(n.host.run[0] as string, [...n.host.run.slice(1), 'unshare', '--uts', 'sh', '-c', `hostname ${n.name} && exec slurmd -f ${conf} -N ${n.name}`], { env, stdio: 'ignore' });
  }
  const run = (command: string, args: readonly string[]): string => execFileSync(command, args, { env, encoding: 'utf8', timeout: 15_000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = spawnSync('sinfo', ['-h', '-N', '-o', '%N %T'], { env, encoding: 'utf8', timeout: 5000 }).stdout ?? '';
    const idle = states.split('\n').filter((l) => l.endsWith(' idle')).length;
    if (idle === nodes.length) break;
    if (Date.now() > deadline) throw new Error(`Slurm cluster not ready after 30 s: ${states}\n${readFileSync(path.join(dir, 'log', 'slurmctld.log'), 'utf8').slice(-2000)}`);
    await sleep(100);
  }
  return {
    dir,
    conf,
    partition,
    nodes,
    slurmdTimeout,
    run,
    killNode: (name) => {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name}`);
      // everything in the node's network namespace — slurmd, slurmstepd, the job's processes,
      // the node's registrar — dies at once, as when the machine loses power
      const pids = (spawnSync('ip', ['netns', 'pids', path.basename(node.host.netns)], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean);
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          // gone
        }
      }
    },
    log: () => {
      try {
        return readFileSync(path.join(dir, 'log', 'slurmctld.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
}

/** node names no other run on this machine uses now (Slurm's cgroups are named after them) */
export function slurmNodeNames(count: number): string[] {
  const id = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 * 36).toString(36)}`;
  return Array.from({ length: count }, (_, i) => `sn${id}${i + 1}`);
}
