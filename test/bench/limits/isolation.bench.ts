// Isolation under load (#13): another tool's web server, idle host vs. a tool running 4 busy
// processes and a fork bomb — once inside the cgroup toolhost gives a job (1 CPU, 256 processes,
// under the tool's quota) and once with no limits at all, side by side in one run. The figure
// is the web server's p99 against its idle p99 (target: at most 2× with the limits), and the
// bomb's process count. The tree is the registrar's own (CgroupTree); the server is a real HTTP
// server in a cgroup of its own; requests go to it directly (the proxy's own costs are in the
// proxy benchmarks). Needs root and a memory cgroup controller. Knobs: BENCH_REQUESTS (3000).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import { CgroupTree, DEFAULT_QUOTA, detectCgroups } from '../../../src/limits/index.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const MI = 1024 * 1024;
const mounts = detectCgroups();
if (process.getuid?.() !== 0 || !mounts) {
  console.log('skipped: needs root and a memory cgroup controller');
  process.exit(0);
}
const tree = new CgroupTree(mounts, `th-bench-${process.pid}`);
const children: ChildProcess[] = [];

/** a program started behind a pipe: placed in its cgroup (when given) before it runs anything */
async function gatedStart(script: string, unit: { tool: string; unit: string } | null): Promise<ChildProcess> {
  const child = spawn('/bin/sh', ['-c', `read _ && exec /bin/sh -c '${script}'`], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  children.push(child);
  await once(child, 'spawn');
  if (unit) tree.place(unit.tool, unit.unit, child.pid as number);
  child.stdin?.end('\n');
  return child;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

async function loop(port: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  agent.destroy();
  return times;
}

const HOG = "for i in 1 2 3 4; do (while :; do :; done) & done; for i in $(seq 1 2000); do sleep 120 & done; wait";

try {
  tree.ensureTool('web', DEFAULT_QUOTA);
  tree.ensureUnit('web', 'web', { memory: 512 * MI, cpu: 1000, pids: 256 });
  tree.ensureTool('hog', DEFAULT_QUOTA);
  const server = spawn(process.execPath, ['-e', "require('http').createServer((q, s) => s.end('x'.repeat(2048))).listen(0, '127.0.0.1', function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(server);
  const port = Number((await once(server.stdout as NodeJS.ReadableStream, 'data'))[0]);
  tree.place('web', 'web', server.pid as number);
  await loop(port); // warm up
  const idle = await loop(port);

  tree.ensureUnit('hog', 'run-burn', { memory: 512 * MI, cpu: 1000, pids: 256 });
  await gatedStart(HOG, { tool: 'hog', unit: 'run-burn' });
  await new Promise((r) => setTimeout(r, 2000));
  const limited = await loop(port);
  const pidsDir = mounts.mounts.pids ? `${mounts.mounts.pids}/th-bench-${process.pid}/hog/jobs/run-burn` : null;
  const peak = pidsDir ? readFileSync(`${pidsDir}/pids.peak`, 'utf8').trim() : 'n/a';
  const refused = pidsDir ? (/max (\d+)/.exec(readFileSync(`${pidsDir}/pids.events`, 'utf8'))?.[1] ?? '0') : 'n/a';
  await tree.kill('hog', 'run-burn');

  const loose = await gatedStart(HOG, null);
  await new Promise((r) => setTimeout(r, 2000));
  const unlimited = await loop(port);
  try {
    process.kill(-(loose.pid as number), 'SIGKILL');
  } catch {
    // gone
  }

  const row = (name: string, xs: number[]): string =>
    `| ${name} | ${percentile(xs, 50).toFixed(2)} | ${percentile(xs, 99).toFixed(2)} | ${(percentile(xs, 99) / percentile(idle, 99)).toFixed(2)}× |`;
  console.log(`${REQUESTS} sequential requests to another tool's HTTP server, in ms:\n`);
  console.log('| host | p50 | p99 | p99 vs idle |\n| --- | --- | --- | --- |');
  console.log(row('idle', idle));
  console.log(row('a tool runs 4 busy processes and a fork bomb, in its job cgroup (1 CPU, 256 processes)', limited));
  console.log(row('the same with no limits', unlimited));
  console.log(`\nThe fork bomb in its cgroup: at most ${peak} processes (limit 256); the kernel refused ${refused} forks.`);
} finally {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      c.kill('SIGKILL');
    }
  }
  await tree.removeAll();
}
