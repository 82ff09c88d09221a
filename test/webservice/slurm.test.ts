// The Slurm backend (issue 15) on a real cluster: munged, slurmctld and two slurmd, each web
// node a network namespace with its own address and hostname, running its registrar beside
// slurmd; Redis and the proxy on hosts of their own; tools made by `toolhost tool create` (real
// unix users). `webservice --backend slurm start` submits the tool's supervisor as a Slurm job
// under the tool's uid; the server registers the node's address; status shows Slurm's job id
// and node; stop cancels it and the route goes; another tool can neither cancel nor pass for it;
// a node that dies has its job requeued and the tool served again from the other node.
//   npx tap test/webservice/slurm.test.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBin, waitFor, workDir } from '../helpers/index.js';
import { asTool } from '../helpers/platform.js';
import { slurmPlatform, slurmUnavailable, type SlurmPlatform as Rig } from '../helpers/slurm.js';

const skip = slurmUnavailable();
if (skip) t.comment(`skipping the Slurm backend tests: ${skip}`);

const R: { rig: Rig | null } = { rig: null };
async function platform(): Promise<Rig> {
  R.rig ??= await slurmPlatform(t);
  return R.rig;
}

function page(rig: Rig, tool: string, text: string): void {
  const file = path.join(rig.homeRoot, tool, 'public_html', 'index.html');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  execFileSync('chown', [`tools.${tool}:tools.${tool}`, file]);
}

const ws = (rig: Rig, tool: string, ...args: string[]) => runBin(t, 'webservice', ['--tool', tool, ...args], { env: rig.env });

async function served(rig: Rig, tool: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`${rig.proxyUrl}/${tool}/`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

/** the tool's jobs as Slurm lists them: id, user, name, state, node, partition */
function squeue(rig: Rig): { id: number; user: string; name: string; state: string; node: string; partition: string }[] {
  return rig.cluster
    .run('squeue', ['-h', '-o', '%i|%u|%j|%T|%N|%P'])
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, user, name, state, node, partition] = l.split('|') as [string, string, string, string, string, string];
      return { id: Number(id), user, name, state, node, partition };
    });
}

/** the process listening on a port on a node, and its uid */
function listener(rig: Rig, node: string, port: number): { pid: number; uid: number } | null {
  const host = rig.cluster.nodes.find((n) => n.name === node)?.host;
  if (!host) return null;
  const out = spawnSync(host.run[0] as string, [...host.run.slice(1), 'ss', '-Hltnp', `sport = :${port}`], { encoding: 'utf8' }).stdout ?? '';
  const pid = Number(/pid=(\d+)/.exec(out)?.[1]);
  if (!pid) return null;
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { pid, uid };
}

t.test('webservice --backend slurm: start submits the supervised server as the tool\'s Slurm job in the partition, with --mem/--cpu; it registers the node\'s address and is served through the proxy; status shows the job and node; stop cancels it and the route goes', { skip }, async (t) => {
  const rig = await platform();
  const { a } = rig;
  page(rig, a, 'alpha on slurm');
  t.teardown(() => ws(rig, a, 'stop'));
  const started = await ws(rig, a, '--backend', 'slurm', '--mem', '256Mi', '--cpu', '1', 'start');
  t.equal(started.code, 0, `start: ${started.stdout} ${started.stderr}`);
  const m = /running as Slurm job (\d+) on (\S+) \(([\d.]+)\): (http:\/\/\S+);/.exec(started.stdout);
  t.ok(m, `start says the job, node and URL: ${started.stdout}`);
  const [, jobId = '', node = '', address = '', url = ''] = m ?? [];
  t.equal(address, rig.nodeAddress.get(node), 'the node\'s own address');
  t.equal(url.startsWith(`http://${address}:`), true, 'the server listens on the node\'s address');

  const job = squeue(rig).find((j) => j.id === Number(jobId));
  t.same(job && { user: job.user, name: job.name, state: job.state, partition: job.partition }, { user: `tools.${a}`, name: `toolhost-web-${a}`, state: 'RUNNING', partition: rig.cluster.partition }, 'Slurm runs it as the tool, named for the tool, in the operator\'s partition');
  const shown = rig.cluster.run('scontrol', ['show', 'job', '-o', jobId]);
  t.match(shown, /\bRequeue=1\b/, 'requeueable');
  t.match(shown, /\bNumCPUs=1\b/, '--cpu 1: one CPU');
  t.match(shown, /\bmem=256M\b/, '--mem 256Mi: 256M');
  t.match(readFileSync(path.join(rig.homeRoot, a, 'service.manifest'), 'utf8'), /backend: slurm/, 'the backend is remembered');

  const port = Number(url.split(':').pop());
  const server = listener(rig, node, port);
  t.equal(server?.uid, rig.uid(a), 'the server on the node runs as the tool\'s uid, not root');
  const backends = await rig.redis.hgetall(`prefix:${a}`);
  t.same(Object.entries(backends).filter(([k]) => k.startsWith('backend:')), [[`backend:${node}-${port}`, url]], 'registered by the node\'s registrar at node:port');
  await waitFor(async () => (await served(rig, a)).status === 200, 10_000, 'served through the proxy');
  t.same(await served(rig, a), { status: 200, body: 'alpha on slurm' }, 'served through the proxy');

  const status = await ws(rig, a, 'status');
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, new RegExp(`slurm job +${jobId}, RUNNING, partition ${rig.cluster.partition}`), 'status: Slurm\'s job id and state');
  t.match(status.stdout, new RegExp(`node +${node} \\(${address.replace(/\./g, '\\.')}\\)`), 'status: the node and its address');
  const json = JSON.parse((await ws(rig, a, 'status', '--json')).stdout) as { backend: string; state: string; url: string; slurm: { jobId: number; node: string } };
  t.same({ backend: json.backend, state: json.state, url: json.url, jobId: json.slurm.jobId, node: json.slurm.node }, { backend: 'slurm', state: 'running', url, jobId: Number(jobId), node }, 'status --json');

  // restart: the job's supervisor replaces its server in place (start-first), same job, new port
  const restarted = await ws(rig, a, 'restart');
  t.equal(restarted.code, 0, restarted.stdout + restarted.stderr);
  const newUrl = new RegExp(`running as Slurm job ${jobId} on ${node} \\([\\d.]+\\): (http://\\S+);`).exec(restarted.stdout)?.[1];
  t.ok(newUrl && newUrl !== url, `restart: the same Slurm job, a new server: ${restarted.stdout}`);
  t.same(await served(rig, a), { status: 200, body: 'alpha on slurm' }, 'served after the restart');
  const again = await ws(rig, a, 'start');
  t.match(again.stdout, new RegExp(`already running as Slurm job ${jobId}`), 'a second start finds the job (the backend from the manifest)');
  const local = await ws(rig, a, '--backend', 'local', 'start');
  t.equal(local.code, 2, 'a local start while it runs on Slurm is refused');
  t.match(local.stderr, /TH_ERR_BACKEND_MISMATCH/);

  const stopped = await ws(rig, a, 'stop');
  t.equal(stopped.code, 0, stopped.stderr);
  t.match(stopped.stdout, /stopped \(its Slurm job ended\)/);
  t.same(squeue(rig).filter((j) => j.id === Number(jobId)), [], 'the job is gone from the queue');
  await waitFor(async () => !(await rig.proxyRoutes()).has(a), 10_000, 'the route to leave the proxy');
  t.equal((await served(rig, a)).status, 503, 'the proxy says the webservice is not running');
  t.same(Object.keys(await rig.redis.hgetall(`prefix:${a}`)).filter((k) => k.startsWith('backend:')), [], 'no backend left in Redis');
  t.equal(listener(rig, node, Number(newUrl?.split(':').pop())), null, 'nothing listens on the port any more');
  t.notOk(existsSync(path.join(rig.homeRoot, a, 'service.manifest')), 'the manifest is removed');
  t.match((await ws(rig, a, 'status')).stdout, /not running/);
});

t.test('a hostile tool can neither cancel another tool\'s Slurm webservice nor pass for it: a job spoofing its name and comment is not the tool\'s, a foreign scancel and comment update are refused', { skip }, async (t) => {
  const rig = await platform();
  const { a, b } = rig;
  page(rig, a, 'alpha page');
  t.teardown(() => ws(rig, a, 'stop'));
  const started = await ws(rig, a, '--backend', 'slurm', 'start');
  t.equal(started.code, 0, started.stdout + started.stderr);
  const jobId = Number(/Slurm job (\d+)/.exec(started.stdout)?.[1]);
  const slurmAsB = (cmd: string) => asTool(b, `SLURM_CONF=${rig.cluster.conf} ${cmd}`);

  // b submits a job with a's webservice's name and a comment that claims a's server
  const spoof = slurmAsB(`sbatch --parsable --partition=${rig.cluster.partition} --mem=50M --job-name=toolhost-web-${a} --comment='running http://10.9.9.9:1 g99' -o /dev/null --wrap 'sleep 300'`);
  t.equal(spoof.status, 0, `b may submit any job of its own: ${spoof.stderr}`);
  const spoofId = Number(spoof.stdout.trim());
  t.teardown(() => void spawnSync('scancel', [String(spoofId)], { env: { ...process.env, SLURM_CONF: rig.cluster.conf } }));
  const json = JSON.parse((await ws(rig, a, 'status', '--json')).stdout) as { url: string; slurm: { jobId: number } };
  t.equal(json.slurm.jobId, jobId, 'a\'s status finds a\'s own job by a\'s uid, not b\'s job of the same name');
  t.notMatch(json.url, /10\.9\.9\.9/, 'and not the URL b\'s comment claims');

  const cancel = slurmAsB(`scancel ${jobId}`);
  t.match(cancel.stderr, /Access\/permission denied|Invalid user/i, `Slurm refuses b's scancel of a's job: ${cancel.stderr}`);
  const comment = slurmAsB(`scontrol update JobId=${jobId} Comment='running http://10.9.9.9:1 g99'`);
  t.not(comment.status, 0, 'and b\'s rewrite of its comment');
  t.ok(squeue(rig).some((j) => j.id === jobId && j.state === 'RUNNING'), 'a\'s job runs on');
  t.same(await served(rig, a), { status: 200, body: 'alpha page' }, 'a is still served');

  const asB = await runBin(t, 'webservice', ['--tool', a, '--home', path.join(rig.homeRoot, a), 'stop'], { env: rig.env, uid: rig.uid(b), gid: Number(execFileSync('id', ['-g', `tools.${b}`], { encoding: 'utf8' }).trim()) });
  t.match(asB.stderr, /TH_ERR_TOOL_NOT_YOURS/, 'b\'s webservice stop for a is refused before Slurm is asked');
  t.ok(squeue(rig).some((j) => j.id === jobId && j.state === 'RUNNING'), 'a\'s job runs on');

  const stop = await ws(rig, a, 'stop');
  t.equal(stop.code, 0, stop.stderr);
  t.ok(squeue(rig).some((j) => j.id === spoofId), 'a\'s stop cancelled a\'s job only, not b\'s job of the same name');
});

// no settings, an unknown partition, a job Slurm cannot place, a silent controller, no Slurm commands, a refused cancel
t.test('each Slurm failure is one line with its code; a job Slurm cannot start yet is reported queued, and why', { skip }, async (t) => {
  const rig = await platform();
  const { a } = rig;
  const errorOf = (r: { code: number | null; stderr: string }) => ({ code: r.code, error: /\[(TH_ERR_\w+)\]/.exec(r.stderr)?.[1], lines: r.stderr.trim().split('\n').filter((l) => l.includes('TH_ERR')).length });
  const noSettings = await runBin(t, 'webservice', ['--tool', a, '--backend', 'slurm', 'start'], { env: { ...rig.env, TOOLHOST_SLURM_SETTINGS: path.join(workDir(t), 'none.json') } });
  t.same(errorOf(noSettings), { code: 1, error: 'TH_ERR_SLURM_NOT_CONFIGURED', lines: 1 }, noSettings.stderr);
  t.match(noSettings.stderr, /none\.json does not exist/);
  const partition = await ws(rig, a, '--backend', 'slurm', '--partition', 'nosuch', 'start');
  t.same(errorOf(partition), { code: 2, error: 'TH_ERR_SLURM_PARTITION_UNKNOWN', lines: 1 }, partition.stderr);
  t.match(partition.stderr, new RegExp(`choose one of: ${rig.cluster.partition}`));
  const tooBig = await ws(rig, a, '--backend', 'slurm', '--mem', '64Gi', 'start');
  t.same(errorOf(tooBig), { code: 1, error: 'TH_ERR_SLURM_SUBMIT_REFUSED', lines: 1 }, tooBig.stderr);
  t.notOk(existsSync(path.join(rig.homeRoot, a, 'service.manifest')), 'a refused job leaves no manifest behind');

  // a cluster whose controller is not there: the same settings, another port
  const deadConf = path.join(workDir(t), 'dead-slurm.conf');
  writeFileSync(deadConf, readFileSync(rig.cluster.conf, 'utf8').replace(/^SlurmctldPort=\d+$/m, 'SlurmctldPort=9'));
  const deadSettings = path.join(workDir(t), 'dead.json');
  writeFileSync(deadSettings, JSON.stringify({ partition: rig.cluster.partition, slurmConf: deadConf }));
  chmodSync(workDir(t), 0o755);
  const dead = await runBin(t, 'webservice', ['--tool', a, '--backend', 'slurm', 'start'], { env: { ...rig.env, TOOLHOST_SLURM_SETTINGS: deadSettings } });
  t.same(errorOf(dead), { code: 1, error: 'TH_ERR_SLURM_UNREACHABLE', lines: 1 }, dead.stderr);

  // a partition that takes no jobs now: start says the job is queued and why, and stop takes it out of the queue
  rig.cluster.run('scontrol', ['update', `PartitionName=${rig.cluster.partition}`, 'State=DOWN']);
  t.teardown(() => void rig.cluster.run('scontrol', ['update', `PartitionName=${rig.cluster.partition}`, 'State=UP']));
  const queued = await ws(rig, a, '--backend', 'slurm', 'start');
  t.equal(queued.code, 0, queued.stderr);
  t.match(queued.stdout, new RegExp(`queued as Slurm job \\d+ in partition ${rig.cluster.partition} \\(waiting: PartitionDown\\)`), 'start: queued, and why');
  t.match((await ws(rig, a, 'status')).stdout, /slurm job +\d+, PENDING \(PartitionDown\)/, 'status: pending, and why');
  t.match((await ws(rig, a, 'stop')).stdout, /stopped/, 'stop');
  t.same(squeue(rig).filter((j) => j.name === `toolhost-web-${a}`), [], 'the queued job is cancelled');
  rig.cluster.run('scontrol', ['update', `PartitionName=${rig.cluster.partition}`, 'State=UP']);

  const { SlurmClient } = await import('../../src/slurm/index.js');
  const noCommands = new SlurmClient(rig.cluster.conf, { PATH: '/nonexistent' });
  await t.rejects(noCommands.partitions(), { code: 'TH_ERR_SLURM_NOT_INSTALLED' }, 'no sinfo on PATH');
  const client = new SlurmClient(rig.cluster.conf, process.env);
  await t.rejects(client.cancel(999_999), { code: 'TH_ERR_SLURM_CANCEL_FAILED' }, 'scancel of a job Slurm does not know');
});

t.test('toolhost jobs --backend slurm: a one-off run is a batch job and a continuous job a requeueable Slurm job, both as the tool, listed with their Slurm job and node; a scheduled run fired the monitor\'s way is submitted by its runner; delete cancels them', { skip }, async (t) => {
  const rig = await platform();
  const { a } = rig;
  const home = path.join(rig.homeRoot, a);
  const jobs = (...args: string[]) => runBin(t, 'toolhost', ['jobs', '--tool', a, ...args], { env: rig.env });
  t.teardown(() => jobs('flush'));

  const once = await jobs('run', 'hello', '--command', 'echo "hello from $(hostname) as $(id -u)"', '--backend', 'slurm', '--mem', '100Mi');
  t.equal(once.code, 0, once.stderr);
  const onceId = Number(/submitted to Slurm as job (\d+)/.exec(once.stderr)?.[1]);
  t.ok(onceId > 0, `one-off submitted: ${once.stderr}`);
  await waitFor(() => existsSync(path.join(home, 'hello.out')) && readFileSync(path.join(home, 'hello.out'), 'utf8').includes('hello from'), 20_000, 'the run\'s output');
  t.match(readFileSync(path.join(home, 'hello.out'), 'utf8'), new RegExp(`^hello from (${rig.cluster.nodes.map((n) => n.name).join('|')}) as ${rig.uid(a)}\\n$`), 'ran on a web node as the tool, output in ~/hello.out');
  t.match(rig.cluster.run('scontrol', ['show', 'job', '-o', String(onceId)]), /\bRequeue=0\b.*\bmem=100M\b|\bmem=100M\b.*\bRequeue=0\b/, 'a batch job, not requeued, with --mem');
  await waitFor(async () => /Completed \(Slurm job \d+\)/.test((await jobs('list')).stdout), 20_000, 'jobs list to say Completed');
  t.match((await jobs('list')).stdout, new RegExp(`hello +normal +Completed \\(Slurm job ${onceId}\\)`), 'jobs list: completed, with its Slurm job');

  const bot = await jobs('run', 'bot', '--command', 'while true; do echo tick; sleep 1; done', '--continuous', '--backend', 'slurm');
  t.equal(bot.code, 0, bot.stderr);
  const botId = Number(/as job (\d+)/.exec(bot.stderr)?.[1]);
  await waitFor(() => existsSync(path.join(home, 'bot.out')) && readFileSync(path.join(home, 'bot.out'), 'utf8').includes('tick'), 20_000, 'the bot\'s output');
  const botJob = squeue(rig).find((j) => j.id === botId);
  t.same(botJob && { user: botJob.user, name: botJob.name, state: botJob.state }, { user: `tools.${a}`, name: `toolhost-job-${a}-bot`, state: 'RUNNING' }, 'a Slurm job of the tool\'s');
  t.match(rig.cluster.run('scontrol', ['show', 'job', '-o', String(botId)]), /\bRequeue=1\b/, 'requeueable');
  const list = await jobs('list');
  t.match(list.stdout, new RegExp(`bot +continuous +Running \\(Slurm job ${botId} on ${botJob?.node}\\)`), 'jobs list: running, Slurm job and node');
  const shown = await jobs('show', 'bot');
  t.match(shown.stdout, /Backend: +\| slurm|\| Backend: +\| slurm/, 'jobs show: the backend');
  t.match(shown.stdout, new RegExp(`Running \\(Slurm job ${botId} on ${botJob?.node}\\)`), 'jobs show: Slurm job and node');

  // a scheduled job: the monitor fires it by starting its runner as the tool, which submits the run
  const cron = await jobs('run', 'nightly', '--command', 'echo nightly run', '--schedule', '@daily', '--backend', 'slurm');
  t.equal(cron.code, 0, cron.stderr);
  const { launchRun } = await import('../../src/jobs/index.js');
  const { lookupAccount } = await import('../../src/accounts/index.js');
  const account = lookupAccount(`tools.${a}`);
  launchRun({ tool: { name: a, home, account }, runtimeDir: path.join(rig.env.TOOLHOST_RUNTIME_DIR as string, a), job: 'nightly', trigger: 'schedule', scheduledFor: new Date().toISOString(), env: rig.env, as: account ? { uid: account.uid, gid: account.gid } : null });
  await waitFor(() => existsSync(path.join(home, 'nightly.out')) && readFileSync(path.join(home, 'nightly.out'), 'utf8').includes('nightly run'), 20_000, 'the scheduled run\'s output');
  t.match((await jobs('show', 'nightly')).stdout, /Slurm job \d+/, 'jobs show: the run\'s Slurm job');

  const deleted = await jobs('delete', 'bot');
  t.equal(deleted.code, 0, deleted.stderr);
  t.same(squeue(rig).filter((j) => j.id === botId), [], 'delete ended the bot\'s Slurm job');
});

t.test('a web node dies (its slurmd, registrar and every process on it killed): Slurm requeues the job and the tool is served again from the other node', { skip }, async (t) => {
  const rig = await platform();
  const { a } = rig;
  page(rig, a, 'alpha survives');
  t.teardown(() => ws(rig, a, 'stop'));
  const started = await ws(rig, a, '--backend', 'slurm', 'start');
  t.equal(started.code, 0, started.stdout + started.stderr);
  const [, id = '', first = ''] = /Slurm job (\d+) on (\S+)/.exec(started.stdout) ?? [];
  await waitFor(async () => (await served(rig, a)).status === 200, 10_000, 'served before the failure');

  const killedAt = Date.now();
  rig.cluster.killNode(first);
  let gone = 0;
  let down = 0;
  let requeued = 0;
  let running = 0;
  await waitFor(
    async () => {
      const now = Date.now() - killedAt;
      if (!gone && (await served(rig, a)).status !== 200) gone = now;
      if (!down && /\bState=DOWN/.test(rig.cluster.run('scontrol', ['show', 'node', '-o', first]))) down = now;
      const job = squeue(rig).find((j) => j.id === Number(id));
      if (!requeued && job && job.state !== 'RUNNING') requeued = now;
      if (!running && job?.state === 'RUNNING' && job.node !== first) running = now;
      const back = await served(rig, a);
      return back.status === 200 && back.body === 'alpha survives' && running > 0;
    },
    rig.cluster.slurmdTimeout * 1000 + 120_000,
    'served again after the node failure',
  );
  const servedAgain = Date.now() - killedAt;
  const job = squeue(rig).find((j) => j.id === Number(id));
  const other = rig.cluster.nodes.find((n) => n.name !== first);
  t.same(job && { state: job.state, node: job.node }, { state: 'RUNNING', node: other?.name }, 'the same Slurm job runs again, on the other node');
  t.match(rig.cluster.run('scontrol', ['show', 'job', '-o', id]), /\bRestarts=1\b/, 'requeued once by Slurm');
  // the dead node's entry stays in Redis until its registrar returns; its lease is over, so no proxy routes to it
  const routes = (await rig.proxyRoutes()).get(a) ?? [];
  t.equal(routes.length, 1, 'the proxy routes to one backend');
  t.match(routes[0], new RegExp(`^http://${other?.host.address.replace(/\./g, '\\.')}:\\d+$`), 'at the other node\'s address');
  t.comment(`node failure (SlurmdTimeout=${rig.cluster.slurmdTimeout} s): proxy stopped serving after ${gone} ms (registrar lease 1.5 s), node DOWN after ${down} ms, job requeued after ${requeued} ms, RUNNING on ${other?.name} after ${running} ms, served again after ${servedAgain} ms`);
});
