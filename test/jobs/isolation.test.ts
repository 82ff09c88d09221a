// Jobs between hostile tools (#12), as root with two real tool accounts, Redis from the guide's
// files, the real registrar, monitor and executables: a job runs as its tool's uid; no tool can
// define, start, stop or read another's jobs, or route to another's port through a published
// job; a jobs manifest the tool does not own is ignored.
import { chownSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBin, waitFor } from '../helpers/index.js';
import { asTool, platform, uidOf } from '../helpers/platform.js';

const skip = process.getuid?.() === 0 ? false : 'needs root for unix users';
const BIN = path.resolve('bin');

t.test('a job runs as its tool, whoever started it; its files are the tool\'s', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  // typed by root for the tool
  const root = await runBin(t, 'toolhost', ['jobs', '--tool', a, 'run', 'who', '--command', 'id -u; sleep 30', '--wait', '1'], { env: { ...p.env, ...p.toolEnv, ROOT_SECRET: 'x' } });
  t.match(root.stderr, /did not finish within 1 s/);
  const rec = JSON.parse(readFileSync(path.join(p.runtime, a, 'jobs', 'who.json'), 'utf8')) as { pid: number };
  t.equal(uidOf(rec.pid), p.uid(a), 'the job process runs as the tool');
  t.notMatch(readFileSync(`/proc/${rec.pid}/environ`, 'utf8'), /ROOT_SECRET/, 'with none of root\'s environment');
  t.equal(readFileSync(path.join(p.homeOf(a), 'who.out'), 'utf8').trim(), String(p.uid(a)));
  t.equal(statSync(path.join(p.homeOf(a), 'who.out')).uid, p.uid(a));
  t.equal(statSync(path.join(p.homeOf(a), 'jobs.manifest')).uid, p.uid(a), 'the manifest is the tool\'s own');
  // by the tool itself, in its account
  const own = asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} ${BIN}/toolhost jobs run mine --command "id -un" --wait`);
  t.equal(own.status, 0, own.stderr);
  t.equal(readFileSync(path.join(p.homeOf(a), 'mine.out'), 'utf8').trim(), `tools.${a}`);
});

t.test('a tool cannot define, list, stop or read another tool\'s jobs', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b } = p;
  const asB = (args: string) => asTool(b, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} ${BIN}/toolhost jobs ${args}`);
  t.equal(asB('run bbot --command "sleep 1000" --continuous').status, 0);
  await waitFor(() => existsSync(path.join(p.runtime, b, 'jobs', 'bbot.json')), 10_000, 'b\'s job');
  const asA = (args: string) => asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} ${BIN}/toolhost jobs --tool ${b} ${args}`);
  for (const args of ['run evil --command "rm -rf ~"', 'list', 'delete bbot', 'flush', 'logs bbot', 'restart bbot']) {
    const r = asA(args);
    t.equal(r.status, 1, args);
    t.match(r.stderr, new RegExp(`you are tools\\.${a}, not tool "${b}".*\\[TH_ERR_TOOL_NOT_YOURS\\]`), args);
  }
  const grid = asTool(a, `env -u NODE_OPTIONS TOOLHOST_TOOL=${b} TOOLHOST_HOME=${p.homeOf(b)} ${BIN}/jstop bbot`);
  t.match(grid.stderr, /TH_ERR_TOOL_NOT_YOURS|Permission denied|TH_ERR_TOOL_HOME_MISSING/);
  t.match(asTool(a, `cat ${path.join(p.homeOf(b), 'bbot.out')}`).stderr, /Permission denied/);
  t.match(asTool(a, `cat ${path.join(p.runtime, b, 'jobs', 'bbot.json')}`).stderr, /Permission denied/);
  const rec = JSON.parse(readFileSync(path.join(p.runtime, b, 'jobs', 'bbot.json'), 'utf8')) as { pid: number; status: string };
  t.match(asTool(a, `kill ${rec.pid}`).stderr, /Operation not permitted/);
  t.equal(rec.status, 'running', 'b\'s job goes on');
});

t.test('a published job cannot take another tool\'s route or port', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b } = p;
  p.page(b, `${b} page`);
  t.equal((await p.ws(b, 'start')).code, 0);
  await waitFor(() => p.proxy.proxy.routeTable.get(b)?.backends.length === 1, 5000, 'b routed');
  const portB = p.state(b).port;
  // a publishes "its" job on b's server port: the registrar asks the kernel, which says b's
  const r = asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} ${BIN}/toolhost jobs run thief --command "sleep 1000" --continuous --port ${portB} --publish`);
  t.equal(r.status, 0, r.stderr);
  await waitFor(() => /the job did not start/.test(readFileSync(path.join(p.homeOf(a), 'service.log'), 'utf8')), 20_000, 'the refusal');
  t.match(readFileSync(path.join(p.homeOf(a), 'service.log'), 'utf8'), /job thief: the job did not start: .*the kernel says: uid \d+, not.*; it is tried again after a pause; see its output: toolhost jobs logs thief \[TH_ERR_UNIT_START_FAILED\]/);
  t.same(await p.served(b), { status: 200, body: `${b} page` });
  t.equal(p.proxy.proxy.routeTable.get(a)?.backends.length ?? 0, 0, 'a is routed nowhere');
  // stopped here, not by the teardown's tool delete: a job retrying its start and a server still
  // writing their logs while the homes go made the teardown race them on a loaded host
  asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=${p.registrar.dir} TOOLHOST_RUNTIME_DIR=${p.runtime} ${BIN}/toolhost jobs delete thief`);
  t.equal((await p.ws(b, 'stop')).code, 0);
});

t.test('a jobs manifest the tool does not own, or a link, is ignored by the monitor with a log line', { skip }, async (t) => {
  const p = await platform(t);
  const { a, b } = p;
  const manifest = '- name: planted\n  command: touch ~/pwned\n  continuous: true\n';
  writeFileSync(path.join(p.homeOf(a), 'jobs.manifest'), manifest);
  chownSync(path.join(p.homeOf(a), 'jobs.manifest'), p.uid(b), p.uid(b));
  writeFileSync(path.join(p.homeOf(b), 'elsewhere.yaml'), manifest);
  chownSync(path.join(p.homeOf(b), 'elsewhere.yaml'), p.uid(b), p.uid(b));
  symlinkSync(path.join(p.homeOf(b), 'elsewhere.yaml'), path.join(p.homeOf(b), 'jobs.manifest'));
  const mon = await p.monitor();
  t.match(mon.stderr, new RegExp(`${a}: ignoring ~/jobs\\.manifest: it is owned by uid ${p.uid(b)}, not the tool`));
  t.match(mon.stderr, new RegExp(`${b}: ignoring ~/jobs\\.manifest: it is a symbolic link`));
  t.match(mon.stdout, new RegExp(`^${a}\\tno-manifest$`, 'm'));
  await new Promise((r) => setTimeout(r, 1000));
  t.notOk(existsSync(path.join(p.homeOf(a), 'pwned')) || existsSync(path.join(p.homeOf(b), 'pwned')), 'nothing ran');
});
