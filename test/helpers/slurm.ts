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
import { Redis } from 'ioredis';
import { freePort, killProcessesOf, ROOT, runBin, startRedisFromGuide, startRegistrar, workDir } from './index.js';
import { makeHosts, startProxyOn, type Host, type Network } from './hosts.js';
import { uniq } from './platform.js';

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
  // the operator's file (conf/slurm/slurm.conf), with this cluster's names, addresses, ports,
  // paths and shorter timeouts in place of the lines that set them
  const own: Record<string, string> = {
    ClusterName: `th${process.pid.toString(36)}`,
    SlurmctldHost: `${hostname}(${network.subnet}.1)`,
    SlurmctldPort: String(ctldPort),
    SlurmdPort: String(slurmdPort),
    // cred_expire is also how long a requeued job waits before it may start again (default 120 s)
    AuthInfo: `socket=${socket},cred_expire=10`,
    SlurmUser: 'root',
    StateSaveLocation: `${dir}/state`,
    SlurmdSpoolDir: `${dir}/spool/%n`,
    SlurmctldPidFile: `${dir}/slurmctld.pid`,
    SlurmdPidFile: `${dir}/slurmd-%n.pid`,
    SlurmctldLogFile: `${dir}/log/slurmctld.log`,
    SlurmdLogFile: `${dir}/log/slurmd-%n.log`,
    SlurmctldDebug: 'info',
    SlurmdDebug: 'info',
    SchedulerParameters: 'batch_sched_delay=0,bf_interval=1,sched_interval=2',
    // a node silent this long is down and its requeueable jobs go back to the queue
    SlurmdTimeout: String(slurmdTimeout),
    MessageTimeout: '5',
    KillWait: '5',
    MinJobAge: '60',
    JobAcctGatherFrequency: '5',
    JobCompLoc: `${dir}/log/jobcomp.txt`,
  };
  const operators = readFileSync(path.join(ROOT, 'conf', 'slurm', 'slurm.conf'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .filter((l) => !/^(NodeName|PartitionName)=/.test(l) && !((l.split('=')[0] ?? '') in own));
  writeFileSync(
    conf,
    [
      ...operators,
      ...Object.entries(own).map(([k, v]) => `${k}=${v}`),
      ...nodes.map((n) => `NodeName=${n.name} NodeHostname=${n.name} NodeAddr=${n.host.address} CPUs=1 RealMemory=${mem}`),
      `PartitionName=${partition} Nodes=${nodes.map((n) => n.name).join(',')} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'etc', 'cgroup.conf'), readFileSync(path.join(ROOT, 'conf', 'slurm', 'cgroup.conf'), 'utf8'));

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

export interface SlurmPlatform {
  readonly settingsFile: string;
  readonly env: Record<string, string>;
  readonly homeRoot: string;
  readonly a: string;
  readonly b: string;
  readonly uid: (tool: string) => number;
  readonly proxyUrl: string;
  readonly redis: Redis;
  readonly cluster: Awaited<ReturnType<typeof startSlurmCluster>>;
  readonly nodeAddress: Map<string, string>;
  readonly proxyRoutes: () => Promise<Map<string, string[]>>;
  /** each node's registrar socket directory (for a local webservice started on the node) */
  readonly registrarDirs: ReadonlyMap<string, string>;
}

/** a platform for a test file (or a benchmark): hosts, Redis, proxy, two tools, a Slurm cluster of two web nodes with their registrars */
export async function slurmPlatform(t: Test): Promise<SlurmPlatform> {
  killProcessesOf(t);
  const base = workDir(t);
  chmodSync(base, 0o755);
  const nodeNames = slurmNodeNames(2);
  const net = makeHosts(t, ['redis', 'proxy', ...nodeNames]);
  const redisHost = net.host('redis');
  const redis = await startRedisFromGuide(t, 'redis', redisHost);
  const homeRoot = path.join(base, 'project');
  const adminEnv = { TOOLHOST_REDIS_URL: redis.adminUrl };
  const admin = (...args: string[]) => runBin(t, 'toolhost', ['tool', '--home-root', homeRoot, ...args], { env: adminEnv });
  const a = uniq('tsa');
  const b = uniq('tsb');
  t.teardown(async () => {
    await admin('delete', a, '--remove-home');
    await admin('delete', b, '--remove-home');
    // the runtime directory of a job whose node was killed under it
    for (const d of readdirSync('/tmp')) if (d.startsWith(`toolhost-${a}-`) || d.startsWith(`toolhost-${b}-`)) rmSync(path.join('/tmp', d), { recursive: true, force: true });
  });
  for (const name of [a, b]) {
    const made = await admin('create', name);
    if (made.code !== 0) throw new Error(made.stderr);
  }
  const registrarUrl = (await admin('registrar-user')).stdout.trim();
  const proxyUser = (await admin('proxy-user')).stdout.trim();

  const cluster = await startSlurmCluster(t, net, nodeNames.map((n) => net.host(n)), { slurmdTimeout: 5 });
  // each web node: its registrar, in a socket directory the settings name by the node's name
  const regRoot = mkdtempSync('/tmp/thsreg-');
  chmodSync(regRoot, 0o755);
  t.teardown(() => rmSync(regRoot, { recursive: true, force: true }));
  const registrars = await Promise.all(
    cluster.nodes.map((n) => startRegistrar(t, registrarUrl, homeRoot, { leaseSeconds: 1.5, node: n.name, address: n.host.address, run: n.host.run, socketDir: path.join(regRoot, n.name), stateDir: path.join(base, `registrar-${n.name}`) })),
  );
  t.teardown(() => {
    if (!t.passing()) {
      for (const r of registrars) t.comment(`${r.node}: ${r.log().slice(-3000)}`);
      t.comment(`slurmctld: ${cluster.log().slice(-4000)}`);
    }
  });
  const proxy = await startProxyOn(t, net.host('proxy'), proxyUser, net.cidr);
  const settingsFile = path.join(base, 'slurm.json');
  writeFileSync(settingsFile, JSON.stringify({ partition: cluster.partition, slurmConf: cluster.conf, nodeRegistrarDir: path.join(regRoot, '%n') }));
  const r = new Redis(redis.adminUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  t.teardown(() => r.disconnect());
  await r.connect();
  return {
    settingsFile,
    env: { TOOLHOST_SLURM_SETTINGS: settingsFile, TOOLHOST_RUNTIME_DIR: path.join(base, 'run'), TOOLHOST_STATE_DIR: path.join(base, 'state'), TOOLHOST_REGISTRAR_DIR: path.join(base, 'no-registrar-here') },
    homeRoot,
    a,
    b,
    uid: (tool) => Number(execFileSync('id', ['-u', `tools.${tool}`], { encoding: 'utf8' }).trim()),
    proxyUrl: proxy.url,
    redis: r,
    cluster,
    nodeAddress: new Map(cluster.nodes.map((n) => [n.name, n.host.address])),
    proxyRoutes: () => proxy.routes(),
    registrarDirs: new Map(registrars.map((r) => [r.node, r.dir])),
  };
}

