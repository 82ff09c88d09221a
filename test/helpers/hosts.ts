// Several hosts on one machine (#15): each host a network namespace with its own address on a
// bridge the test makes, as a platform's web nodes, proxies and Redis hosts sit on one network.
// Traffic stays inside what the test made: the bridge, its veth pairs and the namespaces. The
// test process itself (root namespace) is on the bridge too, as a visitor would be.
//
// Names carry the test process's pid in base 36 (`th-<pid>-<n>-<host>`, `thb-<pid><n>`,
// `thv-<pid><n><i>`; an interface name has at most 15 characters): everything made
// is removed at teardown — first the processes inside each namespace, then the namespaces, the
// veth pairs and the bridge — and what a killed test run left behind (its pid gone) is swept the
// next time any test makes hosts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { startProcess, type ManagedProcess } from '../../src/supervisor/index.js';
import { BIN, outputOf, ROOT, userEnv, type RunResult } from './index.js';

export interface Host {
  readonly name: string;
  /** the namespace, for `nsenter --net=<netns>` */
  readonly netns: string;
  readonly address: string;
  /** the root-namespace end of its cable, a port of the bridge */
  readonly link: string;
  /** argv prefix that runs a command on this host */
  readonly run: readonly string[];
}

export interface Network {
  /** e.g. 10.214.37 (hosts are .11, .12, …; the test process is .1) */
  readonly subnet: string;
  readonly cidr: string;
  readonly hosts: ReadonlyMap<string, Host>;
  host(name: string): Host;
  /** cut the host off the network (its bridge port stops forwarding), or connect it again */
  cut(name: string): void;
  restore(name: string): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryIp(...args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore' });
}

function alive(pid: number): boolean {
  try {
    return /node|tap/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/** kill every process in a namespace (they were all started there by a test) */
function emptyNamespace(netns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  for (const pid of (r.stdout ?? '').split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** the test process that made a namespace, bridge or cable, from its name */
function ownerOf(name: string): number | null {
  const m = /^th-([0-9a-z]+)-[0-9a-z]-/.exec(name) ?? /^thb-([0-9a-z]+)[0-9a-z]$/.exec(name) ?? /^thv-([0-9a-z]+)[0-9a-z]{2}$/.exec(name);
  return m ? parseInt(m[1] ?? '', 36) : null;
}

/** what test runs that no longer exist left: their namespaces (and processes), cables and bridges */
function sweep(): void {
  const leftover = (name: string): boolean => {
    const pid = ownerOf(name);
    return pid !== null && pid !== process.pid && !alive(pid);
  };
  const netnsDir = '/run/netns';
  for (const ns of existsSync(netnsDir) ? readdirSync(netnsDir) : []) {
    if (!leftover(ns)) continue;
    emptyNamespace(ns);
    tryIp('netns', 'del', ns);
  }
  for (const link of readdirSync('/sys/class/net')) if (leftover(link)) tryIp('link', 'del', link);
}

let made = 0;

/** a /24 that no route of this machine covers yet */
function freeSubnet(): string {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250) + 1}`;
    if (!routes.includes(`${subnet}.`)) return subnet;
  }
}

/**
 * Hosts named in `names`, on one bridge, addresses .11, .12, … in order; `remove` takes away
 * every process in them, the namespaces, the cables and the bridge (benchmarks call it).
 */
export function createNetwork(names: readonly string[]): { network: Network; remove: () => void } {
  sweep();
  // pid in base 36 plus one character per network of this process: unique while the process lives
  const pid = process.pid.toString(36);
  const n = (made++ % 36).toString(36);
  const subnet = freeSubnet();
  const bridge = `thb-${pid}${n}`;
  const hosts = new Map<string, Host>();
  const remove = (): void => {
    for (const h of hosts.values()) emptyNamespace(h.netns);
    for (const h of hosts.values()) {
      tryIp('link', 'del', h.link);
      tryIp('netns', 'del', h.netns);
    }
    tryIp('link', 'del', bridge);
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    names.forEach((name, i) => {
      const netns = `th-${pid}-${n}-${name}`;
      const link = `thv-${pid}${n}${i.toString(36)}`;
      const address = `${subnet}.${11 + i}`;
      hosts.set(name, { name, netns, address, link, run: ['nsenter', `--net=/run/netns/${netns}`] });
      ip('netns', 'add', netns);
      ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
      ip('link', 'set', link, 'master', bridge, 'up');
      ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', netns, 'link', 'set', 'eth0', 'up');
      ip('-n', netns, 'link', 'set', 'lo', 'up');
    });
  } catch (err) {
    remove();
    throw err;
  }
  const host = (name: string): Host => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  };
  const network: Network = {
    subnet,
    cidr: `${subnet}.0/24`,
    hosts,
    host,
    // the bridge port stops forwarding, and the host's link stays up: as when a switch or a
    // cable further away fails, nothing tells the host's TCP that its peers are gone
    cut: (name) => void execFileSync('bridge', ['link', 'set', 'dev', host(name).link, 'state', '0']),
    restore: (name) => void execFileSync('bridge', ['link', 'set', 'dev', host(name).link, 'state', '3']),
  };
  return { network, remove };
}

/** createNetwork for a test: everything is removed at teardown, even when the test fails */
export function makeHosts(t: Test, names: readonly string[]): Network {
  const { network, remove } = createNetwork(names);
  t.teardown(remove);
  return network;
}

/** one of bin/ run on a host, as a user there runs it */
export function runOn(t: Test, host: Host, command: 'toolhost' | 'webservice', args: readonly string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const child = spawn(host.run[0] as string, [...host.run.slice(1), 'env', '-u', 'NODE_OPTIONS', path.join(BIN, command), ...args], { env: userEnv(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return outputOf(t, child);
}

export interface HostProxy {
  readonly url: string;
  readonly adminUrl: string;
  readonly process: ManagedProcess;
  /** tool -> the backend URLs it routes to now, from its admin listener */
  routes(): Promise<Map<string, string[]>>;
}

/**
 * The real `toolhost proxy` on a host: public and admin listeners on the host's address, the
 * route table from `redisUrl` (in the environment: it may carry a password), backends allowed
 * on `backendNetworks` only; no rate limit (the test is one client address).
 */
export async function startProxyOn(t: Test, host: Host, redisUrl: string, backendNetworks: string): Promise<HostProxy> {
  const url = `http://${host.address}:8080`;
  const adminUrl = `http://${host.address}:9090`;
  const proc = await startProcess({
    diesWithParent: true,
    command: host.run[0] as string,
    args: [...host.run.slice(1), 'env', '-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'proxy', '--listen', `${host.address}:8080`, '--admin-listen', `${host.address}:9090`, '--backend-networks', backendNetworks, '--rate-limit', '0'],
    env: userEnv({ TOOLHOST_REDIS_URL: redisUrl, TOOLHOST_CONFIG: undefined }),
    ready: async () => (await fetch(`${url}/.well-known/healthz`, { signal: AbortSignal.timeout(1000) })).status === 200,
    timeoutMs: 20_000,
  });
  t.teardown(() => proc.stop(5000));
  return {
    url,
    adminUrl,
    process: proc,
    routes: async () => {
      const body = (await (await fetch(`${adminUrl}/routes`)).json()) as { routes: { tool: string; backends: { url: string }[] }[] };
      return new Map(body.routes.filter((r) => r.backends.length).map((r) => [r.tool, r.backends.map((b) => b.url)]));
    },
  };
}
