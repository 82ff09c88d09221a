// Notifications by email (#13), as root with real tool accounts, the real registrar and monitor,
// real jobs and webservices, and a real SMTP server that keeps what it received: a failure is
// mailed at once to the tool's ~/.forward with what happened, how it ended (exit code, the
// kernel's OOM kill), its error output and where to look; later failures wait for a digest; the
// hourly cap holds mail back and says so; maintainers' recorded addresses stand in for a missing
// ~/.forward; a webservice's crash loop, a refused ~/.lighttpd.conf and its fix are mailed; with
// no relay the notice is recorded as not mailed; a tool can neither redirect the mail through a
// link nor notice in another tool's name nor fill root's spool.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { readDeliveryLog } from '../../src/notify/index.js';
import { runBin, userEnv, waitFor, workDir } from '../helpers/index.js';
import { BIN, rig, skip } from '../helpers/limits-rig.js';
import { asTool, uniq } from '../helpers/platform.js';
import { startSmtp, type Smtp } from '../helpers/smtp.js';

type Rig = Awaited<ReturnType<typeof rig>>;

/** the real monitor, mailing through the given options */
function startMonitor(t: Test, r: Rig, options: string[]): void {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, 'toolhost'), 'monitor', '--home-root', r.homeRoot, '--interval', '1', ...options], { env: userEnv({ ...r.env, ...r.toolEnv }), stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
}

const mailsAbout = (smtp: Smtp, what: RegExp) => smtp.mails.filter((m) => what.test(m.subject) || what.test(m.raw));

t.test('a failing job is mailed at once to ~/.forward with its exit, error output and where to look; an OOM says so; later failures come in a digest', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const smtp = await startSmtp(t);
  startMonitor(t, r, ['--smtp', smtp.url, '--mail-digest', '5', '--mail-hourly-cap', '6']);
  asTool(a, 'echo "alice@example.org" > ~/.forward');
  const boom = r.as(a, 'toolhost jobs run boom --command "echo the-last-words >&2; exit 3" --emails onfailure --wait');
  const finished = Date.now();
  t.equal(boom.status, 1, boom.stderr);
  await waitFor(() => smtp.mails.length >= 1, 15_000, 'the mail');
  const m = smtp.mails[0];
  if (!m) throw new Error('no mail');
  t.same(m.to, ['alice@example.org'], 'to the tool\'s ~/.forward');
  t.equal(m.subject, `[toolhost] ${a}: job boom failed`);
  t.match(m.raw, /how: {3}exit code 3/);
  t.match(m.raw, /\| the-last-words/, 'its error output');
  t.match(m.raw, /more: {2}toolhost jobs show boom; toolhost jobs logs boom/);
  t.comment(`job failed -> mail received in ${m.receivedAt - finished} ms`);
  t.match(r.as(a, 'toolhost jobs show boom').stdout, /Last notice:\s+\| failed at \S+: mailed to 1 recipient\(s\) at/);

  const hog = r.as(a, `toolhost jobs run hog --command "python3 -c 'b = bytearray(400 * 1024 * 1024)'" --mem 64Mi --emails onfailure --wait`);
  t.equal(hog.status, 1);
  await waitFor(() => mailsAbout(smtp, /job hog failed/).length > 0, 20_000, 'the OOM mail');
  t.match(mailsAbout(smtp, /job hog failed/)[0]?.raw, /killed: out of memory \(limit 64Mi\); raise it with --mem/, 'the kernel\'s OOM kill, in the mail');

  const before = smtp.mails.length;
  for (const name of ['f1', 'f2', 'f3']) t.equal(r.as(a, `toolhost jobs run ${name} --command "exit 1" --emails onfailure`).status, 0);
  await waitFor(() => ['f1', 'f2', 'f3'].every((n) => mailsAbout(smtp, new RegExp(`job ${n} failed`)).length > 0), 30_000, 'all three failures mailed');
  const later = smtp.mails.slice(before);
  t.ok(later.length <= 2, `three failures in at most two mails (${later.length})`);
  t.ok(later.some((x) => /: [23] events \(/.test(x.subject)), 'gathered in a digest');
  t.equal(r.as(a, 'toolhost jobs run quiet --command "exit 1" --wait').status, 1);
  await new Promise((res) => setTimeout(res, 2500));
  t.equal(mailsAbout(smtp, /job quiet/).length, 0, 'a job without --emails is not mailed (Toolforge\'s default: none)');
});

t.test('past the hourly cap mail waits and the status says so; maintainers\' addresses stand in for a missing ~/.forward; a linked ~/.forward is not followed', { skip }, async (t) => {
  const r = await rig(t);
  const { a, b } = r;
  const smtp = await startSmtp(t);
  startMonitor(t, r, ['--smtp', smtp.url, '--mail-digest', '1', '--mail-hourly-cap', '1']);
  const person = uniq('maint');
  spawnSync('useradd', ['--no-create-home', person]);
  t.teardown(() => void spawnSync('userdel', [person]));
  const add = await r.admin('add-maintainer', a, person, '--email', 'bob@example.org', '--state-dir', r.stateDir);
  t.equal(add.code, 0, add.stderr);
  const bad = await r.admin('add-maintainer', a, person, '--email', 'bob@example.org\nBcc: x@y', '--state-dir', r.stateDir);
  t.match(bad.stderr, /invalid email address .*\[TH_ERR_EMAIL_INVALID\]/);
  t.equal(r.as(a, 'toolhost jobs run one --command "exit 1" --emails onfailure --wait').status, 1);
  await waitFor(() => smtp.mails.length === 1, 15_000, 'the first mail');
  t.same(smtp.mails[0]?.to, ['bob@example.org'], 'to the maintainer\'s recorded address');
  t.equal(r.as(a, 'toolhost jobs run two --command "exit 1" --emails onfailure --wait').status, 1);
  await waitFor(() => /Last notice:\s+\| failed at \S+: not mailed yet \(the tool's hourly cap of 1 mail\(s\) is reached; held/.test(r.as(a, 'toolhost jobs show two').stdout), 15_000, 'the held notice in show');
  t.equal(smtp.mails.length, 1, 'nothing more sent');

  // b plants a link at ~/.forward to a root-owned file naming someone else
  const victim = path.join(workDir(t), 'forward-of-root');
  writeFileSync(victim, 'victim@example.org\n');
  asTool(b, `ln -s ${victim} ~/.forward`);
  t.equal(r.as(b, 'toolhost jobs run boom --command "exit 1" --emails onfailure --wait').status, 1);
  await waitFor(() => /not mailed: no recipients/.test(r.as(b, 'toolhost jobs show boom').stdout), 15_000, 'b\'s notice settled');
  t.match(r.as(b, 'toolhost jobs show boom').stdout, /~\/\.forward ignored: it is a symbolic link/);
  t.equal(mailsAbout(smtp, /victim/).length, 0, 'no mail through the link');
});

t.test('a webservice\'s crash loop is mailed (onfailure by default); a refused ~/.lighttpd.conf, and its fix', { skip }, async (t) => {
  const r = await rig(t);
  const { a, b } = r;
  const smtp = await startSmtp(t);
  startMonitor(t, r, ['--smtp', smtp.url, '--mail-digest', '1', '--mail-hourly-cap', '20']);
  asTool(a, 'echo "alice@example.org" > ~/.forward');
  asTool(b, 'echo "bea@example.org" > ~/.forward');
  const started = Date.now();
  r.as(a, 'webservice generic start -- sh -c "echo crash-reason >&2; exit 1"');
  await waitFor(() => mailsAbout(smtp, /is crash-looping/).length > 0, 60_000, 'the crash-loop mail');
  const crash = mailsAbout(smtp, /is crash-looping/)[0];
  t.equal(crash?.subject, `[toolhost] ${a}: webservice (generic) is crash-looping`);
  t.same(crash?.to, ['alice@example.org']);
  t.comment(`webservice started crashing -> crash-loop mail received ${(crash?.receivedAt ?? 0) - started} ms later`);
  t.match(r.as(a, 'webservice status').stdout, /notice\s+crash-loop at \S+: mailed to 1 recipient/);
  t.equal(r.as(a, 'webservice stop').status, 0);

  r.page(b, 'hello');
  const up = r.as(b, 'webservice start');
  t.equal(up.status, 0, up.stderr + up.stdout);
  asTool(b, 'printf \'server.modules += ( "mod_no_such_thing" )\\n\' > ~/.lighttpd.conf');
  await waitFor(() => mailsAbout(smtp, /kept its old configuration/).length > 0, 30_000, 'the rejected-configuration mail');
  t.match(mailsAbout(smtp, /kept its old configuration/)[0]?.raw, /what: {2}.*mod_no_such_thing/, 'what was wrong');
  t.equal((await r.served(b)).status, 200, 'the old server goes on serving');
  asTool(b, 'rm ~/.lighttpd.conf');
  await waitFor(() => mailsAbout(smtp, /is running again/).length > 0, 30_000, 'the recovery mail');
  t.same(mailsAbout(smtp, /is running again/)[0]?.to, ['bea@example.org']);
  t.equal(r.as(b, 'webservice stop').status, 0);
});

t.test('without a relay a notice is recorded as not mailed; a tool notices only in its own name and cannot fill root\'s spool', { skip }, async (t) => {
  const r = await rig(t);
  const { a, b } = r;
  // b talks to its own registrar socket: 101 notices, one naming another tool, one malformed
  const script = `
const s = require("net").connect(${JSON.stringify(path.join(r.registrar.dir, `${b}.sock`))});
const ev = (i) => JSON.stringify({ n: i, op: "notify", event: { source: "job", name: "spam", kind: "failed", at: Date.now(), summary: "x", cause: null, stderr: [], look: "x", tool: ${JSON.stringify(a)} } });
const lines = [];
for (let i = 1; i <= 101; i++) lines.push(ev(i));
lines.push(JSON.stringify({ n: 200, op: "notify", event: { kind: "rooted" } }));
let buf = "";
s.setEncoding("utf8");
s.on("data", (d) => {
  buf += d;
  const got = buf.split("\\n").length - 1;
  if (got > lines.length) { console.log(buf); s.end(); return; }
  const next = lines[got - 1];
  if (next && buf.endsWith("\\n")) s.write(next + "\\n");
});`;
  const said = asTool(b, `env -u NODE_OPTIONS ${process.execPath} -e '${script}'`);
  const out = said.stdout;
  const replies = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n?: number; ok?: boolean; code?: string; hello?: unknown }).filter((x) => x.n !== undefined);
  t.equal(replies.filter((x) => x.ok).length, 100, 'a hundred kept');
  t.match(replies.find((x) => x.n === 101), { ok: false, code: 'TH_ERR_NOTIFY_BACKLOG' }, 'the next refused');
  t.match(replies.find((x) => x.n === 200 || x.n === -1), { ok: false, code: 'TH_ERR_REGISTRAR_PROTOCOL' }, 'a malformed notice refused');
  const wrong = await runBin(t, 'toolhost', ['monitor', '--once', '--home-root', r.homeRoot, '--smtp', 'http://127.0.0.1:25'], { env: { ...r.env, ...r.toolEnv } });
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /invalid SMTP relay http:\/\/127\.0\.0\.1:25: give smtp:\/\/host:port .*\[TH_ERR_SMTP_URL_INVALID\]/);
  startMonitor(t, r, []);
  const settled = () => readDeliveryLog(r.stateDir, b).entries.filter((e) => e.delivery.state === 'not-mailed' && /no SMTP relay configured/.test(e.delivery.reason)).length;
  await waitFor(() => settled() === 50, 20_000, 'b\'s notices settled');
  t.equal(settled(), 50, 'not mailed: no relay (the newest 50 kept)');
  t.equal(readDeliveryLog(r.stateDir, a).entries.length, 0, 'nothing in a\'s name');
  t.equal(r.as(a, 'toolhost jobs run boom --command "exit 4" --emails all --wait').status, 1);
  await waitFor(() => /Last notice:\s+\| failed at \S+: not mailed: no SMTP relay configured/.test(r.as(a, 'toolhost jobs show boom').stdout), 15_000, 'the status says why').catch((e: unknown) => {
    t.comment(r.as(a, 'toolhost jobs show boom').stdout.split('\n').filter((l) => /notice/i.test(l)).join('\n'));
    t.comment(JSON.stringify(readDeliveryLog(r.stateDir, a)));
    throw e;
  });
  t.pass('jobs show says it was not mailed, and why');
});
