// docs/errors.md lists every code; every code has a test that triggers it (STYLE rule 7).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ERRORS, ToolhostError, isToolhostError } from '../src/errors.js';
import { ROOT } from './helpers/index.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.ts') && name !== 'errors.test.ts' ? [full] : [];
  });
}

t.test('docs/errors.md documents every code, and documents no code that is gone', async (t) => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^## (TH_\w+)$/gm)].map((m) => m[1]);
  t.same([...documented].sort(), Object.keys(ERRORS).sort());
});

t.test('docs/errors.md is exactly what toolhost errors --markdown writes', async (t) => {
  const { errorsMarkdown } = await import('../src/cli/errors-command.js');
  t.equal(readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8'), errorsMarkdown());
});

t.test('every code is triggered by some test', async (t) => {
  const tests = testFiles(path.join(ROOT, 'test')).map((f) => readFileSync(f, 'utf8')).join('\n');
  const untested = Object.keys(ERRORS).filter((code) => !tests.includes(code));
  t.same(untested, []);
});

t.test('a ToolhostError carries its code, exit code and a one-line message', async (t) => {
  const err = new ToolhostError('TH_ERR_TOOL_NAME_INVALID', 'X');
  t.ok(isToolhostError(err));
  t.equal(err.exitCode, 2);
  t.equal(err.status, 400);
  t.notMatch(err.message, /\n/);
  for (const [code, def] of Object.entries(ERRORS)) t.notMatch(def.template, /\n/, code);
});

/**
 * Codes whose template is the whole message: TH_ERR_USAGE wraps the one usage line each command
 * builds from its own options (commander's wording, "usage: jsub [options] program"); one fixed
 * text cannot say which option was wrong.
 */
const WRAPPERS = new Set(['TH_ERR_USAGE']);

t.test('every code has a message of its own: no bare "%s" template (TH_ERR_USAGE aside), no template shared by two codes (#14)', async (t) => {
  const bare = Object.entries(ERRORS).filter(([code, d]) => /^\s*(%s\s*)+$/.test(d.template) && !WRAPPERS.has(code)).map(([code]) => code);
  t.same(bare, [], 'templates that are only placeholders');
  const byTemplate = new Map<string, string[]>();
  for (const [code, d] of Object.entries(ERRORS)) byTemplate.set(d.template, [...(byTemplate.get(d.template) ?? []), code]);
  t.same([...byTemplate.values()].filter((codes) => codes.length > 1), [], 'codes sharing one template');
});

t.test('an HTTP answer\'s code carries a 4xx or 5xx status; a warning exits 0', async (t) => {
  for (const [code, d] of Object.entries(ERRORS)) {
    t.ok(d.status >= 400 && d.status < 600, `${code}: status ${d.status}`);
    if (code.startsWith('TH_WARN_')) t.equal(d.exitCode, 0, `${code} is a warning`);
    else t.not(d.exitCode, 0, `${code} fails a command`);
  }
});
