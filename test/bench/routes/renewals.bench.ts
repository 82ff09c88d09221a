// 3 000 tools renewing their routes on their normal schedule against one proxy (issue #11): how
// many route rebuilds the renewals cause (target 0), the proxy's CPU and Redis's commands per
// second, for the node leases toolhost uses now against the per-backend leases its supervisors
// renewed before, measured side by side in one run. Knobs: BENCH_TOOLS (3000),
// BENCH_RENEWAL_SECONDS (60), BENCH_NODES (3).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { RegistrarClient } from '../../../src/registrar/index.js';
import { RouteStore } from '../../../src/routes/index.js';
import { startRedisServer } from '../../../src/supervisor/index.js';
import { ROOT, nodeEnv, waitPort } from '../proxy/harness.js';

const TOOLS = Number(process.env.BENCH_TOOLS ?? 3000);
const SECONDS = Number(process.env.BENCH_RENEWAL_SECONDS ?? 60);
const NODES = Number(process.env.BENCH_NODES ?? 3);
const LEASE_S = 15;
const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-renew-'));
const children: ChildProcess[] = [];

function start(args: string[], readyLine?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'toolhost'), ...args], { env: nodeEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (readyLine && err.includes(readyLine)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`toolhost ${args[0]} exited (${code}): ${err}`)));
    if (!readyLine) resolve(child);
  });
}

/** user + system CPU seconds of a process so far */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

async function commands(r: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await r.info('stats'))?.[1]);
}

interface Measured {
  readonly rebuilds: number;
  readonly cpu: number;
  readonly commandsPerSecond: number;
  readonly routed: number;
}

/** a proxy on its own Redis with TOOLS routes, measured for SECONDS while `renew` runs */
async function measure(setup: (redis: Redis, redisUrl: string) => Promise<() => void>): Promise<Measured> {
  const server = await startRedisServer(path.join(work, `redis-${Date.now()}`));
  const r = new Redis(server.url);
  try {
    const stopRenewing = await setup(r, server.url);
    const port = await getPort({ host: '127.0.0.1' });
    const admin = await getPort({ host: '127.0.0.1' });
    const proxy = await start(['proxy', '--listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${admin}`, '--redis', server.url], 'listening on');
    await waitPort(admin);
    // settle: the first load, the first renewals
    await new Promise((res) => setTimeout(res, 3000));
    const rebuilds0 = await metric(admin, 'toolhost_proxy_route_rebuilds_total');
    const cpu0 = cpuSeconds(proxy.pid as number);
    const cmd0 = await commands(r);
    await new Promise((res) => setTimeout(res, SECONDS * 1000));
    const out: Measured = {
      rebuilds: (await metric(admin, 'toolhost_proxy_route_rebuilds_total')) - rebuilds0,
      cpu: cpuSeconds(proxy.pid as number) - cpu0,
      commandsPerSecond: ((await commands(r)) - cmd0) / SECONDS,
      routed: await metric(admin, 'toolhost_proxy_routes'),
    };
    stopRenewing();
    proxy.kill('SIGTERM');
    return out;
  } finally {
    r.disconnect();
    await server.stop();
  }
}

/** what supervisors did before the registrar: a lease field per backend, renewed every lease/3 */
async function perBackendLeases(r: Redis): Promise<() => void> {
  const store = new RouteStore(r);
  for (let i = 0; i < TOOLS; i++) await store.register(`tool${i}`, `host-${10000 + i}`, `http://127.0.0.1:${10000 + i}`, { leaseMs: LEASE_S * 1000, description: `Tool ${i}` });
  // each tool renews on its own timer, spread over the period as independent supervisors are
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < TOOLS; i++) {
    const first = setTimeout(() => {
      timers.push(setInterval(() => void store.renew(`tool${i}`, `host-${10000 + i}`, LEASE_S * 1000), (LEASE_S * 1000) / 3));
    }, Math.random() * (LEASE_S * 1000) / 3);
    timers.push(first);
  }
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}

/** toolhost now: NODES registrars, each holding TOOLS/NODES tools whose servers really listen */
async function nodeLeases(_r: Redis, redisUrl: string): Promise<() => void> {
  const perNode = Math.ceil(TOOLS / NODES);
  // one process listening on every tool's port (the registrar checks the kernel's socket table)
  const listener = spawn(process.execPath, ['-e', `const net=require('net');let n=${TOOLS},ports=[];for(let i=0;i<n;i++){const s=net.createServer(c=>c.end());s.listen(0,'127.0.0.1',()=>{ports.push(s.address().port);if(ports.length===n)console.log(JSON.stringify(ports))})}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(listener);
  let text = '';
  const ports = await new Promise<number[]>((resolve) => listener.stdout?.setEncoding('utf8').on('data', (d: string) => {
    text += d;
    if (text.endsWith('\n')) resolve(JSON.parse(text) as number[]);
  }));
  const dirs: string[] = [];
  for (let n = 0; n < NODES; n++) {
    const homes = path.join(work, `node${n}`);
    for (let i = n * perNode; i < Math.min(TOOLS, (n + 1) * perNode); i++) mkdirSync(path.join(homes, `tool${i}`), { recursive: true });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'thb-'));
    dirs.push(dir);
    await start(['registrar', '--redis', redisUrl, '--home-root', homes, '--socket-dir', dir, '--node', `web${n}`, '--lease', String(LEASE_S)], ' serving ');
  }
  for (let i = 0; i < TOOLS; i++) {
    const client = new RegistrarClient({ dir: dirs[Math.floor(i / perNode)] as string, tool: `tool${i}` });
    await client.connect(10_000);
    await client.register(ports[i] as number, `Tool ${i}`);
    client.close();
  }
  return () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
}

async function main(): Promise<void> {
  try {
    const before = await measure(perBackendLeases);
    const now = await measure(nodeLeases);
    const row = (what: string, m: Measured): string => `| ${what} | ${m.routed} | ${m.rebuilds} | ${m.cpu.toFixed(1)} s (${((m.cpu / SECONDS) * 100).toFixed(1)} % of a core) | ${m.commandsPerSecond.toFixed(0)} |`;
    process.stdout.write(
      [
        `${TOOLS} tools renewing ${LEASE_S} s leases every ${LEASE_S / 3} s, ${SECONDS} s measured, one proxy process:`,
        '',
        '| renewals by | routes | route rebuilds (target 0) | proxy CPU | Redis commands/s |',
        '| --- | --- | --- | --- | --- |',
        row(`node registrars (${NODES} nodes, one lease each)`, now),
        row('per-backend lease fields (the supervisors before #11)', before),
        '',
      ].join('\n'),
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
