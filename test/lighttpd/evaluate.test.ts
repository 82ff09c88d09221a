import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { evaluate, formatDiagnostic, makeSource, nodeHost, parse, positionOf, type Diagnostic } from '../../src/lighttpd/index.js';

function run(text: string, options: { cwd?: string; env?: Record<string, string>; name?: string } = {}) {
  const name = options.name ?? 'my.conf';
  const source = makeSource(name, text, { path: options.cwd ? path.join(options.cwd, name) : undefined });
  const parsed = parse(source);
  const evaluated = evaluate(parsed.file, nodeHost({ env: options.env ?? {}, cwd: options.cwd ?? '/', pid: 1 }));
  const diagnostics: Diagnostic[] = [...parsed.diagnostics.items, ...evaluated.diagnostics];
  return { source, evaluated, diagnostics };
}

function at(d: Diagnostic | undefined): string {
  if (!d) return 'none';
  const p = positionOf(d.source, d.start);
  return `${d.source.name}:${p.line}:${p.col} ${d.code}`;
}

t.test('a duplicate = names both places and what to do instead', async (t) => {
  const { diagnostics } = run('server.tag = "a"\n\nserver.tag = "b"\n');
  t.equal(at(diagnostics[0]), 'my.conf:3:1 TH_ERR_LIGHTTPD_DUPLICATE_KEY');
  t.match(diagnostics[0]?.message, /already set in this scope \(global scope\) at my\.conf:1:1; use := to replace it or \+= to append/);
});

t.test('the same key in a condition block is not a duplicate of the global one', async (t) => {
  const { diagnostics } = run('server.tag = "a"\n$HTTP["url"] =^ "/x" { server.tag = "b" }\n');
  t.same(diagnostics, []);
});

t.test('an undefined variable points at the reference', async (t) => {
  const { diagnostics } = run('a = 1\nb = "x" + missing\n');
  t.equal(at(diagnostics[0]), 'my.conf:2:11 TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE');
  t.match(diagnostics[0]?.message, /var\.missing/);
});

t.test('env. reads the given environment; unset is an error naming the variable', async (t) => {
  t.same(run('h = env.HOME', { env: { HOME: '/data/project/x' } }).evaluated.global.scope.get('var.h')?.value, { type: 'string', value: '/data/project/x' });
  const { diagnostics } = run('h = env.NOPE');
  t.equal(diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_UNDEFINED_ENV');
  t.match(diagnostics[0]?.message, /Undefined env variable: NOPE/);
});

t.test('type mismatches and duplicate array keys say what to do', async (t) => {
  const mismatch = run('a = ("x")\na += "y"\n').diagnostics[0];
  t.equal(mismatch?.code, 'TH_ERR_LIGHTTPD_TYPE_MISMATCH');
  t.match(mismatch?.message, /cannot merge an array with a string/);
  const dup = run('m = (".php" => "a")\nm += (".php" => "b")\n').diagnostics[0];
  t.equal(at(dup), 'my.conf:2:6 TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY');
  t.match(dup?.message, /duplicate array key "\.php" \(the array already maps it to "a"\)/);
  t.equal(run('a = ((1) => 2)').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_ARRAY_KEY_TYPE');
});

t.test('condition errors: unknown field, non-string value, bad IP, inside global', async (t) => {
  const unknown = run('$HTTP["URL"] =^ "/x" { a = 1 }').diagnostics[0];
  t.equal(unknown?.code, 'TH_ERR_LIGHTTPD_UNKNOWN_FIELD');
  t.match(unknown?.message, /case-sensitive: use one of url, host/);
  t.equal(run('$HTTP["url"] == 7 { a = 1 }').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_CONDITION_VALUE');
  t.equal(run('$HTTP["remoteip"] == "1.2.3.4/40" { a = 1 }').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INVALID_IP');
  t.same(run('$HTTP["remoteip"] == "2001:db8::/32" { a = 1 }').diagnostics, []);
  t.equal(run('global { $HTTP["url"] =^ "/" { a = 1 } }').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_CONDITION_IN_GLOBAL');
});

t.test('env. cannot be assigned', async (t) => {
  t.equal(run('env.X = "1"').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_ENV_ASSIGN');
});

t.test('a number beyond 64 bits is an error; within, it wraps like lighttpd', async (t) => {
  t.equal(run('a = 99999999999999999999').diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INVALID_NUMBER');
  t.same(run('a = 2147483648').evaluated.global.scope.get('var.a')?.value, { type: 'integer', value: -2147483648 });
});

t.test('server-wide options inside a condition are a warning, not an error', async (t) => {
  const d = run('$HTTP["url"] =^ "/a" { server.modules = ("mod_status") }').diagnostics;
  t.same(d.map((x) => `${x.severity} ${x.code}`), ['warning TH_WARN_LIGHTTPD_SERVER_OPTION_IN_CONDITION']);
});

t.test('includes: relative to the main file, an error inside is reported for the included file and the including line', async (t) => {
  const dir = t.testdir();
  mkdirSync(path.join(dir, 'conf.d'));
  writeFileSync(path.join(dir, 'conf.d', 'bad.conf'), '\nx = nope\n');
  const { diagnostics } = run('include "conf.d/bad.conf"\n', { cwd: dir, name: 'main.conf' });
  t.equal(diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE');
  t.equal(positionOf(diagnostics[0]!.source, diagnostics[0]!.start).line, 2);
  t.match(formatDiagnostic(diagnostics[0]!), /bad\.conf:2:5: error: .*\n  included from main\.conf:1:1/);
});

t.test('include: missing file, glob without matches, cycles, depth and non-string paths', async (t) => {
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'self.conf'), 'include "self.conf"\n');
  t.equal(run('include "nope.conf"', { cwd: dir }).diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INCLUDE_NOT_FOUND');
  t.same(run('include "nope-*.conf"', { cwd: dir }).diagnostics, []);
  t.equal(run('include "self.conf"', { cwd: dir, name: 'self.conf' }).diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INCLUDE_DEPTH');
  t.equal(run('include ("a")', { cwd: dir }).diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INCLUDE_VALUE');
});

t.test('globs in includes: *, ?, [..] and {a,b}, in sorted order', async (t) => {
  const dir = t.testdir();
  for (const f of ['b.conf', 'a.conf', 'c1.conf', 'x.conf']) writeFileSync(path.join(dir, f), `v_${f.replace('.conf', '')} = 1\n`);
  const { evaluated, diagnostics } = run('include "{a,b}.conf"\ninclude "c?.conf"\ninclude "[x].conf"', { cwd: dir });
  t.same(diagnostics, []);
  t.same(evaluated.global.scope.entries.map((e) => e.key).slice(2), ['var.v_a', 'var.v_b', 'var.v_c1', 'var.v_x']);
});

t.test('include_shell runs the command in the main file directory; a failure names the exit code', async (t) => {
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'gen.sh'), 'printf \'here = "%s"\\n\' "$(pwd)"\n');
  const ok = run('include_shell "sh gen.sh"', { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
  t.same(ok.diagnostics, []);
  t.same(ok.evaluated.global.scope.get('var.here')?.value, { type: 'string', value: dir });
  const failed = run('include_shell "exit 3"', { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
  t.equal(failed.diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_INCLUDE_SHELL_FAILED');
  t.match(failed.diagnostics[0]?.message, /exited non-zero: 3/);
});

t.test('a size limit stops a configuration that grows without end', async (t) => {
  const dir = t.testdir();
  writeFileSync(path.join(dir, 'big.conf'), `a = "${'x'.repeat(2000)}"\n`);
  const source = makeSource('main.conf', 'include "big.conf"', { path: path.join(dir, 'main.conf') });
  const evaluated = evaluate(parse(source).file, nodeHost({ env: {}, cwd: dir }), { maxTotalSize: 1000 });
  t.equal(evaluated.diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_TOO_LARGE');
});

t.test('a diagnostic prints file:line:col, severity, message and code, then the line and a caret', async (t) => {
  const { diagnostics } = run('a = 1\nb = a + undefined_thing\n');
  t.equal(formatDiagnostic(diagnostics[0]!), [
    'my.conf:2:9: error: Undefined config variable: var.undefined_thing; set it before this line, in this block or an enclosing one [TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE]',
    '  b = a + undefined_thing',
    '          ^^^^^^^^^^^^^^^',
  ].join('\n'));
});

t.test('a long line is shown scrolled so the caret stays within 80 columns', async (t) => {
  const { diagnostics } = run(`a = "${'x'.repeat(120)}" + nope\n`);
  const lines = formatDiagnostic(diagnostics[0]!).split('\n');
  t.ok((lines[1]?.length ?? 0) <= 82);
  t.equal(lines[2]?.trim(), '^^^^');
});
