// One configuration problem, one code, whatever command meets it (#14 item 7): the same broken
// ~/.lighttpd.conf is reported under the same TH_ERR_* code by `webservice config --check`, by
// `webservice start`, and by the supervisor when a running server reloads it (its status and
// ~/service.log); toolhost's own parser refusing the file, lighttpd -tt refusing it and lighttpd
// missing are three codes, never mixed up.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBin, waitFor, workDir } from '../helpers/index.js';
import { webTool } from '../helpers/webservice-tool.js';

/** toolhost's evaluator refuses it: the same key set twice in one scope */
const OUR_PARSER_REFUSES = '# mine\nserver.tag = "a"\nserver.tag = "b"\n';
/** toolhost accepts it, lighttpd -tt does not (a value lighttpd cannot parse as a boolean) */
const LIGHTTPD_REFUSES = '# mine\n\nserver.range-requests = "(enable|disable)"\n';

/** the code a command's one error line ends with */
function codeOf(stderr: string): string | null {
  return /\[(TH_ERR_\w+)\]\n$/.exec(stderr)?.[1] ?? null;
}

t.test('the same broken ~/.lighttpd.conf gets the same code from config --check, start and a running server\'s reload', async (t) => {
  const { tool, ws, page } = await webTool(t, 'samecode', { 'public_html/index.html': 'samecode index' });
  const conf = path.join(tool.home, '.lighttpd.conf');
  const status = async () => JSON.parse((await ws('status', '--json')).stdout) as { configError: string[] | null; message: string | null };

  for (const [text, code] of [
    [OUR_PARSER_REFUSES, 'TH_ERR_LIGHTTPD_CONFIG_INVALID'],
    [LIGHTTPD_REFUSES, 'TH_ERR_LIGHTTPD_REJECTED'],
  ] as const) {
    writeFileSync(conf, text);
    const checked = await ws('config', '--check');
    t.equal(checked.code, 1);
    t.equal(codeOf(checked.stderr), code, `config --check: ${checked.stderr}`);
    const started = await ws('start');
    t.equal(started.code, 1);
    t.equal(codeOf(started.stderr), code, `start: ${started.stderr}`);
    t.match(started.stderr, /~\/\.lighttpd\.conf:3\b/, 'start points at the line, as config --check does');
  }

  // a running server: each broken edit is reloaded, refused, and reported under the same code
  writeFileSync(conf, '# mine\nserver.tag = "fine"\n');
  t.equal((await ws('start')).code, 0);
  for (const [text, code] of [
    [OUR_PARSER_REFUSES, 'TH_ERR_LIGHTTPD_CONFIG_INVALID'],
    [LIGHTTPD_REFUSES, 'TH_ERR_LIGHTTPD_REJECTED'],
  ] as const) {
    writeFileSync(conf, text);
    await waitFor(async () => (await status()).configError?.at(-1)?.endsWith(`[${code}]`) === true, 15_000, `the reload to report ${code}`);
    const s = await status();
    t.match(s.message, `[${code}]`, 'webservice status says it with the same code');
    t.match(readFileSync(path.join(tool.home, 'service.log'), 'utf8'), `[${code}]`, '~/service.log too');
    const restarted = await ws('restart');
    t.equal(restarted.code, 1, 'restart with the broken file keeps the old server and fails');
    t.match(restarted.stderr, `[${code}]`, `restart: ${restarted.stderr}`);
    t.equal((await page('/')).status, 200, 'the last good server keeps serving');
  }
});

t.test('lighttpd missing is TH_ERR_LIGHTTPD_NOT_INSTALLED from config --check, start and toolhost lighttpd check alike', async (t) => {
  const { tool, env } = await webTool(t, 'nolighttpd', { 'public_html/index.html': 'x', '.lighttpd.conf': 'server.tag = "fine"\n' });
  // how toolhost finds lighttpd: TOOLHOST_LIGHTTPD, here naming a file that is not there
  const missing = { ...env, TOOLHOST_LIGHTTPD: path.join(workDir(t), 'no-such-lighttpd') };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', 'nolighttpd', '--home', tool.home, ...args], { env: missing });
  for (const r of [await ws('config', '--check'), await ws('start'), await runBin(t, 'toolhost', ['lighttpd', 'check', path.join(tool.home, '.lighttpd.conf')], { env: missing })]) {
    t.equal(codeOf(r.stderr), 'TH_ERR_LIGHTTPD_NOT_INSTALLED', r.stderr);
    t.equal(r.code, 3, 'a missing dependency exits 3');
    t.match(r.stderr, /TOOLHOST_LIGHTTPD names .*no-such-lighttpd, which does not exist/);
  }
  // a file toolhost's parser refuses is that, whether or not lighttpd is there
  writeFileSync(path.join(tool.home, '.lighttpd.conf'), OUR_PARSER_REFUSES);
  for (const r of [await ws('config', '--check'), await ws('start')]) t.equal(codeOf(r.stderr), 'TH_ERR_LIGHTTPD_CONFIG_INVALID', r.stderr);
});
