// parseFlatYaml reads flat manifests without the yaml package (#14): whatever it reads, it must
// read exactly as the yaml package does, and it must read what toolhost itself writes.
import fc from 'fast-check';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { parseFlatYaml } from '../src/flat-yaml.js';

/** equal as parsed values, NaN and -0 included */
function sameValues(a: Record<string, unknown>, b: unknown): boolean {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return false;
  const bk = Object.keys(b);
  return bk.length === Object.keys(a).length && bk.every((k) => Object.hasOwn(a, k) && Object.is(a[k], (b as Record<string, unknown>)[k]));
}

// pieces chosen to hit YAML's corners: indicators, quotes, comments, numbers in every notation,
// null and boolean spellings, spaces, tabs, CR, nesting and list syntax
const pieces = ['a', 'web', 'z9', '-', '+', '.', '~', ':', ': ', '#', ' #', ' ', '  ', '\t', '\r', '"', "'", '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '%', '@', '`', '?', '=', '0', '7', '1e3', '0o17', '0x1F', '.5', '5.', '.inf', '-.Inf', '.NaN', 'null', 'Null', '~', 'true', 'FALSE', 'yes', 'on', '---', '...', '- ', '/', '_'];
const token = fc.constantFrom(...pieces);
const text = fc.array(token, { maxLength: 6 }).map((p) => p.join(''));
// and values near the edge of what it reads: plain words, numbers, spaces, a '-' in any place
const nearlyPlain = fc.array(fc.constantFrom('a', 'b2', '0', '7', '-1', '1e3', '0o17', '0x1F', '.5', '5.', '.inf', '-.Inf', '.NaN', 'null', '~', '~x', 'True', 'FALSE', 'yes', '-', '+', '.', '/', '_', '=', ' ', '  '), { maxLength: 4 }).map((p) => p.join(''));
const line = fc.oneof(
  fc.tuple(text, text).map(([k, v]) => `${k}: ${v}`),
  fc.tuple(fc.constantFrom('web', 'backend', 'version', 'cpu', 'health-check-script', 'k_1', 'a.b'), nearlyPlain).map(([k, v]) => `${k}: ${v}`),
  fc.tuple(fc.constantFrom('web', 'backend', 'version', 'cpu', 'true', 'null', 'a.b', 'x-y'), text).map(([k, v]) => `${k}: ${v}`),
  fc.constantFrom('', '# a comment', '  indented: 1', '- item', 'key:', 'key:  spaced  ', 'command:', '---'),
  text,
);
const nearLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom('web', 'backend', 'version', 'cpu', 'health-check-script', 'k_1', 'a.b', 'x'), nearlyPlain).map(([k, v]) => `${k}: ${v}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '# a comment') },
  { weight: 1, arbitrary: line },
);
const documents = fc.oneof(fc.array(line, { maxLength: 6 }), fc.array(nearLine, { maxLength: 6 })).map((lines) => `${lines.join('\n')}\n`);

t.test('whatever it reads, it reads as the yaml package does', async (t) => {
  let read = 0;
  fc.assert(
    fc.property(documents, (doc) => {
      const flat = parseFlatYaml(doc);
      if (flat === null) return true;
      read++;
      let expected: unknown;
      try {
        expected = parse(doc);
      } catch {
        return false;
      }
      return sameValues(flat, expected);
    }),
    { numRuns: 5000 },
  );
  t.ok(read > 500, `${read} of 5000 generated documents were read without the yaml package, each as yaml reads it`);
});

t.test('it reads the flat manifests toolhost writes, and declines what is not flat', async (t) => {
  const header = '# This file is used by toolhost (webservice, toolhost monitor). Please do not edit it by hand:\n# webservice start/stop change it.\n';
  for (const data of [
    { backend: 'toolhost', web: 'lighttpd', version: 1 },
    { backend: 'toolhost', web: 'lighttpd-plain', version: 1, 'health-check-script': './check.sh --quick' },
    { backend: 'toolhost', web: 'generic', version: 1, mem: '512Mi', cpu: 0.5, emails: 'onfailure' },
  ]) {
    const doc = header + stringify(data);
    t.same(parseFlatYaml(doc), data, `read: ${JSON.stringify(data)}`);
  }
  for (const doc of ['web: generic\ncommand:\n  - ./server.sh\n', 'web: "lighttpd"\n', 'web: lighttpd # a comment\n', 'web: a: b\n', 'web: [a]\n', '# only a comment\n', 'web: a\nweb: b\n', 'null: 1\n', 'web: a\r\n']) {
    t.equal(parseFlatYaml(doc), null, `declined: ${JSON.stringify(doc)}`);
  }
});
