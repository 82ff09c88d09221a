// Bounded fuzzing of the lexer, parser and evaluator: random text, random token soup, and
// mutations of valid configurations. The oracle: nothing is thrown, every diagnostic has a
// TH_ code and offsets inside its file, and a run ends in bounded time.
import fc from 'fast-check';
import t from 'tap';
import { ERRORS } from '../../src/errors.js';
import { evaluate, lex, makeSource, nodeHost, parse, printConfig } from '../../src/lighttpd/index.js';

const SEEDS = [
  'server.modules = ("mod_access", "mod_alias")\nserver.document-root = "/srv/x"\n',
  'mimetype.assign += (".txt" => "text/plain", ".css" => "text/css",)\n',
  '$HTTP["url"] =~ "^/foo" {\n  url.access-deny = ("")\n} else $HTTP["host"] == "a" { x = 1 } else { y = "z" + 1 }\n',
  'var.a = "x"\nb = var.a + "/y"\nc := (1, 2, ("n" => 3))\nglobal { d = 4 }\n',
  'include_shell "true"\n$REQUEST_HEADER["X-A"] !~ "b" { e += ("k" => "v") }\n',
];

const FRAGMENTS = ['=', '+=', ':=', '+', ',', '=>', '(', ')', '{', '}', '[', ']', '$', '$HTTP', '["url"]', '==', '=~', '!~', '=^', '=$', '"s"', '"', '\\"', '1', '99999999999999999999', 'key', 'var.x', 'env.HOME', 'include', 'include_shell', 'global', 'else', 'if', '#c', '\n', '\r\n', ' ', '\t', '\u00a0', ';', '\0'];

const host = nodeHost({ env: { HOME: '/nonexistent-home' }, cwd: '/nonexistent-dir', pid: 1 });
// include_shell must not run random commands: a host whose shell always "fails"
const safeHost = { ...host, runShell: () => ({ status: 1, stdout: '' }) };
const CODES = new Set(Object.keys(ERRORS));

function check(text: string): void {
  const source = makeSource('fuzz.conf', text);
  lex(source);
  const parsed = parse(source);
  const evaluated = evaluate(parsed.file, safeHost, { maxTotalSize: 1 << 16 });
  printConfig(evaluated.global);
  for (const d of [...parsed.diagnostics.items, ...evaluated.diagnostics]) {
    if (!CODES.has(d.code)) throw new Error(`unknown code ${d.code}`);
    const len = d.source.text.length;
    if (!(d.start >= 0 && d.start <= len && d.end >= d.start && d.end <= len + 1)) throw new Error(`offsets out of range: ${d.start}-${d.end} of ${len}`);
  }
}

t.test('random text never throws and yields only positioned TH_ diagnostics', async (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => check(s)), { numRuns: 1500, seed: 42 });
  t.pass();
});

t.test('random token soup never throws', async (t) => {
  const soup = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 80 }).map((a) => a.join(' '));
  fc.assert(fc.property(soup, (s) => check(s)), { numRuns: 2000, seed: 7 });
  t.pass();
});

t.test('mutated valid configurations never throw', async (t) => {
  const mutated = fc
    .tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom(...FRAGMENTS)), { maxLength: 6 }))
    .map(([seed, edits]) => {
      let s = seed;
      for (const [pos, del, ins] of edits) {
        const p = pos % (s.length + 1);
        s = s.slice(0, p) + ins + s.slice(p + del);
      }
      return s;
    });
  fc.assert(fc.property(mutated, (s) => check(s)), { numRuns: 2000, seed: 99 });
  t.pass();
});

t.test('deep nesting is handled without a stack overflow', async (t) => {
  check(`a = ${'('.repeat(2000)}${')'.repeat(2000)}`);
  check(`${'$HTTP["url"] == "x" {'.repeat(300)}${'}'.repeat(300)}`);
  t.pass();
});
