// The Slurm backend (issue 15), side by side in one run on one platform (test/helpers/slurm.ts:
// Redis, a proxy and two web nodes, each a network namespace; munged, slurmctld and a slurmd per
// node; real tool accounts): `webservice start` → first 200 through the proxy with the local
// backend (run on a web node, as a maintainer logged in there would) and with `--backend slurm`
// (run where tools log in, the job lands on a node), BENCH_RUNS times each (default 5), medians;
// then once: a web node dies (slurmd, registrar and every process on it killed) → the tool served
// again from the other node, with SlurmdTimeout=5 s and cred_expire=10 s (what a production
// SlurmdTimeout gives is in docs/guides/run-on-several-hosts.md#slurm).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { runOn } from '../../helpers/hosts.js';
import { runBin } from '../../helpers/index.js';
import { slurmPlatform, slurmUnavailable } from '../../helpers/slurm.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** the part of tap's Test the helpers use: a directory and teardowns, run in reverse at the end */
function benchTest(): { t: Test; end: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-slurm-'));
  const teardowns: (() => unknown)[] = [];
  const t = { testdirName: dir, testdir: () => mkdirSync(dir, { recursive: true }), teardown: (fn: () => unknown) => void teardowns.push(fn), passing: () => true, comment: (...a: unknown[]) => console.error(...a) } as unknown as Test;
  return {
    t,
    end: async () => {
      for (const fn of teardowns.reverse()) {
        try {
          await fn();
        } catch (err) {
          console.error(`teardown: ${(err as Error).message}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function first200(url: string, since: number, deadlineMs = 60_000): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not yet
    }
    if (performance.now() - since > deadlineMs) throw new Error(`${url} not served within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const why = slurmUnavailable();
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  const { t, end } = benchTest();
  try {
    const rig = await slurmPlatform(t);
    const { a } = rig;
    const home = path.join(rig.homeRoot, a);
    const page = path.join(home, 'public_html', 'index.html');
    writeFileSync(page, 'bench');
    execFileSync('chown', [`tools.${a}:tools.${a}`, page]);
    const url = `${rig.proxyUrl}/${a}/`;
    const node = rig.cluster.nodes[0];
    if (!node) throw new Error('no node');
    const localEnv = { ...rig.env, TOOLHOST_REGISTRAR_DIR: rig.registrarDirs.get(node.name) as string, TOOLHOST_RUNTIME_DIR: path.join(os.tmpdir(), `thbs-run-${process.pid}`) };
    t.teardown(() => rmSync(localEnv.TOOLHOST_RUNTIME_DIR, { recursive: true, force: true }));
    const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', a, ...args], { env: rig.env });
    const local: number[] = [];
    const slurm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let since = performance.now();
      const l = await runOn(t, node.host, 'webservice', ['--tool', a, '--backend', 'local', 'start'], localEnv);
      if (l.code !== 0) throw new Error(`local start: ${l.stderr}`);
      local.push(await first200(url, since));
      await runOn(t, node.host, 'webservice', ['--tool', a, 'stop'], localEnv);
      since = performance.now();
      const s = await ws('--backend', 'slurm', 'start');
      if (s.code !== 0) throw new Error(`slurm start: ${s.stdout} ${s.stderr}`);
      slurm.push(await first200(url, since));
      await ws('stop');
    }
    // a node dies under the tool's webservice
    const s = await ws('--backend', 'slurm', 'start');
    const on = /Slurm job \d+ on (\S+)/.exec(s.stdout)?.[1] ?? '';
    await first200(url, performance.now());
    const killed = performance.now();
    rig.cluster.killNode(on);
    const back = await first200(url, killed, 300_000);
    const ms = (x: number): string => `${Math.round(x)} ms`;
    console.log(`| measure (median of ${RUNS}) | local backend | Slurm backend | ratio |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| \`webservice start\` → first 200 through the proxy | ${ms(median(local))} | ${ms(median(slurm))} | ${(median(slurm) / median(local)).toFixed(2)}× |`);
    console.log(`\nAll runs: local ${local.map(ms).join(', ')}; Slurm ${slurm.map(ms).join(', ')}.`);
    console.log(`\nA web node killed (slurmd, registrar and every process on it; SlurmdTimeout=${rig.cluster.slurmdTimeout} s, cred_expire=10 s): the tool served again from the other node after ${(back / 1000).toFixed(1)} s.`);
    await ws('stop');
  } finally {
    await end();
  }
}

await main();
