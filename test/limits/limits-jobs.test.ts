// Limits and quotas of jobs (#13), as root with real tool accounts, the real registrar placing
// processes in real cgroups (version 1 on this kind of host), and the real executables: a job
// runs in its own cgroup with the limits it asked for; a job past its memory is killed by the
// kernel and reported as such; a fork bomb stops at its pids limit; the quota refuses a start
// in Toolforge's words.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/index.js';
import { MI, type Rec, rig, skip } from '../helpers/limits-rig.js';

t.test('a job runs in a cgroup of its own with the memory, CPU and processes it asked for; its runner among the tool\'s helpers', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const run = r.as(a, 'toolhost jobs run sleeper --command "sleep 300" --mem 100Mi --cpu 0.25');
  t.equal(run.status, 0, run.stderr);
  await waitFor(() => r.record(a, 'sleeper')?.status === 'running', 15_000, 'the job running');
  const rec = r.record(a, 'sleeper') as Rec;
  const pid = rec.pid as number;
  t.equal(r.cgroupOf(pid, 'memory'), `/${r.registrar.cgroupRoot}/${a}/jobs/run-sleeper`, 'the job\'s memory cgroup');
  t.equal(r.cgroupOf(pid, 'cpu'), `/${r.registrar.cgroupRoot}/${a}/jobs/run-sleeper`);
  t.equal(r.cgroupOf(pid, 'pids'), `/${r.registrar.cgroupRoot}/${a}/jobs/run-sleeper`);
  t.equal(r.cgroupOf(rec.runner?.pid as number, 'memory'), `/${r.registrar.cgroupRoot}/${a}/toolhost`, 'the runner is one of the tool\'s helpers');
  const unit = (c: 'memory' | 'cpu' | 'pids', file: string) => readFileSync(path.join(r.cgroup(c, a, 'jobs', 'run-sleeper'), file), 'utf8').trim();
  t.equal(unit('memory', 'memory.limit_in_bytes'), String(100 * MI));
  t.equal(unit('cpu', 'cpu.cfs_quota_us'), '25000');
  t.equal(unit('cpu', 'cpu.cfs_period_us'), '100000');
  t.equal(unit('pids', 'pids.max'), '256');
  t.equal(readFileSync(path.join(r.cgroup('memory', a, 'jobs'), 'memory.limit_in_bytes'), 'utf8').trim(), String(8 * 1024 * MI), 'the tool\'s jobs together: its memory quota');
  t.equal(readFileSync(path.join(r.cgroup('pids', a), 'pids.max'), 'utf8').trim(), '1024', 'every process of the tool: its pids quota');
  t.same(rec.limits, { memory: 100 * MI, cpu: 250, enforced: true, warning: null });
  const show = r.as(a, 'toolhost jobs show sleeper');
  t.match(show.stdout, /Limits:\s+\| memory 100Mi, cpu 0\.25 \(enforced by cgroups\)/);
  const del = r.as(a, 'toolhost jobs delete sleeper');
  t.equal(del.status, 0, del.stderr);
  await waitFor(() => !existsSync(r.cgroup('memory', a, 'jobs', 'run-sleeper')), 15_000, 'the unit\'s cgroup removed');
  t.pass('the unit\'s cgroup is gone with the job');
});

t.test('a job allocating past its --mem is killed by the kernel and reported as out of memory, in show, list and --wait', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const hog = r.as(a, `toolhost jobs run hog --command "python3 -c 'b = bytearray(400 * 1024 * 1024); print(len(b))'" --mem 64Mi --wait`);
  t.equal(hog.status, 1);
  t.match(hog.stderr, /job "hog" failed \(killed: out of memory \(limit 64Mi\); raise it with --mem\).*\[TH_ERR_JOB_FAILED\]/);
  const rec = r.record(a, 'hog') as Rec;
  t.same(rec.cause, { kind: 'oom', limit: 64 * MI, scope: 'unit' }, 'read from the cgroup\'s OOM count');
  t.match(r.as(a, 'toolhost jobs list').stdout, /hog\s+normal\s+Failed \(killed: out of memory \(limit 64Mi\); raise it with --mem\)/);
  t.match(r.as(a, 'toolhost jobs show hog').stdout, /killed: out of memory \(limit 64Mi\)/);
  // killed by a signal, not by memory: said differently
  const killed = r.as(a, 'toolhost jobs run selfkill --command "kill -9 \\$\\$" --wait');
  t.equal(killed.status, 1);
  t.match(killed.stderr, /failed \((killed by SIGKILL|exit code 137)\)/);
  t.notMatch(killed.stderr, /out of memory/);
});

t.test('the tool\'s quota refuses a start past its memory; a fork bomb stops at its pids limit and goes with its job', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  t.equal((await r.quota(a, '--memory', '96Mi', '--unit-pids', '20')).code, 0);
  t.equal(r.as(a, 'toolhost jobs run holder --command "sleep 300" --mem 64Mi').status, 0);
  await waitFor(() => r.record(a, 'holder')?.status === 'running', 15_000, 'holder running');
  const third = r.as(a, 'toolhost jobs run third --command "sleep 1" --mem 40Mi');
  t.equal(third.status, 1);
  t.match(third.stderr, /Unable to start, out of quota for memory: running jobs hold 64Mi of 96Mi and this one asks for 40Mi.*\[TH_ERR_QUOTA_EXCEEDED\]/);
  t.notMatch(r.as(a, 'toolhost jobs list').stdout, /third/, 'a refused job is not defined');
  // a fork bomb in a job of its own: at most 20 processes
  const bomb = r.as(a, 'toolhost jobs run bomb --command "for i in \\$(seq 1 200); do sleep 300 & done; wait" --mem 16Mi');
  t.equal(bomb.status, 0, bomb.stderr);
  const bombFile = (name: string) => readFileSync(path.join(r.cgroup('pids', a, 'jobs', 'run-bomb'), name), 'utf8');
  // the kernel counts the forks it refused at the limit in pids.events
  const refused = () => Number(/max (\d+)/.exec(bombFile('pids.events'))?.[1] ?? 0);
  await waitFor(() => existsSync(r.cgroup('pids', a, 'jobs', 'run-bomb')) && refused() > 0, 60_000, 'the kernel refusing the bomb\'s forks');
  t.ok(Number(bombFile('pids.peak')) <= 20, 'never more than its pids limit');
  await waitFor(() => /fork|Resource temporarily unavailable/i.test(readFileSync(path.join(r.homeOf(a), 'bomb.err'), 'utf8')), 15_000, 'fork refused');
  t.equal(r.as(a, 'toolhost jobs delete bomb').status, 0);
  await waitFor(() => !existsSync(r.cgroup('pids', a, 'jobs', 'run-bomb')), 15_000, 'the bomb gone with its cgroup');
  // killed processes linger a moment as zombies until init reaps them
  const sleeps = () => spawnSync('pgrep', ['-c', '-x', '-u', `tools.${a}`, 'sleep'], { encoding: 'utf8' }).stdout.trim();
  await waitFor(() => sleeps() === '1', 10_000, 'the bomb\'s processes gone').catch(() => undefined);
  t.equal(sleeps(), '1', 'none of its processes is left (only holder\'s sleep)');
});

t.test('per-job limits and definitions are refused in Toolforge\'s words; jobs quota shows use and limits', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const big = r.as(a, 'toolhost jobs run big --command "sleep 1" --mem 8Gi');
  t.equal(big.status, 1);
  t.match(big.stderr, /Unable to start, it asks for 8Gi of memory, more than the per-job limit of 4Gi.*\[TH_ERR_JOB_LIMIT_EXCEEDED\]/);
  const cpu = r.as(a, 'toolhost jobs run greedy --command "sleep 1" --cpu 3');
  t.match(cpu.stderr, /it asks for 3 CPU, more than the per-job limit of 1/);
  const bad = r.as(a, 'toolhost jobs run typo --command "sleep 1" --mem 512m');
  t.equal(bad.status, 2, 'a usage error');
  t.match(bad.stderr, /--mem: "512m" is 0\.512 bytes in this notation \(m is a thousandth\); did you mean 512Mi\?/);
  const lots = await r.quota(a, '--memory', 'lots');
  t.equal(lots.code, 2);
  t.match(lots.stderr, /invalid --memory: "lots" is not an amount of memory: write it as 512Mi, 1Gi or 2Gi \[TH_ERR_QUANTITY_INVALID\]/);
  t.equal((await r.quota(a, '--continuous', '1', '--cron', '1')).code, 0);
  t.equal(r.as(a, 'toolhost jobs run bot --command "sleep 300" --continuous --mem 128Mi').status, 0);
  const second = r.as(a, 'toolhost jobs run bot2 --command "sleep 300" --continuous');
  t.equal(second.status, 1);
  t.match(second.stderr, /Unable to define it, out of quota for continuous jobs \(including web services\): 2 of 1 defined.*\[TH_ERR_QUOTA_DEFINITIONS\]/);
  t.equal(r.as(a, 'toolhost jobs run cron1 --command "true" --schedule "@daily"').status, 0);
  t.match(r.as(a, 'toolhost jobs run cron2 --command "true" --schedule "@daily"').stderr, /out of quota for cron jobs: 2 of 1 defined/);
  await waitFor(() => r.record(a, 'bot')?.status === 'running', 15_000, 'bot running');
  const q = r.as(a, 'toolhost jobs quota');
  t.equal(q.status, 0, q.stderr);
  t.match(q.stdout, /Total running jobs at once \(web services included\)\s+1\s+10/);
  t.match(q.stdout, /Memory\s+128Mi\s+8Gi/);
  t.match(q.stdout, /CPU\s+0\.5\s+2/);
  t.match(q.stdout, /Cron jobs\s+1\s+1/);
  t.match(q.stdout, /Continuous jobs \(including web services\)\s+1\s+1/);
  t.match(q.stdout, /Enforced by the kernel: cgroup v1/);
  const shown = await r.quota(a);
  t.match(shown.stdout, /continuous defined\s+1/);
});
