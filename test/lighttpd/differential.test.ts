// lighttpd is the oracle: for each configuration written here, `toolhost lighttpd print`'s
// engine and the real `lighttpd -p -f` must print the same text (only var.CWD and var.PID
// may differ), and must agree on which configurations are rejected.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { evaluate, makeSource, nodeHost, parse, positionOf, printConfig } from '../../src/lighttpd/index.js';
import { lighttpdBinary } from '../helpers/index.js';

const ACCEPTED: Record<string, string> = {
  'plain values': 'server.document-root = "/tmp"\nserver.port = 8080\nserver.tag = "q\\"uote"\n',
  'bare names are var.': 'x = 1\nvar.y = x + 1\nz = var.y\n',
  'integers: leading zeros, wrap to 32 bits like lighttpd': 'a = 0080\nb = 2147483647 + 1\nc = 4294967297\n',
  'string and integer concatenation, left to right': 'a = "v" + 1 + 2\nb = 1 + 2 + "x"\nserver.port = 80\nd = "p" + server.port\n',
  'arrays: short lists inline, long ones one per line, nested, keyed with padding': 'a = ("a","b","c","d","e")\nb = ("a","b","c","d","e","f")\nc = ("k" => ("x" => 1, "long-key" => ("z")), "e" => 3)\nd = ()\ne = (1 => "a", 2 => "b")\nf = (("a"), "b")\n',
  'array concatenation with +': 'a = ("x") + ("y", "z")\nb = ("k" => 1) + ("l" => 2)\n',
  '+= on an existing key re-inserts it at the end, the last key takes its slot': 'x = 1\ny = 2\nz = 3\nx += 1\n',
  '+= on a missing key acts as =': 'm += ("a" => 1)\ns += "x"\n',
  '+= inside a block copies the global value (a snapshot)': 'm = ("a" => 1)\n$HTTP["url"] =^ "/x" { m += ("b" => 2) }\nm += ("c" => 3)\n',
  ':= replaces in place and adds when missing': 'a = 1\nb = 2\na := 5\nc := 6\n$HTTP["host"] == "h" { a := 7 }\n',
  'equal duplicate array key through + is skipped': 'x = ("a" => 1) + ("A" => 1)\n',
  'keys are case-insensitive and keep the spelling of the last +=': 'Server.Name = "a"\nserver.name += "b"\n',
  'comma after a value outside parentheses is ignored': 'a = "x",\n',
  'comments anywhere, CRLF, tabs and non-breaking spaces': '# top\r\na = (\t"x", # in array\r\n "y" )\r\n\u00a0b = 1 # after\r\n$HTTP["url"] == "/" { c = 1 } # after brace\r\n',
  'multi-line strings': 'a = "line1\nline2"\n',
  'condition chains with else, nesting, and the same condition re-opening its block': '$HTTP["url"] =~ "^/foo" {\n server.tag = "foo"\n $HTTP["host"] == "x" { y = 1 }\n} else $HTTP["url"] =~ "\\.jpg$" {\n server.tag = "jpg"\n} else {\n server.tag = "else"\n}\n$HTTP["url"] =^ "/foo" { z = 1 }\n',
  'else on its own line after blank and comment lines': '$HTTP["host"] == "a" { x = 1 }\n\n# comment\nelse { x = 2 }\n',
  'regex simplification to ==, =^, =$ and what stays =~': '$HTTP["url"] =~ "^/a$" { q = 1 }\n$HTTP["url"] =~ "\\.(jpg)$" { q = 1 }\n$HTTP["url"] =~ "\\.jpg$" { q = 1 }\n$HTTP["url"] =~ "^/a/b.c" { q = 1 }\n$HTTP["url"] =~ "^/a/b\\.c$" { q = 1 }\n$HTTP["url"] =~ "png$" { q = 1 }\n$SERVER["socket"] =~ "^/x" { q = 1 }\n$HTTP["url"] !~ "^/y" { q = 1 }\n',
  'every condition field and operator': '$HTTP["host"] != "a" { q = 1 }\n$HTTP["referer"] =~ "x" { q = 1 }\n$HTTP["useragent"] =~ "bot" { q = 1 }\n$HTTP["user-agent"] =~ "bot" { q = 1 }\n$HTTP["language"] =^ "de" { q = 1 }\n$HTTP["cookie"] =~ "s=" { q = 1 }\n$HTTP["remoteip"] == "10.0.0.0/8" { q = 1 }\n$HTTP["remote-ip"] != "::1" { q = 1 }\n$HTTP["querystring"] =~ "a" { q = 1 }\n$HTTP["query-string"] =$ "b" { q = 1 }\n$HTTP["request-method"] == "POST" { q = 1 }\n$HTTP["scheme"] == "https" { q = 1 }\n$REQUEST_HEADER["X-Thing"] =~ "y" { q = 1 }\n$SERVER["socket"] == ":8080" { q = 1 }\n',
  'a condition value may be an expression': 'h = "example"\n$HTTP["host"] =~ "^(www\\.)?" + h + "$" { q = 1 }\n',
  'whitespace inside the condition brackets': '$HTTP [ "url" ] =~ "x" { q = 1 }\n',
  'global { } re-enters the global scope': '$HTTP["url"] =^ "/a" { x = 1 }\nglobal { y = 2 }\n',
  'reading a key from an enclosing scope': 'a = 1\n$HTTP["url"] =^ "/a" { b = a + 1 }\n',
  'statements after } on the same line': '$HTTP["url"] =^ "/a" { x = 1 } y = 2\n',
  'env. reads the environment': 'h = env.TOOLHOST_TEST_VALUE + "/x"\n',
  'server options inside conditions are accepted (with a warning)': '$HTTP["url"] =^ "/a" { server.modules = ("mod_status") }\n',
  'includes: relative to the main file, globs sorted, none matching is fine': 'include "inc/a.conf"\ninclude "inc/glob-*.conf"\ninclude "inc/none-*.conf"\n$HTTP["url"] =^ "/i" { include "inc/a.conf" }\n',
  'include_shell parses the command output': 'include_shell "echo shell_var = 42"\n',
  'include paths may be expressions': 'd = "inc"\ninclude d + "/a.conf"\n',
};

/** each with where toolhost reports its first error (file:line:col) and the code */
const REJECTED: Record<string, readonly [text: string, firstError: string]> = {
  'duplicate = in one scope': ['server.tag = "a"\nserver.tag = "b"\n', 'main.conf:2:1 TH_ERR_LIGHTTPD_DUPLICATE_KEY'],
  'duplicate = even with the same value, and after :=': ['a := 1\na = 1\n', 'main.conf:2:1 TH_ERR_LIGHTTPD_DUPLICATE_KEY'],
  'duplicate = in a re-opened block': ['$HTTP["url"] =~ "^/x" { a = 1 }\n$HTTP["url"] =^ "/x" { a = 2 }\n', 'main.conf:2:24 TH_ERR_LIGHTTPD_DUPLICATE_KEY'],
  'duplicate = across global { } and top level': ['a = 1\nglobal { a = 2 }\n', 'main.conf:2:10 TH_ERR_LIGHTTPD_DUPLICATE_KEY'],
  'case-insensitive duplicate key': ['server.tag = "a"\nServer.Tag = "b"\n', 'main.conf:2:1 TH_ERR_LIGHTTPD_DUPLICATE_KEY'],
  'duplicate keys in one array literal': ['x = ("a" => 1, "A" => 1)\n', 'main.conf:1:16 TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY'],
  'duplicate array key with another value through +=': ['m = (".a" => "x")\nm += (".A" => "y")\n', 'main.conf:2:6 TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY'],
  'type mismatch string + array': ['a = "x" + ("y")\n', 'main.conf:1:11 TH_ERR_LIGHTTPD_TYPE_MISMATCH'],
  'type mismatch in +=': ['a = ("x")\na += "y"\n', 'main.conf:2:6 TH_ERR_LIGHTTPD_TYPE_MISMATCH'],
  'undefined variable': ['a = b\n', 'main.conf:1:5 TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE'],
  'variable from a sibling block': ['$HTTP["url"] =^ "/a" { inner = 1 }\n$HTTP["url"] =^ "/b" { x = inner }\n', 'main.conf:2:28 TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE'],
  'undefined env variable': ['a = env.TOOLHOST_SURELY_UNSET_VARIABLE\n', 'main.conf:1:5 TH_ERR_LIGHTTPD_UNDEFINED_ENV'],
  'setting env.': ['env.FOO = "x"\n', 'main.conf:1:1 TH_ERR_LIGHTTPD_ENV_ASSIGN'],
  'appending to env.': ['env.FOO += "x"\n', 'main.conf:1:1 TH_ERR_LIGHTTPD_ENV_ASSIGN'],
  'unknown condition field (case-sensitive)': ['$HTTP["URL"] =^ "/x" { a = 1 }\n', 'main.conf:1:1 TH_ERR_LIGHTTPD_UNKNOWN_FIELD'],
  'unknown $SERVER field': ['$SERVER["port"] == "80" { a = 1 }\n', 'main.conf:1:1 TH_ERR_LIGHTTPD_UNKNOWN_FIELD'],
  'integer condition value': ['$HTTP["url"] == 1 { a = 1 }\n', 'main.conf:1:17 TH_ERR_LIGHTTPD_CONDITION_VALUE'],
  'invalid IP in remoteip': ['$HTTP["remoteip"] == "999.1.1.1" { a = 1 }\n', 'main.conf:1:22 TH_ERR_LIGHTTPD_INVALID_IP'],
  'condition inside global { }': ['global { $HTTP["url"] =^ "/a" { a = 1 } }\n', 'main.conf:1:10 TH_ERR_LIGHTTPD_CONDITION_IN_GLOBAL'],
  'unreachable condition after else catch-all': ['$HTTP["url"] =^ "/a" { a = 1 } else { a = 2 } else $HTTP["url"] =^ "/b" { a = 3 }\n', 'main.conf:1:47 TH_ERR_LIGHTTPD_UNREACHABLE_ELSE'],
  'missing closing quote': ['a = "x\n', 'main.conf:1:5 TH_ERR_LIGHTTPD_UNTERMINATED_STRING'],
  'invalid character': ['a = 1;\n', 'main.conf:1:6 TH_ERR_LIGHTTPD_INVALID_CHARACTER'],
  'missing }': ['$HTTP["url"] =^ "/a" {\n a = 1\n', 'main.conf:1:22 TH_ERR_LIGHTTPD_SYNTAX'],
  'dangling = at end of file': ['a =\n', 'main.conf:1:4 TH_ERR_LIGHTTPD_SYNTAX'],
  '= inside an array': ['a = ("x" = 1)\n', 'main.conf:1:10 TH_ERR_LIGHTTPD_SYNTAX'],
  'number too large': ['a = 99999999999999999999\n', 'main.conf:1:5 TH_ERR_LIGHTTPD_INVALID_NUMBER'],
  'include file not found': ['include "inc/missing.conf"\n', 'main.conf:1:9 TH_ERR_LIGHTTPD_INCLUDE_NOT_FOUND'],
  'include_shell exits non-zero': ['include_shell "exit 3"\n', 'main.conf:1:1 TH_ERR_LIGHTTPD_INCLUDE_SHELL_FAILED'],
  'an error inside an included file': ['include "inc/bad.conf"\n', 'bad.conf:2:5 TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE'],
};

/** lighttpd 1.4.69 silently drops tokens after these mid-file syntax errors; toolhost reports them */
const STRICTER: Record<string, string> = {
  'stray }': 'a = 1\n}\nb = 2\n',
  'else without a condition': 'else { a = 1 }\n',
  '= =': 'server.tag = = "a"\n',
  'top-level array': '( "a", "b" )\n',
  'two values in a row': 'server.tag = "a" "b"\n',
  'if keyword': 'if $HTTP["url"] =^ "/a" { server.tag = "a" }\n',
  'else if': '$HTTP["url"] =^ "/a" { x = 1 } else if $HTTP["url"] =^ "/b" { x = 2 }\n',
};

function setup(dir: string): void {
  mkdirSync(path.join(dir, 'inc'), { recursive: true });
  writeFileSync(path.join(dir, 'inc', 'a.conf'), 'inc_a = "from a"\n');
  writeFileSync(path.join(dir, 'inc', 'glob-2.conf'), 'glob_two = 2\n');
  writeFileSync(path.join(dir, 'inc', 'glob-1.conf'), 'glob_one = 1\n');
  writeFileSync(path.join(dir, 'inc', 'bad.conf'), 'y = 2\nx = undefined_here\n');
}

const env = { ...process.env, TOOLHOST_TEST_VALUE: '/home/tool', SHELL: '/bin/sh' };

function lighttpdPrint(file: string, cwd: string): { ok: boolean; text: string } {
  const r = spawnSync(lighttpdBinary(), ['-p', '-f', file], { cwd, env, encoding: 'utf8' });
  return { ok: r.status === 0, text: r.stdout };
}

function ours(file: string, text: string, cwd: string): { ok: boolean; text: string; messages: string[]; positions: string[] } {
  const source = makeSource(file, text, { path: file });
  const parsed = parse(source);
  const evaluated = evaluate(parsed.file, nodeHost({ env, cwd }));
  const errors = [...parsed.diagnostics.items, ...evaluated.diagnostics].filter((d) => d.severity === 'error');
  const positions = errors.map((d) => {
    const at = positionOf(d.source, d.start);
    return `${path.basename(d.source.name)}:${at.line}:${at.col} ${d.code}`;
  });
  return { ok: errors.length === 0, text: printConfig(evaluated.global), messages: errors.map((d) => `${d.code}: ${d.message}`), positions };
}

const normalize = (s: string): string => s.replace(/^(\s*var\.(?:CWD|PID)\s*= ).*$/gm, '$1X');

t.test('lighttpd -p and toolhost print the same configuration', async (t) => {
  const dir = t.testdir();
  setup(dir);
  for (const [name, text] of Object.entries(ACCEPTED)) {
    const file = path.join(dir, 'main.conf');
    writeFileSync(file, text);
    const theirs = lighttpdPrint(file, dir);
    t.ok(theirs.ok, `lighttpd accepts: ${name}`);
    const mine = ours(file, text, dir);
    t.same(mine.messages, [], `toolhost accepts: ${name}`);
    t.equal(normalize(mine.text), normalize(theirs.text), name);
  }
});

t.test('lighttpd and toolhost reject the same configurations, toolhost with a positioned error', async (t) => {
  const dir = t.testdir();
  setup(dir);
  for (const [name, [text, firstError]] of Object.entries(REJECTED)) {
    const file = path.join(dir, 'main.conf');
    writeFileSync(file, text);
    const theirs = lighttpdPrint(file, dir);
    const mine = ours(file, text, dir);
    t.notOk(theirs.ok, `lighttpd rejects: ${name}`);
    t.notOk(mine.ok, `toolhost rejects: ${name}`);
    t.equal(mine.positions[0], firstError, `toolhost's first error, where the problem is: ${name}`);
  }
});

t.test('where lighttpd 1.4.69 silently drops tokens, toolhost reports an error instead', async (t) => {
  const dir = t.testdir();
  for (const [name, text] of Object.entries(STRICTER)) {
    const file = path.join(dir, 'main.conf');
    writeFileSync(file, text);
    t.ok(lighttpdPrint(file, dir).ok, `lighttpd 1.4.69 accepts (drops tokens): ${name}`);
    t.notOk(ours(file, text, dir).ok, `toolhost rejects: ${name}`);
  }
});
