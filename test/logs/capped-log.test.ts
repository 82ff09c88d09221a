// The logs toolhost keeps for tools (#14): real child processes writing through the FIFO into a
// capped file, past its cap — every generation under the cap, every line there once, in order,
// never cut; a supervisor killed outright loses nothing; links a tool plants are never written
// through; the caps come from conf/toolhost.json, a tool's entry there, or the environment.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { appendCapped, CappedLog, ChildOutput, planWrite, ToolLogs, toolLogPolicy, type LogCap } from '../../src/logs/index.js';
import { generations, ROOT, waitFor, workDir } from '../helpers/index.js';

/** the file and its older generations on disk, oldest first */
function logs(dir: string, cap: LogCap, problems: string[] = []): ToolLogs {
  return new ToolLogs({ policy: { files: cap, internal: cap }, pipeDir: path.join(dir, 'pipes'), onProblem: (l) => problems.push(l) });
}

/** a child writing through the output's pipe: resolves with its exit code */
async function runChild(output: ChildOutput, command: string): Promise<number | null> {
  const fds = output.descriptors();
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', fds.stdout, fds.stderr] });
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } finally {
    for (const fd of fds.all) closeSync(fd);
  }
  return done;
}

const SEQ = (n: number): string => Array.from({ length: n }, (_, i) => `line ${String(i + 1).padStart(6, '0')}\n`).join('');

t.test('planWrite writes whole lines that fit, finishes a line before rotating, gives an overlong line a file of its own', async (t) => {
  const b = (s: string) => Buffer.from(s);
  t.same(planWrite(0, b('a\nb\n'), 10, false), { now: 4, rotate: false });
  t.same(planWrite(6, b('abc\ndef\n'), 10, false), { now: 4, rotate: true }, 'the line that fits, then a rotation');
  t.same(planWrite(9, b('abc\n'), 10, false), { now: 0, rotate: true }, 'nothing fits: rotate first');
  t.same(planWrite(9, b('xy\nz\n'), 10, true), { now: 3, rotate: true }, 'the file ends inside a line: its end first');
  t.same(planWrite(0, b('a very long line\nrest\n'), 10, false), { now: 17, rotate: true }, 'longer than the cap: alone');
  t.same(planWrite(0, b('abc\ndef\nghi\n'), 10, false), { now: 8, rotate: true }, 'an empty file takes what fits');
});

t.test('a child writing 4 KiB blocks past the cap: every generation under the cap, ending with a whole line; every line once, in order; the oldest fall off', async (t) => {
  const dir = workDir(t);
  const cap = { maxBytes: 16 * 1024, keep: 30 };
  const l = logs(dir, cap);
  const out = await ChildOutput.open(l, 'seq', { file: path.join(dir, 'seq.out'), kind: 'files' }, 'same');
  // seq writes in 4 KiB blocks, cutting lines: the pipe hands the log pieces of lines
  t.equal(await runChild(out, 'seq -f "line %06g" 1 20000'), 0);
  await out.close();
  const files = generations(path.join(dir, 'seq.out'));
  t.ok(files.length >= 10, `${files.length} generations`);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    t.ok(statSync(f).size <= cap.maxBytes, `${path.basename(f)}: ${statSync(f).size} bytes`);
    t.ok(text.endsWith('\n'), `${path.basename(f)} ends with a whole line`);
  }
  t.equal(files.map((f) => readFileSync(f, 'utf8')).join(''), SEQ(20000), 'all 20000 lines, in order, none cut');

  const small = logs(dir, { maxBytes: 8 * 1024, keep: 2 });
  const out2 = await ChildOutput.open(small, 'seq2', { file: path.join(dir, 'kept.out'), kind: 'files' }, 'same');
  t.equal(await runChild(out2, 'seq -f "line %06g" 1 5000'), 0);
  await out2.close();
  const kept = generations(path.join(dir, 'kept.out'));
  t.same(kept.map((f) => path.basename(f)), ['kept.out.2', 'kept.out.1', 'kept.out'], 'keep 2: two older generations');
  const text = kept.map((f) => readFileSync(f, 'utf8')).join('');
  t.ok(Buffer.byteLength(text) <= 3 * 8 * 1024, 'the disk holds at most keep + 1 caps');
  t.ok(SEQ(5000).endsWith(text), 'the newest lines, in order');
});

t.test('stdout and stderr to two files; the same file twice is one log and one pipe', async (t) => {
  const dir = workDir(t);
  const l = logs(dir, { maxBytes: 4096, keep: 10 });
  const two = await ChildOutput.open(l, 'two', { file: path.join(dir, 'a.out'), kind: 'files' }, { file: path.join(dir, 'a.err'), kind: 'files' });
  t.equal(await runChild(two, 'seq 1 1000; seq 1001 2000 >&2'), 0);
  await two.close();
  const lines = (f: string) => generations(path.join(dir, f)).flatMap((g) => readFileSync(g, 'utf8').split('\n').filter(Boolean)).map(Number);
  t.same(lines('a.out'), Array.from({ length: 1000 }, (_, i) => i + 1));
  t.same(lines('a.err'), Array.from({ length: 1000 }, (_, i) => i + 1001));
  const one = await ChildOutput.open(l, 'one', { file: path.join(dir, 'b.log'), kind: 'files' }, { file: path.join(dir, 'b.log'), kind: 'files' });
  t.equal(one.files.length, 1);
  t.same(readdirSync(path.join(dir, 'pipes')), ['one.output.pipe']);
  await one.close();
  t.same(readdirSync(path.join(dir, 'pipes')), [], 'closed pipes are removed');
});

t.test('a supervisor killed outright loses nothing: the writer waits in the pipe, and the next supervisor reads what it wrote', async (t) => {
  const dir = workDir(t);
  const pump = path.join(dir, 'pump.mjs');
  // a stand-in for the supervisor: the log, the pipe, and (the first time) the writer
  writeFileSync(
    pump,
    `import { spawn, spawnSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ToolLogs, ChildOutput } from ${JSON.stringify(path.join(ROOT, '.build', 'logs', 'index.js'))};
const logs = new ToolLogs({ policy: { files: { maxBytes: 8192, keep: 50 }, internal: { maxBytes: 8192, keep: 1 } }, pipeDir: ${JSON.stringify(path.join(dir, 'pipes'))}, onProblem: (l) => console.error(l) });
const out = await ChildOutput.open(logs, 'bot', { file: ${JSON.stringify(path.join(dir, 'bot.out'))}, kind: 'files' }, 'same');
if (process.argv[2] === 'spawn') {
  const fds = out.descriptors();
  // half its lines, then (once the supervisor is gone) the rest: far more than the pipe holds
  const child = spawn('/bin/sh', ['-c', 'seq -f "line %g" 1 5000; while [ ! -e ${path.join(dir, 'go')} ]; do sleep 0.05; done; seq -f "line %g" 5001 20000; echo done > ${path.join(dir, 'finished')}'], { stdio: ['ignore', fds.stdout, fds.stderr], detached: true });
  child.unref();
  for (const fd of fds.all) closeSync(fd);
  console.log(child.pid);
} else {
  process.on('SIGTERM', async () => { await out.close(); process.exit(0); });
  console.log('reading');
}
setInterval(() => {}, 1000);
`,
  );
  const first = spawn(process.execPath, [pump, 'spawn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const writerPid = Number(await new Promise<string>((resolve) => first.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
  t.teardown(() => {
    try {
      process.kill(-writerPid, 'SIGKILL');
    } catch {
      // ended
    }
  });
  const lastLine = (): string | undefined => readFileSync(path.join(dir, 'bot.out'), 'utf8').trimEnd().split('\n').at(-1);
  await waitFor(() => existsSync(path.join(dir, 'bot.out')) && lastLine() === 'line 5000', 10_000, 'the first half written');
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  writeFileSync(path.join(dir, 'go'), '');
  // with nobody reading, the writer fills the pipe and waits: not killed by SIGPIPE, nothing dropped
  await waitFor(() => spawnSync('ps', ['-o', 'stat=', '-p', String(writerPid)], { encoding: 'utf8' }).stdout.trim().startsWith('S') && statSync(path.join(dir, 'bot.out')).size > 0, 5000, 'the writer to wait');
  t.notOk(existsSync(path.join(dir, 'finished')), 'the writer waits while nobody reads');
  const second = spawn(process.execPath, [pump], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => second.kill('SIGKILL'));
  await new Promise((resolve) => second.stdout.once('data', resolve));
  await waitFor(() => existsSync(path.join(dir, 'finished')), 30_000, 'the writer to finish once read again');
  second.kill('SIGTERM');
  await new Promise((resolve) => second.once('exit', resolve));
  const lines = generations(path.join(dir, 'bot.out')).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
  t.equal(lines.length, 20000, 'every line is there');
  t.same(lines.slice(0, 3), ['line 1', 'line 2', 'line 3']);
  t.equal(lines.at(-1), 'line 20000');
  t.ok(lines.every((l, i) => l === `line ${i + 1}`), 'in order, none twice');
});

t.test('links a tool plants are never written through: a link at FILE.1 is replaced, a link at the log\'s name is written through and never rotated', async (t) => {
  const dir = workDir(t);
  const decoy = path.join(dir, 'decoy');
  writeFileSync(decoy, 'untouched\n');
  const file = path.join(dir, 'error.log');
  symlinkSync(decoy, `${file}.1`);
  symlinkSync(decoy, `${file}.2`);
  const problems: string[] = [];
  const l = logs(dir, { maxBytes: 4096, keep: 2 }, problems);
  const out = await ChildOutput.open(l, 'web', { file, kind: 'files' }, 'same');
  t.equal(await runChild(out, 'seq 1 3000'), 0);
  await out.close();
  t.equal(readFileSync(decoy, 'utf8'), 'untouched\n', 'the link\'s target is untouched');
  t.ok(lstatSync(`${file}.1`).isFile() && lstatSync(`${file}.2`).isFile(), 'the generations are files now');

  const elsewhere = path.join(dir, 'mine.log');
  const linked = path.join(dir, 'linked.log');
  symlinkSync(elsewhere, linked);
  const out2 = await ChildOutput.open(l, 'linked', { file: linked, kind: 'files' }, 'same');
  t.equal(await runChild(out2, 'seq 1 3000'), 0);
  await out2.close();
  t.ok(lstatSync(linked).isSymbolicLink(), 'still the maintainer\'s link');
  t.equal(readFileSync(elsewhere, 'utf8').split('\n').filter(Boolean).length, 3000, 'written through, whole');
  t.notOk(existsSync(`${linked}.1`), 'not rotated');
  t.match(problems, [new RegExp(`${linked} is a link or a device, not a file.*\\[TH_ERR_LOG_NOT_ROTATED\\]$`)]);
});

t.test('a line waits for its end; one whose end does not come (a prompt) is written as it is', async (t) => {
  const dir = workDir(t);
  const file = path.join(dir, 'prompt.log');
  const log = await CappedLog.open({ file, cap: { maxBytes: 4096, keep: 1 }, onProblem: () => {} });
  t.teardown(() => log.close());
  log.write('a whole line\nPassword: ');
  await log.written();
  t.equal(readFileSync(file, 'utf8'), 'a whole line\n', 'the whole lines at once, the started one held');
  await waitFor(() => readFileSync(file, 'utf8') === 'a whole line\nPassword: ', 5000, 'the prompt written after a while');
  log.write('hunter2\n');
  await log.flush();
  t.equal(readFileSync(file, 'utf8'), 'a whole line\nPassword: hunter2\n');
});

t.test('a log that cannot be written says so once, coded, and its lines are dropped rather than held', async (t) => {
  const problems: string[] = [];
  const log = await CappedLog.open({ file: '/dev/full', cap: { maxBytes: 4096, keep: 1 }, onProblem: (l) => problems.push(l) });
  for (let i = 0; i < 5; i++) log.write(`line ${i}\n`);
  await log.flush();
  t.equal(log.pendingBytes, 0);
  await log.close();
  t.equal(problems.length, 1);
  t.match(problems[0], /^cannot write the log \/dev\/full: ENOSPC; .*\[TH_ERR_LOG_UNWRITABLE\]$/);
});

t.test('lines appended by several writers (~/service.log) rotate at the cap without losing one', async (t) => {
  const dir = workDir(t);
  const file = path.join(dir, 'service.log');
  for (let i = 1; i <= 500; i++) appendCapped(file, `event ${i}\n`, { maxBytes: 1024, keep: 10 });
  const files = generations(file);
  t.ok(files.length >= 3, `${files.length} generations`);
  for (const f of files) t.ok(statSync(f).size <= 1024, `${path.basename(f)}: ${statSync(f).size} bytes`);
  const lines = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
  t.same(lines, Array.from({ length: 500 }, (_, i) => `event ${i + 1}`).slice(-lines.length), 'the newest events, in order');
  t.equal(lines.at(-1), 'event 500');
});

t.test('the caps: conf/toolhost.json\'s defaults, a tool\'s entry there, the environment; a wrong value is TH_ERR_CONFIG_INVALID', async (t) => {
  const shipped = toolLogPolicy('any-tool', {});
  t.same(shipped, { files: { maxBytes: 32 * 1024 * 1024, keep: 3 }, internal: { maxBytes: 4 * 1024 * 1024, keep: 1 } }, 'the defaults docs/reference/logs.md states');
  const dir = workDir(t);
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'toolhost.json');
  writeFileSync(conf, JSON.stringify({ toolLogs: { maxBytes: '8M', keep: 2, internalMaxBytes: 65536, tools: { chatty: { maxBytes: '64M', keep: 5 } } } }));
  t.same(toolLogPolicy('quiet', {}, conf).files, { maxBytes: 8 * 1024 * 1024, keep: 2 });
  t.same(toolLogPolicy('chatty', {}, conf), { files: { maxBytes: 64 * 1024 * 1024, keep: 5 }, internal: { maxBytes: 65536, keep: 1 } });
  t.same(toolLogPolicy('chatty', { TOOLHOST_LOG_MAX_BYTES: '16K', TOOLHOST_LOG_KEEP: '7' }, conf), { files: { maxBytes: 16384, keep: 7 }, internal: { maxBytes: 16384, keep: 1 } });
  t.throws(() => toolLogPolicy('quiet', { TOOLHOST_LOG_MAX_BYTES: 'lots' }, conf), { code: 'TH_ERR_CONFIG_INVALID', message: /TOOLHOST_LOG_MAX_BYTES must be a size of at least 4096 bytes.*not "lots"/ });
  t.throws(() => toolLogPolicy('quiet', { TOOLHOST_LOG_KEEP: '0' }, conf), { code: 'TH_ERR_CONFIG_INVALID' });
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ toolLogs: { maxBytes: 10, keep: 2, internalMaxBytes: 65536 } }));
  t.throws(() => toolLogPolicy('quiet', {}, bad), { code: 'TH_ERR_CONFIG_INVALID', message: /toolLogs\.maxBytes must be a size/ });
});
