import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { lighttpdBinary, runBin } from '../helpers/index.js';

t.test('toolhost lighttpd check accepts a valid file with "Syntax OK" and exit 0', async (t) => {
  const dir = t.testdir({ 'ok.conf': 'server.document-root = "/tmp"\nserver.port = 8080\n' });
  const r = await runBin(t, 'toolhost', ['lighttpd', 'check', 'ok.conf'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'Syntax OK\n');
});

t.test('toolhost lighttpd check shows every error at file:line:col with the source line, then one summary line', async (t) => {
  const dir = t.testdir({ 'bad.conf': 'a = 1\na = 2\nb = nope\n' });
  const r = await runBin(t, 'toolhost', ['lighttpd', 'check', '--no-lighttpd', 'bad.conf'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, /^bad\.conf:2:1: error: var\.a is already set in this scope .*\[TH_ERR_LIGHTTPD_DUPLICATE_KEY\]\n {2}a = 2\n {2}\^\n/m);
  t.match(r.stderr, /^bad\.conf:3:5: error: Undefined config variable: var\.nope/m);
  t.match(r.stderr, /\ntoolhost: bad\.conf has 2 error\(s\); fix them \(positions above\) and run the command again \[TH_ERR_LIGHTTPD_CONFIG_INVALID\]\n$/);
  t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

t.test('toolhost lighttpd check also asks the real lighttpd, which rejects bad option values', async (t) => {
  const dir = t.testdir({ 'types.conf': 'server.document-root = "/tmp"\nserver.range-requests = "(enable|disable)"\n' });
  const r = await runBin(t, 'toolhost', ['lighttpd', 'check', 'types.conf'], { cwd: dir });
  t.equal(r.code, 1);
  t.match(r.stderr, /unexpected type for key: server\.range-requests/);
  t.match(r.stderr, /\[TH_ERR_LIGHTTPD_REJECTED\]\n$/);
});

t.test('toolhost lighttpd print writes what lighttpd -p writes', async (t) => {
  const text = 'server.document-root = "/tmp"\nm = ("a" => 1)\n$HTTP["url"] =~ "^/x" { m += ("b" => 2) } else { s = "e" }\ninclude_shell "echo z = 1"\n';
  const dir = t.testdir({ 'p.conf': text });
  const r = await runBin(t, 'toolhost', ['lighttpd', 'print', 'p.conf'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  const theirs = spawnSync(lighttpdBinary(), ['-p', '-f', path.join(dir, 'p.conf')], { cwd: dir, encoding: 'utf8' });
  const norm = (s: string): string => s.replace(/^(\s*var\.(?:CWD|PID)\s*= ).*$/gm, '$1X');
  t.equal(norm(r.stdout), norm(theirs.stdout));
});

t.test('toolhost lighttpd lex and parse show the stages', async (t) => {
  const dir = t.testdir({ 'l.conf': 'a = "x" + 1\n' });
  const lexed = await runBin(t, 'toolhost', ['lighttpd', 'lex', 'l.conf'], { cwd: dir });
  t.equal(lexed.code, 0);
  t.match(lexed.stdout, /^1:1\tkey\t"a"\n1:3\tassign\t"="\n1:5\tstring\t"\\"x\\""\n/);
  const parsed = await runBin(t, 'toolhost', ['lighttpd', 'parse', 'l.conf'], { cwd: dir });
  t.equal(parsed.code, 0);
  const tree = JSON.parse(parsed.stdout) as { kind: string; op: string; at: string }[];
  t.same([tree[0]?.kind, tree[0]?.op, tree[0]?.at], ['assign', '=', '1:1']);
});

t.test('a file that cannot be read is one line and exit 1', async (t) => {
  const dir = t.testdir();
  const r = await runBin(t, 'toolhost', ['lighttpd', 'print', 'missing.conf'], { cwd: dir });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'toolhost: cannot read missing.conf: ENOENT; check that the file exists and is readable [TH_ERR_FILE_UNREADABLE]\n');
});

t.test('a usage error is exit 2 with a pointer to --help', async (t) => {
  const r = await runBin(t, 'toolhost', ['lighttpd', 'check'], {});
  t.equal(r.code, 2);
  t.match(r.stderr, /missing required argument 'file'/);
  t.match(r.stderr, /--help/);
});

t.test('toolhost lighttpd compat reports alone, concatenated and merged results for a directory', async (t) => {
  const dir = t.testdir({
    corpus: {
      '01-redefines.conf': 'server.document-root = "/tmp"\nindex-file.names = ("a.html")\n',
      '02-plus.conf': 'mimetype.assign += (".txt" => "text/x-mine")\n',
      '03-broken.conf': 'a = 1\na = 2\n',
    },
  });
  writeFileSync(path.join(dir, 'corpus', 'README.md'), 'not a config\n');
  const r = await runBin(t, 'toolhost', ['lighttpd', 'compat', 'corpus'], { cwd: dir });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /alone ok {3}concat BAD {2}merged ok {3}01-redefines\.conf/);
  t.match(r.stdout, /alone ok {3}concat BAD {2}merged ok {3}02-plus\.conf/);
  t.match(r.stdout, /alone BAD {2}concat BAD {2}merged BAD {2}03-broken\.conf/);
  t.match(r.stdout, /3 files: lighttpd accepts 2 alone; template\+file concatenated \(Toolforge's way\): 0; toolhost merge: 2 \(2 of the 2 accepted alone\)/);
});

t.test('toolhost lighttpd check on 10 KB of nested parentheses or 3,000 nested conditions: a coded, positioned error, no crash (#10)', async (t) => {
  const dir = t.testdir({
    'deep.conf': `x = ${'('.repeat(10_000)}${')'.repeat(10_000)}\n`,
    'nested.conf': `${'$HTTP["url"] =~ "a" {\n'.repeat(3000)}z = 1\n${'}\n'.repeat(3000)}`,
  });
  const parens = await runBin(t, 'toolhost', ['lighttpd', 'check', '--no-lighttpd', 'deep.conf'], { cwd: dir });
  t.equal(parens.code, 1);
  t.match(parens.stderr, /^deep\.conf:1:69: error: blocks and arrays nest more than 64 levels deep here.*\[TH_ERR_LIGHTTPD_NESTING_TOO_DEEP\]\n/m);
  t.notMatch(parens.stderr, /RangeError|Maximum call stack/);
  const blocks = await runBin(t, 'toolhost', ['lighttpd', 'check', '--no-lighttpd', 'nested.conf'], { cwd: dir });
  t.equal(blocks.code, 1);
  t.match(blocks.stderr, /^nested\.conf:65:21: error: blocks and arrays nest more than 64 levels deep here.*\[TH_ERR_LIGHTTPD_NESTING_TOO_DEEP\]\n/m);
  t.notMatch(blocks.stderr, /RangeError|Maximum call stack/);
});
