import t from 'tap';
import { lex, makeSource, positionOf } from '../../src/lighttpd/index.js';

function kinds(text: string): string[] {
  return lex(makeSource('t.conf', text)).tokens.map((tok) => (tok.kind === 'eol' || tok.kind === 'eof' ? tok.kind : `${tok.kind}:${tok.value}`));
}

function codes(text: string): string[] {
  return lex(makeSource('t.conf', text)).diagnostics.items.map((d) => d.code);
}

t.test('assignment operators =, += and := are distinct tokens', async (t) => {
  t.same(kinds('a = 1\nb += 2\nc := 3'), ['key:a', 'assign:=', 'integer:1', 'eol', 'key:b', 'append:+=', 'integer:2', 'eol', 'key:c', 'force::=', 'integer:3', 'eol', 'eof']);
});

t.test('the only string escape is \\" and other backslashes stay literal', async (t) => {
  const toks = lex(makeSource('t', 'a = "say \\"hi\\" \\.php$"')).tokens;
  t.equal(toks[2]?.value, 'say "hi" \\.php$');
  t.equal(toks[2]?.text, '"say \\"hi\\" \\.php$"', 'the token keeps its source text');
});

t.test('"trail\\\\" is an unterminated string, as in lighttpd', async (t) => {
  t.same(codes('a = "trail\\\\"\n'), ['TH_ERR_LIGHTTPD_UNTERMINATED_STRING']);
});

t.test('strings may span lines', async (t) => {
  const toks = lex(makeSource('t', 'a = "x\ny"')).tokens;
  t.equal(toks[2]?.value, 'x\ny');
});

t.test('newlines, blank lines, indentation and comments fold into one EOL outside parentheses', async (t) => {
  t.same(kinds('a = 1 # c\n\n   # more\n\r\nb = 2'), ['key:a', 'assign:=', 'integer:1', 'eol', 'key:b', 'assign:=', 'integer:2', 'eol', 'eof']);
});

t.test('inside parentheses newlines and comments are whitespace; a trailing comma is a token', async (t) => {
  t.same(kinds('a = (\n "x", # c\n "y",\n)'), ['key:a', 'assign:=', 'lparen:(', 'string:x', 'comma:,', 'string:y', 'comma:,', 'rparen:)', 'eol', 'eof']);
});

t.test('CRLF and CR line ends count as line breaks for positions', async (t) => {
  const src = makeSource('t', 'a = 1\r\nb = 2\rc = 3');
  const toks = lex(src).tokens.filter((x) => x.kind === 'key');
  t.same(toks.map((x) => positionOf(src, x.start)), [{ line: 1, col: 1 }, { line: 2, col: 1 }, { line: 3, col: 1 }]);
});

t.test('a non-breaking space is whitespace', async (t) => {
  t.same(kinds('\u00a0a\u00a0=\u00a01'), ['key:a', 'assign:=', 'integer:1', 'eol', 'eof']);
  t.same(codes('\u00a0a = 1'), []);
});

t.test('keys use letters, digits, . _ -; a leading digit starts an integer; -1 is a key', async (t) => {
  t.same(kinds('server.max-keep_alive = 0080'), ['key:server.max-keep_alive', 'assign:=', 'integer:0080', 'eol', 'eof']);
  t.same(kinds('a = -1'), ['key:a', 'assign:=', 'key:-1', 'eol', 'eof']);
});

t.test('include, include_shell, global and else are keywords; if is not (lighttpd 1.4.69)', async (t) => {
  t.same(kinds('include include_shell global else if'), ['include:include', 'include_shell:include_shell', 'global:global', 'else:else', 'key:if', 'eol', 'eof']);
});

t.test('conditions: $NAME["field"] then one of == != =~ !~ =^ =$', async (t) => {
  for (const op of ['==', '!=', '=~', '!~', '=^', '=$']) {
    t.same(kinds(`$HTTP [ "url" ] ${op} "x" {}`), ['dollar:$', 'name:HTTP', 'lbracket:[', 'string:url', 'rbracket:]', `condop:${op}`, 'string:x', 'lbrace:{', 'rbrace:}', 'eol', 'eof'], op);
  }
});

t.test('a bare name inside the condition brackets is an invalid character', async (t) => {
  t.same(codes('$HTTP[var.x] == "a" {}').slice(0, 1), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
});

t.test('a wrong condition operator says which ones exist', async (t) => {
  const d = lex(makeSource('t', '$HTTP["url"] =! "a" {}')).diagnostics.items[0];
  t.equal(d?.code, 'TH_ERR_LIGHTTPD_SYNTAX');
  t.match(d?.message, /only == =~ =\^ =\$ are allowed/);
});

t.test('text after } on the same line ends the statement there', async (t) => {
  t.same(kinds('} else {'), ['rbrace:}', 'eol', 'else:else', 'lbrace:{', 'eol', 'eof']);
  t.same(kinds('}\nelse'), ['rbrace:}', 'eol', 'else:else', 'eol', 'eof']);
});

t.test('a comma outside parentheses is skipped, as lighttpd does', async (t) => {
  t.same(kinds('a = "x",'), ['key:a', 'assign:=', 'string:x', 'eol', 'eof']);
});

t.test('= inside parentheses must be =>', async (t) => {
  const d = lex(makeSource('t', 'a = ("x" = 1)')).diagnostics.items[0];
  t.match(d?.message, /use => for assignments in arrays/);
});

t.test('characters outside the language are reported with their position, and lexing goes on', async (t) => {
  const src = makeSource('t', 'a = 1;\nb = @\n');
  const ds = lex(src).diagnostics.items;
  t.same(ds.map((d) => d.code), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER', 'TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
  t.same(ds.map((d) => positionOf(src, d.start)), [{ line: 1, col: 6 }, { line: 2, col: 5 }]);
  t.same(codes("a = 'x'"), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER', 'TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
});

t.test('a lone : or ! is an error', async (t) => {
  t.same(codes('a : 1'), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
  t.same(codes('a ! 1'), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
});

t.test('a stray ) is reported', async (t) => {
  t.same(codes('a = 1 )'), ['TH_ERR_LIGHTTPD_SYNTAX']);
});

t.test('a NUL inside a string is reported', async (t) => {
  t.same(codes('a = "x\0y"'), ['TH_ERR_LIGHTTPD_INVALID_CHARACTER']);
});
