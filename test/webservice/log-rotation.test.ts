// A webservice's logs written past their cap (#14) as maintainers and hostile tools would: real
// lighttpd, real CGI, a real generic server, the real supervisor. The logs are rotated while the
// server serves — no restart, no line lost — and a tool's links at the rotated names are never
// written through by anyone.
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generations, killProcessesOf, makeToolAccount, makeToolHome, runBin, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';

/** the file and its older generations on disk, oldest first */
/** the lines of every generation that is a file (a link a test planted is not read through) */
const linesOf = (file: string): string[] =>
  generations(file)
    .filter((f) => lstatSync(f).isFile())
    .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));

const CAP = 16 * 1024;

t.test('lighttpd\'s ~/access.log and ~/error.log go past their cap while it serves: rotated without a restart (lighttpd reopens on SIGHUP), every request and every error line there once', async (t) => {
  killProcessesOf(t);
  const redis = await startRedis(t);
  // a CGI script that writes one numbered line to stderr (lighttpd passes it to its own stderr: the supervisor's pipe)
  const cgi = '#!/usr/bin/perl\nmy $n = $ENV{QUERY_STRING};\nprint STDERR "cgi-line $n " . ("x" x 60) . "\\n";\nprint "Content-Type: text/plain\\r\\n\\r\\nok $n\\n";\n';
  const tool = makeToolHome(t, 'rotator', { 'public_html/index.html': 'hi', 'public_html/n.pl': cgi });
  const registrar = await startRegistrar(t, redis.url, path.dirname(tool.home));
  const runtime = path.join(workDir(t), 'runtime');
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtime, TOOLHOST_LOG_MAX_BYTES: '16K', TOOLHOST_LOG_KEEP: '50' };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', 'rotator', '--home', tool.home, ...args], { env });
  const started = await ws('start');
  t.equal(started.code, 0, started.stderr);
  t.teardown(() => ws('stop'));
  const state = () => JSON.parse(readFileSync(path.join(runtime, 'rotator', 'state.json'), 'utf8')) as { serverPid: number; url: string };
  const { serverPid, url } = state();

  const N = 320;
  for (let n = 1; n <= N; n += 8) {
    // eight at a time: a steady stream, as visitors make it
    const batch = Array.from({ length: Math.min(8, N - n + 1) }, (_, i) => fetch(`${url}/n.pl?${n + i}`).then(async (r) => `${r.status} ${await r.text()}`));
    for (const [i, answer] of (await Promise.all(batch)).entries()) t.equal(answer, `200 ok ${n + i}\n`, `request ${n + i}`);
  }
  const access = path.join(tool.home, 'access.log');
  const errors = path.join(tool.home, 'error.log');
  // lighttpd writes its access log in pieces of up to 8 KiB (at least every 4 s); the supervisor looks every second
  await waitFor(() => generations(access).length >= 2 && generations(errors).length >= 2, 20_000, 'both logs rotated');
  t.equal(state().serverPid, serverPid, 'the same server throughout: no restart');
  t.equal(await (await fetch(`${url}/`)).text(), 'hi', 'and it serves on');
  t.equal((await ws('stop')).code, 0);

  const requests = linesOf(access).map((l) => /GET \/n\.pl\?(\d+) /.exec(l)?.[1]).filter(Boolean).map(Number);
  t.same([...requests].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), `all ${N} requests in the access logs, once each`);
  const errorLines = linesOf(errors);
  const cgiLines = errorLines.map((l) => /^cgi-line (\d+) x{60}$/.exec(l)?.[1]).filter(Boolean).map(Number);
  t.same([...cgiLines].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), `all ${N} lines of the CGI's stderr, whole, once each`);
  t.ok(errorLines.some((l) => /logfiles cycled/.test(l)), 'lighttpd reopened its logs (SIGHUP), as it says in its error log');
  for (const f of generations(errors)) t.ok(statSync(f).size <= CAP + 1024, `${path.basename(f)}: ${statSync(f).size} bytes (the cap, plus at most a line of lighttpd's own)`);
  // lighttpd's own file can pass the cap by what it flushed since the last look (its 8 KiB buffer)
  for (const f of generations(access)) t.ok(statSync(f).size <= CAP + 16 * 1024, `${path.basename(f)}: ${statSync(f).size} bytes`);
  t.notMatch(readFileSync(path.join(tool.home, 'service.log'), 'utf8'), /starting a new server|TH_ERR_LOG/, 'nothing restarted, nothing failed');

  const review = JSON.parse((await ws('logs', '--access', '--json')).stdout) as { requests: number };
  t.equal(review.requests, linesOf(access).length, 'logs --access reviews every generation');
});

t.test('a hostile tool plants links to a root-owned file at ~/error.log.1 and .2: its supervisor rotates past them as the tool and nothing is written through them; the generic server goes on', { skip: process.getuid?.() === 0 ? false : 'needs root for a tool account' }, async (t) => {
  killProcessesOf(t);
  const { name, user, uid, home } = makeToolAccount(t, 'thr');
  const base = workDir(t);
  // a root-only file the links aim at (a stand-in for /etc/shadow)
  const decoy = path.join(base, 'shadow');
  writeFileSync(decoy, 'root:secret\n', { mode: 0o600 });
  const asTool = (cmd: string) => spawnSync('su', ['-s', '/bin/sh', user, '-c', cmd], { encoding: 'utf8' });
  t.equal(asTool(`cd ${home} && ln -s ${decoy} error.log.1 && ln -s ${decoy} error.log.2 && printf '#!/bin/sh\\nseq -f "server line %%g" 1 2000\\nexec python3 -m http.server --bind 127.0.0.1 "$1" 2>/dev/null\\n' > server.sh && chmod +x server.sh`).status, 0);
  const redis = await startRedis(t);
  const registrar = await startRegistrar(t, redis.url, path.dirname(home));
  const runtime = path.join(base, 'runtime');
  const env = { TOOLHOST_REGISTRAR_DIR: registrar.dir, TOOLHOST_RUNTIME_DIR: runtime, TOOLHOST_LOG_MAX_BYTES: '4K', TOOLHOST_LOG_KEEP: '20' };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', name, ...args], { env });
  const started = await ws('generic', 'start', '--', './server.sh');
  t.equal(started.code, 0, started.stderr);
  t.teardown(() => ws('stop'));
  const errors = path.join(home, 'error.log');
  await waitFor(() => linesOf(errors).filter((l) => l.startsWith('server line')).length === 2000, 20_000, 'the server\'s 2000 lines');

  const st = statSync(decoy);
  t.ok(st.uid === 0 && (st.mode & 0o777) === 0o600 && readFileSync(decoy, 'utf8') === 'root:secret\n', 'the root-owned file is untouched');
  // rotation renames names: the tool's two links moved down the generations as links, never opened
  const kinds = generations(errors).map((f) => lstatSync(f));
  t.equal(kinds.filter((l) => l.isSymbolicLink()).length, 2, 'the two links, moved along as links');
  t.equal(generations(errors).filter((f) => lstatSync(f).isSymbolicLink() && readlinkSync(f) === decoy).length, 2);
  for (const f of generations(errors).filter((g) => !lstatSync(g).isSymbolicLink())) {
    const l = lstatSync(f);
    t.ok(l.isFile() && l.uid === uid, `${path.basename(f)} is a plain file of the tool's`);
    t.ok(l.size <= 4096, `${path.basename(f)}: ${l.size} bytes`);
  }
  t.ok(lstatSync(`${errors}.1`).isFile(), 'error.log.1 is a plain file now');
  t.same(linesOf(errors).filter((l) => l.startsWith('server line')), Array.from({ length: 2000 }, (_, i) => `server line ${i + 1}`), 'every line, in order');
  const { serverPid, url } = JSON.parse(readFileSync(path.join(runtime, name, 'state.json'), 'utf8')) as { serverPid: number; url: string };
  t.equal((await fetch(`${url}/`)).status, 200, 'the server serves on');
  const tail = await ws('logs', '-l', '3');
  t.equal(tail.stdout, 'server line 1998\nserver line 1999\nserver line 2000\n', 'webservice logs reads across the rotation');
  t.equal(JSON.parse(readFileSync(path.join(runtime, name, 'state.json'), 'utf8')).serverPid, serverPid, 'never restarted');
  const owner = statSync(path.join(runtime, name, 'pipes')).uid;
  t.equal(owner, uid, 'the pipes are the tool\'s, in its runtime directory');
});
