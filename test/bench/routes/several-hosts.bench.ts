// 1 000 tools registered from 3 web nodes, two proxies on two other hosts, Redis on its own
// (issue #15). Every host is a network namespace with its own address (test/helpers/hosts.ts);
// the registrars, proxies and Redis are the real processes. Measured side by side in one run:
// each proxy's memory with an empty table and with every tool, and how long a new tool's route
// takes from its registration to being served by each proxy (and by both), with a near-empty
// table and with every tool. Knobs: BENCH_TOOLS (1000), BENCH_NODES (3), BENCH_CHANGES (200).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CgroupTree, detectCgroups } from '../../../src/limits/index.js';
import { RegistrarClient } from '../../../src/registrar/index.js';
import { createNetwork, type Host } from '../../helpers/hosts.js';
import { ROOT, nodeEnv } from '../proxy/harness.js';

const TOOLS = Number(process.env.BENCH_TOOLS ?? 1000);
const NODES = Number(process.env.BENCH_NODES ?? 3);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-hosts-'));
const cgroupRoot = `th-bench-${path.basename(work).slice(-6)}`;
const children: ChildProcess[] = [];
const socketDirs: string[] = [];

/** a command on a host; resolves once its stderr (or stdout) says `ready` */
function startOn(host: Host, command: string[], ready: string | null, stream: 'stderr' | 'stdout' = 'stderr'): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(host.run[0] as string, [...host.run.slice(1), ...command], { env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child[stream]?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (ready && out.includes(ready)) resolve({ child, output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited (${code}): ${out}`)));
    if (!ready) resolve({ child, output: () => out });
  });
}

const toolhost = (...args: string[]): string[] => [process.execPath, path.join(ROOT, 'bin', 'toolhost'), ...args];

function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

async function heapUsed(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return Number(/^toolhost_proxy_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

/** ms until GET url answers 200, polled as fast as the proxy answers */
async function until200(url: string, start: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - start;
    } catch {
      // not yet
    }
    if (performance.now() - start > 30_000) throw new Error(`${url} not served within 30 s`);
  }
}

async function main(): Promise<void> {
  const names = ['redis', 'proxy1', 'proxy2', ...Array.from({ length: NODES }, (_, i) => `node${i + 1}`)];
  const { network, remove } = createNetwork(names);
  try {
    const redisHost = network.host('redis');
    // no users: only the benchmark's own namespaces reach it (the test uses the guide's ACLs)
    writeFileSync(path.join(work, 'redis.conf'), `port 6379\nbind ${redisHost.address}\nprotected-mode no\nsave ""\nappendonly no\nnotify-keyspace-events Khg\ndir ${work}\n`);
    await startOn(redisHost, ['redis-server', path.join(work, 'redis.conf')], 'Ready to accept connections', 'stdout');
    const redisUrl = `redis://${redisHost.address}:6379`;

    // each node: one process listening on its tools' ports (and spares for the new tools) at
    // the node's address, and the registrar of its own tool homes
    const perNode = Math.ceil(TOOLS / NODES);
    const spares = Math.ceil((CHANGES * 2) / NODES);
    const nodes: { host: Host; ports: number[]; dir: string; next: number }[] = [];
    for (let n = 0; n < NODES; n++) {
      const host = network.host(`node${n + 1}`);
      const count = perNode + spares;
      const listener = await startOn(host, [process.execPath, '-e', `const http=require('http');let ports=[];for(let i=0;i<${count};i++){const s=http.createServer((q,r)=>r.end('ok'));s.listen(0,'${host.address}',()=>{ports.push(s.address().port);if(ports.length===${count})console.log(JSON.stringify(ports))})}`], ']', 'stdout');
      const ports = JSON.parse(listener.output()) as number[];
      const homes = path.join(work, `homes${n}`);
      const names: string[] = [];
      for (let i = n * perNode; i < Math.min(TOOLS, (n + 1) * perNode); i++) names.push(`tool${i}`);
      for (let c = n; c < CHANGES * 2; c += NODES) names.push(`new${c}`);
      for (const name of names) mkdirSync(path.join(homes, name), { recursive: true });
      const dir = mkdtempSync('/tmp/thbh-');
      socketDirs.push(dir);
      await startOn(host, toolhost('registrar', '--redis', redisUrl, '--home-root', homes, '--socket-dir', dir, '--node', host.name, '--address', host.address, '--state-dir', path.join(work, `state${n}`), '--cgroup-root', cgroupRoot), ' serving ');
      nodes.push({ host, ports, dir, next: 0 });
    }
    const register = async (tool: string, n: number): Promise<void> => {
      const node = nodes[n] as (typeof nodes)[0];
      const client = new RegistrarClient({ dir: node.dir, tool });
      await client.connect(10_000);
      await client.register(node.ports[node.next++] as number, tool);
      client.close();
    };

    const proxies: { url: string; admin: string; pid: number }[] = [];
    for (const name of ['proxy1', 'proxy2']) {
      const host = network.host(name);
      const started = await startOn(host, toolhost('proxy', '--listen', `${host.address}:8080`, '--admin-listen', `${host.address}:9090`, '--redis', redisUrl, '--backend-networks', network.cidr, '--rate-limit', '0', '--max-connections-per-ip', '0'), 'listening on');
      proxies.push({ url: `http://${host.address}:8080`, admin: `http://${host.address}:9090`, pid: started.child.pid ?? 0 });
    }
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 3000));
    const memory = async (): Promise<{ rss: number; heap: number }[]> => Promise.all(proxies.map(async (p) => ({ rss: rssBytes(p.pid), heap: await heapUsed(p.admin) })));

    /** new tools registered one after another, spread over the nodes; ms until each proxy serves it */
    let made = 0;
    interface Delays {
      /** registration asked → served, per proxy and by both */
      readonly each: number[];
      readonly both: number[];
      /** the registrar's answer (the route is written in Redis) → served by both */
      readonly propagated: number[];
    }
    const changes = async (count: number): Promise<Delays> => {
      const out: Delays = { each: [], both: [], propagated: [] };
      for (let i = 0; i < count; i++) {
        const c = made++;
        const start = performance.now();
        const reached = Promise.all(proxies.map((p) => until200(`${p.url}/new${c}/`, start)));
        await register(`new${c}`, c % NODES);
        const written = performance.now() - start;
        const ms = await reached;
        out.each.push(...ms);
        out.both.push(Math.max(...ms));
        out.propagated.push(Math.max(0, Math.max(...ms) - written));
      }
      return out;
    };

    await settle();
    const emptyMemory = await memory();
    const few = await changes(CHANGES / 2);
    for (let i = 0; i < TOOLS; i++) await register(`tool${i}`, Math.floor(i / perNode));
    for (;;) {
      const routed = await Promise.all(proxies.map(async (p) => Number(/^toolhost_proxy_routes (\S+)$/m.exec(await (await fetch(`${p.admin}/metrics`)).text())?.[1])));
      if (routed.every((r) => r >= TOOLS + CHANGES / 2)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await settle();
    const fullMemory = await memory();
    const many = await changes(CHANGES / 2);

    const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
    const ms = (x: number): string => x.toFixed(1);
    const row = (what: string, r: Delays): string =>
      `| ${what} | ${ms(quantile(r.each, 0.5))} / ${ms(quantile(r.each, 0.99))} ms | ${ms(quantile(r.both, 0.5))} / ${ms(quantile(r.both, 0.99))} ms | ${ms(quantile(r.propagated, 0.5))} / ${ms(quantile(r.propagated, 0.99))} ms |`;
    process.stdout.write(
      [
        `${TOOLS} tools registered through the registrars of ${NODES} web nodes; two proxies on two other hosts; Redis on its own host (each host a network namespace):`,
        '',
        '| proxy memory | proxy 1 RSS | proxy 2 RSS | proxy 1 heap used | proxy 2 heap used |',
        '| --- | --- | --- | --- | --- |',
        `| empty table | ${mb(emptyMemory[0]?.rss ?? 0)} MB | ${mb(emptyMemory[1]?.rss ?? 0)} MB | ${mb(emptyMemory[0]?.heap ?? 0)} MB | ${mb(emptyMemory[1]?.heap ?? 0)} MB |`,
        `| ${TOOLS + CHANGES / 2} tools | ${mb(fullMemory[0]?.rss ?? 0)} MB | ${mb(fullMemory[1]?.rss ?? 0)} MB | ${mb(fullMemory[0]?.heap ?? 0)} MB | ${mb(fullMemory[1]?.heap ?? 0)} MB |`,
        '',
        `A new tool registered on a web node, ${CHANGES / 2} one after another for each table size, until each proxy serves it (polled as fast as it answers); p50 / p99. The registration includes the registrar's check of the node's socket table; the route change is the registrar's answer (the route written in Redis) to both proxies serving it:`,
        '',
        '| table | registration → served, each proxy | registration → served by both | route change → served by both |',
        '| --- | --- | --- | --- |',
        row(`up to ${CHANGES / 2} tools`, few),
        row(`${TOOLS + CHANGES / 2} tools`, many),
        '',
        `Route change p99 across both proxies with ${TOOLS} tools / with few: ${(quantile(many.propagated, 0.99) / quantile(few.propagated, 0.99)).toFixed(2)}×; proxy heap with ${TOOLS} tools / empty: ${((fullMemory[0]?.heap ?? 0) / (emptyMemory[0]?.heap ?? 1)).toFixed(2)}× and ${((fullMemory[1]?.heap ?? 0) / (emptyMemory[1]?.heap ?? 1)).toFixed(2)}×.`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    remove();
    const mounts = detectCgroups();
    if (mounts) await new CgroupTree(mounts, cgroupRoot).removeAll();
    for (const d of socketDirs) rmSync(d, { recursive: true, force: true });
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
