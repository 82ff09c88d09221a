import t from 'tap';
import { makeSource, parse, positionOf, type Statement } from '../../src/lighttpd/index.js';

function parseText(text: string) {
  const source = makeSource('t.conf', text);
  const { file, diagnostics } = parse(source);
  return { source, statements: file.statements, diagnostics: diagnostics.items };
}

function kindsOf(statements: Statement[]): string[] {
  return statements.map((s) => s.kind);
}

t.test('statements need no terminator: "a = 1 b = 2" on one line is two assignments', async (t) => {
  const { statements, diagnostics } = parseText('a = 1 b = 2');
  t.same(diagnostics, []);
  t.same(kindsOf(statements), ['assign', 'assign']);
});

t.test('expressions join operands with +, arrays nest, keys map with =>, trailing commas and () are fine', async (t) => {
  const { statements, diagnostics } = parseText('a = "x" + var.y + 3\nb = ("k" => ("n" => 1,), "v", )\nc = ()');
  t.same(diagnostics, []);
  const [a, b, c] = statements;
  t.equal(a?.kind === 'assign' && a.value.operands.length, 3);
  t.equal(b?.kind === 'assign' && b.value.operands[0]?.kind, 'array');
  t.equal(c?.kind === 'assign' && c.value.operands[0]?.kind === 'array' && c.value.operands[0].elements.length, 0);
});

t.test('condition chains: else with a condition, else catch-all, blank lines before else', async (t) => {
  const { statements, diagnostics } = parseText('$HTTP["url"] =~ "a" {\n x = 1\n}\n\n# note\nelse $HTTP["host"] == "h" { y = 1 } else { z = 1 }\n');
  t.same(diagnostics, []);
  t.same(kindsOf(statements), ['chain']);
  const chain = statements[0];
  t.same(chain?.kind === 'chain' && chain.branches.map((b) => b.kind), ['condition', 'condition', 'else']);
});

t.test('conditions nest, and global { } and include statements parse', async (t) => {
  const { statements, diagnostics } = parseText('$HTTP["host"] == "a" { $HTTP["url"] =^ "/b" { c = 1 } }\nglobal { d = 2 }\ninclude "x.conf"\ninclude_shell "echo"');
  t.same(diagnostics, []);
  t.same(kindsOf(statements), ['chain', 'global', 'include', 'include_shell']);
});

t.test('every node keeps where it starts', async (t) => {
  const { source, statements } = parseText('\n\n  server.tag = "x"\n$HTTP["url"] == "/" {\n  y = 1\n}');
  t.same(positionOf(source, statements[0]?.start ?? -1), { line: 3, col: 3 });
  const chain = statements[1];
  if (chain?.kind !== 'chain') throw new Error('expected a chain');
  const cond = chain.branches[0];
  t.same(positionOf(source, cond?.start ?? -1), { line: 4, col: 1 });
  t.same(positionOf(source, cond?.body[0]?.start ?? -1), { line: 5, col: 3 });
});

t.test('errors where lighttpd 1.4.69 silently drops tokens are reported', async (t) => {
  const cases: [string, RegExp][] = [
    ['}\n', /found "}" without a matching "{"; remove it/],
    ['else { a = 1 }\n', /expected a condition before "else"/],
    ['server.tag = = "a"\n', /expected a value/],
    ['( "a", "b" )\n', /expected a statement/],
    ['server.tag = "a" "b"\n', /join values with \+/],
  ];
  for (const [text, message] of cases) {
    const { diagnostics } = parseText(text);
    t.equal(diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_SYNTAX', text);
    t.match(diagnostics[0]?.message, message, text);
  }
});

t.test('"if" and "else if" (keywords only since lighttpd 1.4.74) are rejected with advice', async (t) => {
  const a = parseText('if $HTTP["url"] =^ "/a" { server.tag = "a" }\n');
  t.equal(a.diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_IF_KEYWORD');
  t.match(a.diagnostics[0]?.message, /write the condition without "if"/);
  const b = parseText('$HTTP["url"] =^ "/a" { x = 1 } else if $HTTP["url"] =^ "/b" { x = 2 }\n');
  t.equal(b.diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_IF_KEYWORD');
});

t.test('a condition after an else catch-all is unreachable', async (t) => {
  const { diagnostics } = parseText('$HTTP["url"] =^ "/a" { x = 1 } else { x = 2 } else $HTTP["url"] =^ "/b" { x = 3 }\n');
  t.same(diagnostics.map((d) => d.code), ['TH_ERR_LIGHTTPD_UNREACHABLE_ELSE']);
});

t.test('a missing } and a dangling = at end of file are errors', async (t) => {
  t.match(parseText('$HTTP["url"] =^ "/a" {\n x = 1\n').diagnostics[0]?.message, /expected a "}" closing this "{", found the end of the file/);
  t.match(parseText('x =').diagnostics[0]?.message, /expected a value/);
  t.match(parseText('x = ("a", "b"').diagnostics[0]?.message, /\(|\)/);
});

t.test('a missing assignment operator is named', async (t) => {
  const d = parseText('server.tag "a"\n').diagnostics[0];
  t.match(d?.message, /expected an assignment operator \(=, \+= or :=\) after "server.tag"/);
});

t.test('after an error the parser goes on: one run reports every broken statement', async (t) => {
  const { diagnostics, statements } = parseText('a = = 1\nb = 2\nc 3\nd = 4\n');
  t.equal(diagnostics.length, 2);
  t.same(statements.map((s) => (s.kind === 'assign' ? s.key.value : s.kind)), ['b', 'd']);
});

t.test('array elements need commas between them', async (t) => {
  t.match(parseText('a = ("x" "y")').diagnostics[0]?.message, /expected "," or "\)"/);
});

t.test('nesting deeper than the limit is one positioned error, not a stack overflow (#10)', async (t) => {
  // 10 KB of "(": an array nested 10 000 deep
  const parens = parseText(`x = ${'('.repeat(10_000)}${')'.repeat(10_000)}\ny = 1\n`);
  const deep = parens.diagnostics.filter((d) => d.code === 'TH_ERR_LIGHTTPD_NESTING_TOO_DEEP');
  t.equal(deep.length, 1, 'one error for the whole nest');
  t.equal(deep[0]?.start, 4 + 64, 'at the first ( past the limit');
  t.same(positionOf(parens.source, deep[0]?.start ?? -1), { line: 1, col: 4 + 64 + 1 });
  t.same(kindsOf(parens.statements), ['assign'], 'the next statement still parses');
  // 3 000 nested conditions
  const text = `${'$HTTP["url"] =~ "a" {\n'.repeat(3000)}z = 1\n${'}\n'.repeat(3000)}w = 2\n`;
  const blocks = parseText(text);
  const tooDeep = blocks.diagnostics.filter((d) => d.code === 'TH_ERR_LIGHTTPD_NESTING_TOO_DEEP');
  t.equal(tooDeep.length, 1);
  t.same(positionOf(blocks.source, tooDeep[0]?.start ?? -1), { line: 65, col: 21 }, 'at the { that opens level 65');
  t.same(blocks.diagnostics.filter((d) => d.code !== 'TH_ERR_LIGHTTPD_NESTING_TOO_DEEP'), [], 'and nothing else is reported');
  t.same(kindsOf(blocks.statements), ['chain', 'assign'], 'the statement after the nest parses');
});
