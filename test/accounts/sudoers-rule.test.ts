// A tool's sudoers rule (#14): what it says, and how it is installed — checked by the real visudo,
// renamed into place whole, never left half-written or invalid.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installSudoersRule, removeSudoersRule, renderSudoersRule, sudoersRuleFile } from '../../src/accounts/index.js';
import { workDir } from '../helpers/index.js';

const asRoot = process.getuid?.() === 0;
const visudo = ['/usr/sbin/visudo', '/usr/bin/visudo'].find((p) => existsSync(p));

t.test('the rule names each maintainer and only the tool account; names that could leave their list are refused', async (t) => {
  const text = renderSudoersRule('my-tool', ['alice', 'bob_2']);
  t.match(text, /^Defaults>tools\.my-tool use_pty$/m, 'commands run as the tool get a terminal of their own');
  t.match(text, /^alice, bob_2 ALL = \(tools\.my-tool\) NOPASSWD: ALL$/m);
  t.equal(text.split('\n').filter((l) => l && !l.startsWith('#')).length, 2, 'nothing else');
  for (const tool of ['x ALL=(ALL) NOPASSWD: ALL', 'a,root', 'x\nroot ALL=(ALL) ALL', 'a.b', '%sudo']) {
    t.throws(() => renderSudoersRule(tool, ['alice']), { code: 'TH_ERR_TOOL_NAME_INVALID' }, JSON.stringify(tool));
  }
  for (const user of ['ALL', '%sudo', '#0', '+netgroup', 'a,b', 'alice ALL=(ALL) ALL', 'bob\nroot', 'Alice', '']) {
    t.throws(() => renderSudoersRule('tool', ['alice', user]), { code: 'TH_ERR_USER_NAME_INVALID' }, JSON.stringify(user));
  }
  t.throws(() => sudoersRuleFile('../../etc/passwd'), { code: 'TH_ERR_TOOL_NAME_INVALID' });
});

t.test('installed whole: checked by visudo, mode 0440, replaced by rename; a refused rule leaves the old one; none left behind', { skip: asRoot && visudo ? false : 'needs root and sudo' }, async (t) => {
  const dir = workDir(t);
  const file = sudoersRuleFile('inst', dir);
  t.equal(installSudoersRule('inst', ['alice'], { dir }), 'written');
  t.equal(statSync(file).mode & 0o7777, 0o440);
  t.equal(statSync(file).uid, 0);
  t.equal(spawnSync(visudo as string, ['-c', '-f', file]).status, 0, 'visudo accepts it');
  t.equal(installSudoersRule('inst', ['alice', 'bob'], { dir }), 'written');
  t.match(readFileSync(file, 'utf8'), /^alice, bob ALL/m);

  // a checker that refuses: the error says so and the rule in place stays as it was
  const before = readFileSync(file, 'utf8');
  t.throws(() => installSudoersRule('inst', ['carol'], { dir, visudo: '/bin/false' }), { code: 'TH_ERR_SUDOERS_INVALID', message: /visudo refused the sudoers rule toolhost wrote for tool "inst"/ });
  t.equal(readFileSync(file, 'utf8'), before);
  t.same(readdirSync(dir).filter((n) => n.includes('inst')), ['toolhost-inst'], 'no temporary file left, and only the final name has no dot');

  // a file planted at the final name is replaced, never written through
  const target = `${dir}/planted-target`;
  writeFileSync(target, 'keep\n');
  removeSudoersRule('inst', { dir });
  spawnSync('ln', ['-s', target, file]);
  t.equal(installSudoersRule('inst', ['alice'], { dir }), 'written');
  t.equal(readFileSync(target, 'utf8'), 'keep\n', 'the link target is untouched');
  t.notOk(lstatSync(file).isSymbolicLink(), 'the link itself was replaced');

  t.equal(installSudoersRule('inst', [], { dir }), 'removed', 'no maintainers: no rule');
  t.notOk(existsSync(file));
  t.equal(installSudoersRule('inst', ['alice'], { dir: path.join(dir, 'missing') }), 'no-sudo', 'no sudoers directory: sudo is not installed');
  t.equal(installSudoersRule('inst', ['alice'], { dir, visudo: null }), 'no-sudo', 'no visudo: sudo is not installed');
  t.notOk(existsSync(file));
});
