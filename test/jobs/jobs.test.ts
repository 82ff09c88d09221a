// Jobs as a maintainer drives them (#12): the real `toolhost jobs` executable, real processes,
// real Redis, the real registrar, supervisor and monitor, real lighttpd for a published job.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { HostMonitor } from '../../src/webservice/index.js';
import { readScheduleState } from '../../src/jobs/index.js';
import { freePort, killProcessesOf, lighttpdBinary, makeToolHome, runBin, startProxy, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';


interface Record {
  status: string;
  pid: number | null;
  exitCode: number | null;
  attempt: number;
  attempts: number;
  restarts: number;
  runId: string;
  finishedAt: number | null;
  message: string;
}

async function rig(t: Test, name = 'bots', files: Readonly<globalThis.Record<string, string>> = {}) {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const tool = makeToolHome(t, name, files);
  const homes = path.dirname(tool.home);
  const registrar = await startRegistrar(t, redis.url, homes);
  const runtime = path.join(workDir(t), 'runtime');
  const stateDir = path.join(workDir(t), 'state');
  const env: globalThis.Record<string, string> = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtime, TOOLHOST_STATE_DIR: stateDir };
  const jobs = (...args: string[]) => runBin(t, 'toolhost', ['jobs', '--tool', name, '--home', tool.home, ...args], { env, cwd: '/' });
  const record = (job: string): Record | null => {
    try {
      return JSON.parse(readFileSync(path.join(runtime, name, 'jobs', `${job}.json`), 'utf8')) as Record;
    } catch {
      return null;
    }
  };
  const script = (file: string, text: string) => {
    writeFileSync(path.join(tool.home, file), text, { mode: 0o755 });
  };
  const alive = (pid: number | null | undefined) => {
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  t.teardown(() => jobs('flush'));
  return { redis, tool, homes, registrar, runtime, stateDir, env, jobs, record, script, alive, name };
}

t.test('a one-off job runs at once in the home, --wait exits with its outcome, output appended to ~/NAME.out and ~/NAME.err', async (t) => {
  const r = await rig(t);
  r.script('hello.sh', '#!/bin/sh\necho "out from $JOB_NAME in $(pwd)"\necho "err line" >&2\nexit ${1:-0}\n');
  const ok = await r.jobs('run', 'hello', '--command', './hello.sh', '--wait');
  t.equal(ok.code, 0, ok.stderr);
  t.equal(readFileSync(path.join(r.tool.home, 'hello.out'), 'utf8'), `out from hello in ${r.tool.home}\n`);
  t.equal(readFileSync(path.join(r.tool.home, 'hello.err'), 'utf8'), 'err line\n');
  const fail = await r.jobs('run', 'broken', '--command', './hello.sh 3', '--wait');
  t.equal(fail.code, 1);
  t.match(fail.stderr, /toolhost: job "broken" failed \(exit code 3\); see its output with: toolhost jobs logs broken \[TH_ERR_JOB_FAILED\]\n$/);
  // the records stay until the next run or a delete (Toolforge forgot them after seconds)
  const list = await r.jobs('list');
  t.match(list.stdout, /^Job name: +Job type: +Status:\n-+ +-+ +-+\nhello +normal +Completed\nbroken +normal +Failed \(exit code 3\)\n$/);
  t.equal((await r.jobs('delete', 'hello')).code, 0);
  t.equal((await r.jobs('run', 'hello', '--command', './hello.sh', '--wait')).code, 0, 'the same name again, after a delete');
  t.equal(readFileSync(path.join(r.tool.home, 'hello.out'), 'utf8').split('\n').filter(Boolean).length, 2, 'appended, not replaced');
  const again = await r.jobs('run', 'hello', '--command', './hello.sh');
  t.equal(again.code, 2);
  t.match(again.stderr, /a job named "hello" already exists; delete it first .*\[TH_ERR_JOB_EXISTS\]/);
});

t.test('--retry reruns a failure; --timeout ends a run and its whole process group, recorded as timed out', async (t) => {
  const r = await rig(t);
  r.script('flaky.sh', '#!/bin/sh\nn=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n[ $n -ge 3 ]\n');
  const flaky = await r.jobs('run', 'flaky', '--command', './flaky.sh', '--retry', '2', '--wait');
  t.equal(flaky.code, 0, flaky.stderr);
  t.match(r.record('flaky'), { status: 'succeeded', attempt: 3, attempts: 3 });
  r.script('slow.sh', '#!/bin/sh\nsleep 300 &\necho $! > child.pid\nwait\n');
  const started = Date.now();
  const slow = await r.jobs('run', 'slow', '--command', './slow.sh', '--timeout', '1', '--wait');
  t.equal(slow.code, 1);
  t.match(slow.stderr, /job "slow" timed out/);
  t.ok(Date.now() - started < 15_000);
  t.match(r.record('slow'), { status: 'timed-out', message: /ran longer than its timeout of 1 s/ });
  const child = Number(readFileSync(path.join(r.tool.home, 'child.pid'), 'utf8'));
  await waitFor(() => !r.alive(child), 5000, 'the script\'s own child to be gone too');
  t.match((await r.jobs('list')).stdout, /slow +normal +Timed out/);
  const bad = await r.jobs('run', 'tooslow', '--command', 'true', '--retry', '9');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /the job is not valid: retry must be 0 to 5.*\[TH_ERR_JOB_INVALID\]/);
});

t.test('file logs: -o/-e anywhere in the home, --no-filelog keeps the output for `jobs logs`, a missing directory fails with exit code 2', async (t) => {
  const r = await rig(t, 'logger', { 'logs/.keep': '' });
  r.script('talk.sh', '#!/bin/sh\necho one\necho two >&2\necho three\n');
  t.equal((await r.jobs('run', 'merged', '--command', './talk.sh', '-o', 'logs/both.log', '-e', 'logs/both.log', '--wait')).code, 0);
  t.same(readFileSync(path.join(r.tool.home, 'logs', 'both.log'), 'utf8').split('\n').filter(Boolean).sort(), ['one', 'three', 'two']);
  t.equal((await r.jobs('run', 'quiet', '--command', './talk.sh', '--no-filelog', '--wait')).code, 0);
  t.notOk(existsSync(path.join(r.tool.home, 'quiet.out')), 'no file in the home');
  const logs = await r.jobs('logs', 'quiet', '-l', '2');
  t.same(logs.stdout.split('\n').filter(Boolean).length, 2);
  t.match((await r.jobs('logs', 'quiet')).stdout, /one\n[\s\S]*three\n/);
  const nodir = await r.jobs('run', 'nodir', '--command', './talk.sh', '-o', 'missing/out.log', '--wait');
  t.equal(nodir.code, 1);
  t.match(r.record('nodir'), { status: 'failed', exitCode: 2, message: /cannot open the log file .*missing\/out\.log: ENOENT/ });
});

t.test('a continuous job is restarted whenever it ends, restarted on request, and gone with delete', async (t) => {
  const r = await rig(t);
  r.script('bot.sh', '#!/bin/sh\nwhile true; do date +%s; sleep 0.2; done\n');
  const run = await r.jobs('run', 'bot', '--command', './bot.sh', '--continuous', '--image', 'bullseye');
  t.equal(run.code, 0, run.stderr);
  t.match(run.stderr, /--image bullseye is recorded; toolhost runs jobs on this host, there are no container images/);
  await waitFor(() => r.record('bot')?.status === 'running', 10_000, 'the job running');
  const first = r.record('bot')?.pid as number;
  t.match((await r.jobs('list')).stdout, /bot +continuous +Running/);
  process.kill(-first, 'SIGKILL');
  const killed = Date.now();
  await waitFor(() => r.record('bot')?.status === 'running' && r.record('bot')?.pid !== first, 5000, 'running again');
  t.comment(`continuous job SIGKILLed -> running again: ${Date.now() - killed} ms`);
  t.equal(r.record('bot')?.restarts, 1);
  const second = r.record('bot')?.pid as number;
  t.equal((await r.jobs('restart', 'bot')).code, 0);
  await waitFor(() => r.record('bot')?.pid !== second && r.record('bot')?.status === 'running', 10_000, 'the restart');
  t.notOk(r.alive(second), 'stop-first: the old process is gone before the new one runs');
  const third = r.record('bot')?.pid as number;
  t.equal((await r.jobs('delete', 'bot')).code, 0);
  await waitFor(() => !r.alive(third), 5000, 'the job stopped');
  t.equal(r.record('bot'), null, 'and its record gone');
  t.match(readFileSync(path.join(r.tool.home, 'service.log'), 'utf8'), /supervisor: nothing left to run; exiting/);
});

t.test('a continuous job\'s health check: running only once it passes at startup; failing liveness checks restart it', async (t) => {
  const r = await rig(t);
  // a fast liveness period for the test (Toolforge's is 10 s)
  r.env.TOOLHOST_LIVENESS_MS = '300';
  r.script('beat.sh', '#!/bin/sh\nsleep 1.5\nwhile [ ! -e stop-beating ]; do touch alive; sleep 0.1; done\nsleep 1000\n');
  const run = await r.jobs('run', 'beat', '--command', './beat.sh', '--continuous', '--health-check-script', 'test -e alive && rm alive');
  t.equal(run.code, 0, run.stderr);
  await waitFor(() => r.record('beat') !== null, 5000, 'the record');
  t.equal(r.record('beat')?.status, 'starting', 'not running before the first check passes');
  await waitFor(() => r.record('beat')?.status === 'running', 10_000, 'healthy and running');
  const first = r.record('beat')?.pid as number;
  writeFileSync(path.join(r.tool.home, 'stop-beating'), '');
  await waitFor(() => r.record('beat')?.pid !== first, 10_000, 'a restart after failed liveness checks');
  t.match(readFileSync(path.join(r.tool.home, 'service.log'), 'utf8'), /job beat: the job failed 3 liveness checks in a row; restarting it/);
  t.match((await r.jobs('show', 'beat')).stdout, /\| Health check: +\| test -e alive && rm alive +\|/);
  const noCheck = await r.jobs('run', 'once', '--command', 'true', '--health-check-script', 'true');
  t.equal(noCheck.code, 2);
  t.match(noCheck.stderr, /You can only configure a health-check for a continuous job\./);
});

t.test('a continuous job with --port and --publish is the tool\'s web server: real lighttpd, served through the proxy', async (t) => {
  const r = await rig(t, 'webjob', { 'public_html/index.html': 'served by a job' });
  const port = await freePort();
  writeFileSync(
    path.join(r.tool.home, 'lighttpd.conf'),
    ['server.modules = ("mod_alias")', `server.document-root = "${r.tool.home}/public_html"`, `server.port = ${port}`, 'server.bind = "127.0.0.1"', 'index-file.names = ("index.html")', `alias.url = ("/webjob/" => "${r.tool.home}/public_html/")`, ''].join('\n'),
  );
  const proxy = await startProxy(t, r.redis.url);
  const run = await r.jobs('run', 'web', '--command', `${lighttpdBinary()} -D -f lighttpd.conf`, '--continuous', '--port', String(port), '--publish');
  t.equal(run.code, 0, run.stderr);
  await waitFor(() => proxy.proxy.routeTable.get('webjob')?.backends.length === 1, 15_000, 'the route');
  t.equal(await (await fetch(`${proxy.url}/webjob/`)).text(), 'served by a job');
  t.equal((await r.jobs('delete', 'web')).code, 0);
  await waitFor(() => proxy.proxy.routeTable.get('webjob')?.backends.length !== 1, 5000, 'the route gone');
});

t.test('scheduled jobs: fired by the monitor within a second of their time, skipped while the last run goes on, missed ones recorded and not run late', async (t) => {
  const r = await rig(t);
  r.script('tick.sh', '#!/bin/sh\necho "tick at $(date -u +%H:%M:%S)"\nsleep ${1:-0}\n');
  t.equal((await r.jobs('run', 'ticker', '--command', './tick.sh 4', '--schedule', '*/5 * * * *')).code, 0);
  t.equal((await r.jobs('run', 'spread', '--command', './tick.sh', '--schedule', '@daily')).code, 0);
  const bad = await r.jobs('run', 'never', '--command', 'true', '--schedule', '61 * * * *');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /invalid schedule: .*Invalid value for minute: 61.*\[TH_ERR_JOB_SCHEDULE_INVALID\]/);
  const lines: string[] = [];
  const monitor = () => new HostMonitor({ homeRoot: r.homes, registrarDir: r.registrar.dir, stateDir: r.stateDir, env: r.env, log: (l) => lines.push(l) });
  const m = monitor();
  // the monitor's clock, from a known point: 12:03:30 UTC
  const base = Date.UTC(2026, 11, 1, 12, 3, 30);
  m.scan(base);
  t.equal(r.record('ticker'), null, 'nothing before its time');
  m.tick(new Date(Date.UTC(2026, 11, 1, 12, 5, 0, 400)));
  await waitFor(() => r.record('ticker')?.status === 'running', 5000, 'the 12:05 run');
  t.match(JSON.parse(readFileSync(path.join(r.runtime, r.name, 'jobs', 'ticker.json'), 'utf8')), { scheduledFor: '2026-12-01T12:05:00.000Z', trigger: 'schedule' });
  // the next time comes while that run still goes on
  m.tick(new Date(Date.UTC(2026, 11, 1, 12, 10, 0, 200)));
  const state = readScheduleState(r.stateDir, r.name);
  t.match(state?.jobs.ticker?.skipped.at(-1), { at: '2026-12-01T12:10:00.000Z', reason: /the previous run .* is still running/ });
  t.match((await r.jobs('show', 'ticker')).stdout, /Skipped the run of 2026-12-01T12:10:00Z: the previous run/);
  await waitFor(() => r.record('ticker')?.finishedAt !== null, 10_000, 'the run to end');
  t.match((await r.jobs('list')).stdout, /ticker +schedule: \*\/5 \* \* \* \* +Last schedule time: 2026-12-01T12:05:00Z/);
  // the monitor was down for an hour: a new one records what it missed and runs none of it late
  const m2 = monitor();
  m2.scan(Date.UTC(2026, 11, 1, 13, 7, 0));
  const after = readScheduleState(r.stateDir, r.name);
  t.ok((after?.jobs.ticker?.missed.length ?? 0) >= 10, `${after?.jobs.ticker?.missed.length} runs recorded as missed`);
  t.equal(r.record('ticker')?.runId, r.record('ticker')?.runId, 'no late run started');
  t.match(JSON.parse(readFileSync(path.join(r.runtime, r.name, 'jobs', 'ticker.json'), 'utf8')), { scheduledFor: '2026-12-01T12:05:00.000Z' });
  // @daily is a fixed time of this tool and job, not midnight
  t.match(after?.jobs.spread?.cron, /^\d{1,2} \d{1,2} \* \* \*$/);
  t.not(after?.jobs.spread?.cron, '0 0 * * *');
  // restart runs it now
  t.equal((await r.jobs('restart', 'spread')).code, 0);
  // its output, not its record: a record of an earlier run of it may already say finished
  const out = () => (existsSync(path.join(r.tool.home, 'spread.out')) ? readFileSync(path.join(r.tool.home, 'spread.out'), 'utf8') : '');
  await waitFor(() => out() !== '', 10_000, 'the run now').catch(() => undefined);
  t.match(out(), /^tick at /);
});

t.test('dump | load round-trips; a Toolforge jobs.yaml with every key loads; load replaces, keeps and flushes as Toolforge does', async (t) => {
  const r = await rig(t, 'loader', { 'mycommand.sh': '#!/bin/sh\necho ran\n', 'logs/.keep': '' });
  execFileSync('chmod', ['+x', path.join(r.tool.home, 'mycommand.sh')]);
  // seed 001's example file, as maintainers keep it in their repositories
  const yaml = `# https://wikitech.wikimedia.org/wiki/Help:Toolforge/Jobs_framework
---
# a cronjob
- name: hourly
  command: ./mycommand.sh -v
  image: bullseye
  no-filelog: true
  schedule: "@hourly"
  emails: onfailure
# a continuous job
- name: endlessjob
  image: python3.11
  command: sleep 1000
  continuous: true
  emails: all
# wait for this one-off job before loading the next
- name: myjob
  image: bullseye
  command: ./mycommand.sh --argument1
  wait: true
  emails: onfinish
- name: anotherjob
  image: bullseye
  command: ./mycommand.sh --argument1
  emails: none
- name: normal-job-with-custom-logs
  image: bullseye
  command: ./mycommand.sh --argument1
  filelog-stdout: logs/stdout.log
  filelog-stderr: logs/stderr.log
- name: normal-job-with-custom-retry-policy
  image: bullseye
  command: ./mycommand.sh --argument1
  retry: 2
- name: normal-job-with-higher-memory-limit
  image: bullseye
  command: ./mycommand.sh --argument1
  mem: 500Mi
- name: job-with-healthcheck-script
  image: bullseye
  command: sleep 1000
  continuous: true
  health-check-script: "true"
`;
  writeFileSync(path.join(r.tool.home, 'jobs.yaml'), yaml);
  const loaded = await r.jobs('load', path.join(r.tool.home, 'jobs.yaml'));
  t.equal(loaded.code, 0, loaded.stderr);
  t.match(loaded.stderr, /^created: hourly, endlessjob, myjob, anotherjob, normal-job-with-custom-logs, normal-job-with-custom-retry-policy, normal-job-with-higher-memory-limit, job-with-healthcheck-script\n$/);
  t.equal(r.record('myjob')?.status, 'succeeded', 'wait: true was waited for');
  const dump = await r.jobs('dump');
  writeFileSync(path.join(r.tool.home, 'dumped.yaml'), dump.stdout);
  const again = await r.jobs('load', path.join(r.tool.home, 'dumped.yaml'));
  t.equal(again.code, 0, again.stderr);
  t.match(again.stderr, /^unchanged: hourly, endlessjob, myjob, anotherjob/, 'dump | load changes nothing');
  t.equal((await r.jobs('dump')).stdout, dump.stdout);
  // one job changed, one left out: replaced and flushed
  const endless = r.record('endlessjob')?.pid;
  writeFileSync(path.join(r.tool.home, 'fewer.yaml'), '- name: hourly\n  command: ./mycommand.sh -v -v\n  schedule: "@hourly"\n- name: endlessjob\n  image: python3.11\n  command: sleep 1000\n  continuous: true\n  emails: all\n');
  const fewer = await r.jobs('load', path.join(r.tool.home, 'fewer.yaml'));
  t.match(fewer.stderr, /replaced \(their definition changed\): hourly\nunchanged: endlessjob\ndeleted \(not in the file\): myjob, anotherjob/);
  t.equal(r.record('endlessjob')?.pid, endless, 'an unchanged continuous job goes on running');
  const only = await r.jobs('load', path.join(r.tool.home, 'jobs.yaml'), '--job', 'anotherjob');
  t.match(only.stderr, /^created: anotherjob\n$/);
  writeFileSync(path.join(r.tool.home, 'broken.yaml'), '- name: Bad_Name\n  command: x\n');
  const broken = await r.jobs('load', path.join(r.tool.home, 'broken.yaml'));
  t.equal(broken.code, 2);
  t.match(broken.stderr, /cannot load .*broken\.yaml: job "Bad_Name": invalid job name "Bad_Name".*\[TH_ERR_JOB_LOAD_INVALID\]/);
  t.equal((await r.jobs('flush')).code, 0);
  t.equal((await r.jobs('list')).stderr, 'No jobs defined. Define one with: toolhost jobs run NAME --command "./script.sh"\n');
  t.notOk(existsSync(path.join(r.tool.home, 'jobs.manifest')));
});

t.test('the grid\'s jsub, jstart, job, qstat and jstop run seed 000\'s examples as written', async (t) => {
  const r = await rig(t, 'grid', { 'mybot.py': 'import sys\nprint("mybot", sys.argv[1:])\n' });
  const g = (cmd: 'jsub' | 'jstart' | 'jstop' | 'job' | 'qstat', ...args: string[]) => runBin(t, cmd as 'toolhost', args, { env: { ...r.env, TOOLHOST_TOOL: r.name, TOOLHOST_HOME: r.tool.home }, cwd: r.tool.home });
  const sub = await g('jsub', 'python3', 'mybot.py', '-arg1', "'^(foo|bar)$'");
  t.equal(sub.code, 0, sub.stderr);
  t.match(sub.stdout, /^Your job \d+ \("python3"\) has been submitted\n$/);
  await waitFor(() => existsSync(path.join(r.tool.home, 'python3.out')) && readFileSync(path.join(r.tool.home, 'python3.out'), 'utf8').length > 0, 10_000, 'the output');
  t.equal(readFileSync(path.join(r.tool.home, 'python3.out'), 'utf8'), "mybot ['-arg1', '^(foo|bar)$']\n", 'one layer of quotes stripped, as qsub did');
  const sync = await g('jsub', '-sync', 'y', '-N', 'Sync_Job', '-mem', '350m', 'python3', 'mybot.py');
  t.equal(sync.code, 0, sync.stderr);
  t.match(readFileSync(path.join(r.tool.home, 'Sync_Job.out'), 'utf8'), /mybot/);
  t.match((await r.jobs('show', 'sync-job')).stdout, /\| Resources: +\| mem: 350Mi +\|/);
  const start = await g('jstart', '-l', 'h_vmem=256M', '-N', 'script_wui', 'sleep', '1000');
  t.match(start.stdout, /^Your job (\d+) \("script_wui"\) has been submitted\n$/);
  const id = /job (\d+)/.exec(start.stdout)?.[1];
  await waitFor(() => r.record('script-wui')?.status === 'running', 10_000, 'running');
  const job = await g('job', '-v', 'script_wui');
  t.match(job.stdout, new RegExp(`^Job 'script_wui' has been running since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d as id ${id}\\n$`));
  t.equal((await g('job', 'script_wui')).stdout, `${id}\n`);
  const qstat = await g('qstat');
  t.match(qstat.stdout, new RegExp(`^job-ID +prior +name +user +state +submit/start at +queue +slots ja-task-ID\\n-+\\n${id} +0\\.50000 script-wui tools\\.grid +r +\\d\\d/\\d\\d/\\d{4} \\d\\d:\\d\\d:\\d\\d continuous +1\\n$`));
  const once = await g('jstart', '-N', 'script_wui', 'sleep', '1000');
  t.equal(once.code, 1);
  t.match(once.stderr, /There is a job named 'script_wui' already active\./);
  t.match(readFileSync(path.join(r.tool.home, 'script_wui.err'), 'utf8'), /jsub -once: job "script_wui" is already running; not started again/);
  const stop = await g('jstop', 'script_wui');
  t.equal(stop.stdout, "Job 'script_wui' has been stopped.\n");
  t.equal((await g('job', '-v', 'script_wui')).stdout, "Job 'script_wui' is not running\n");
  const stdin = await g('jsub', '-i', 'input.txt', 'cat');
  t.equal(stdin.code, 2);
  t.match(stdin.stderr, /jsub: -i is not supported: jobs have no standard input/);
});

t.test('a job\'s name follows Toolforge\'s rule; unknown jobs and --wait running out explain themselves', async (t) => {
  const r = await rig(t);
  const bad = await r.jobs('run', 'Bad_Name', '--command', 'true');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /invalid job name "Bad_Name": use 1 to 52 lower-case letters, digits, "\." and "-".*\[TH_ERR_JOB_NAME_INVALID\]/);
  t.equal((await r.jobs('run', 'a'.repeat(53), '--command', 'true')).code, 2);
  t.equal((await r.jobs('run', 'ok.name-1', '--command', 'true', '--wait')).code, 0);
  const unknown = await r.jobs('show', 'nope');
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /there is no job named "nope"; see your jobs with: toolhost jobs list \[TH_ERR_JOB_UNKNOWN\]/);
  const waitLong = await r.jobs('run', 'sleepy', '--command', 'sleep 10', '--wait', '1');
  t.equal(waitLong.code, 1);
  t.match(waitLong.stderr, /job "sleepy" did not finish within 1 s; it goes on running .*\[TH_ERR_JOB_WAIT_TIMEOUT\]/);
});

t.test('a tool\'s own web server submits jobs (seed 000: "submit jobs from … a web service")', async (t) => {
  const r = await rig(t, 'submitter');
  const bin = path.resolve('bin', 'toolhost');
  r.script(
    'server.cjs',
    `const { execFile } = require('child_process');
const port = Number(process.argv.at(-1));
require('http').createServer((req, res) => {
  // the supervisor's readiness and liveness probes ask for /
  if (!req.url.endsWith('/submit')) return res.end('up');
  execFile(${JSON.stringify(bin)}, ['jobs', 'run', 'fromweb', '--command', 'echo submitted by the web server', '--wait'], (err, out, errout) => res.end(err ? 'failed: ' + errout : 'ok'));
}).listen(port, '127.0.0.1');
`,
  );
  const ws = await runBin(t, 'webservice', ['--tool', 'submitter', '--home', r.tool.home, 'generic', 'start', '--', process.execPath, path.join(r.tool.home, 'server.cjs')], { env: r.env });
  t.equal(ws.code, 0, ws.stderr);
  t.teardown(() => runBin(t, 'webservice', ['--tool', 'submitter', '--home', r.tool.home, 'stop'], { env: r.env }));
  const state = JSON.parse(readFileSync(path.join(r.runtime, 'submitter', 'state.json'), 'utf8')) as { url: string };
  t.equal(await (await fetch(`${state.url}/submit`)).text(), 'ok');
  t.equal(readFileSync(path.join(r.tool.home, 'fromweb.out'), 'utf8'), 'submitted by the web server\n');
});
