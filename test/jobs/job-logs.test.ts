// Jobs' output written past the cap (#14): ~/NAME.out and ~/NAME.err of a one-off run (its
// runner rotates them), a continuous job's (the supervisor does), and the internal log of
// --no-filelog, which lives in memory and keeps only the newest. Every generation under the cap,
// every line there once and in order (but what the internal log lets fall off).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generations, killProcessesOf, makeToolHome, runBin, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';

const linesOf = (file: string): string[] => generations(file).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
const numbered = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

t.test('a one-off job\'s ~/NAME.out and ~/NAME.err, a continuous job\'s, and an internal log past their cap: rotated, under the cap, every line once and in order', async (t) => {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const tool = makeToolHome(t, 'chatty');
  const registrar = await startRegistrar(t, redis.url, path.dirname(tool.home));
  const runtime = path.join(workDir(t), 'runtime');
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtime, TOOLHOST_STATE_DIR: path.join(workDir(t), 'state'), TOOLHOST_LOG_MAX_BYTES: '4K', TOOLHOST_LOG_KEEP: '30' };
  const jobs = (...args: string[]) => runBin(t, 'toolhost', ['jobs', '--tool', 'chatty', '--home', tool.home, ...args], { env, cwd: '/' });
  t.teardown(() => jobs('flush'));
  const capped = (file: string): void => {
    for (const f of generations(file)) t.ok(statSync(f).size <= 4096, `${path.basename(f)}: ${statSync(f).size} bytes`);
  };

  const run = await jobs('run', 'talk', '--command', 'seq -f "out line %g" 1 3000; seq -f "err line %g" 1 1000 >&2', '--wait');
  t.equal(run.code, 0, run.stderr);
  const out = path.join(tool.home, 'talk.out');
  const err = path.join(tool.home, 'talk.err');
  t.ok(generations(out).length >= 8, `${generations(out).length} generations of talk.out`);
  t.ok(generations(err).length >= 2, `${generations(err).length} generations of talk.err`);
  capped(out);
  capped(err);
  t.same(linesOf(out), numbered('out line', 3000), 'every line of stdout, in order, there once --wait returns');
  t.same(linesOf(err), numbered('err line', 1000), 'every line of stderr');

  const quiet = await jobs('run', 'quiet', '--command', 'seq -f "line %g" 1 3000', '--no-filelog', '--wait');
  t.equal(quiet.code, 0, quiet.stderr);
  const internal = path.join(runtime, 'chatty', 'jobs', 'quiet.log');
  t.same(generations(internal).map((f) => path.basename(f)), ['quiet.log.1', 'quiet.log'], 'the internal log keeps one older generation');
  capped(internal);
  const kept = linesOf(internal);
  t.same(kept, numbered('line', 3000).slice(-kept.length), 'the newest lines, in order');
  t.equal((await jobs('logs', 'quiet', '-l', '2')).stdout, 'line 2999\nline 3000\n');

  const bot = await jobs('run', 'bot', '--continuous', '--command', 'seq -f "bot line %g" 1 2000; exec sleep 600');
  t.equal(bot.code, 0, bot.stderr);
  const botOut = path.join(tool.home, 'bot.out');
  await waitFor(() => {
    try {
      return linesOf(botOut).length === 2000;
    } catch {
      return false;
    }
  }, 20_000, 'the bot\'s 2000 lines');
  capped(botOut);
  t.same(linesOf(botOut), numbered('bot line', 2000), 'the supervisor rotates a continuous job\'s log, every line once');
  t.equal((await jobs('delete', 'bot')).code, 0);
});
