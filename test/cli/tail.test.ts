// `webservice logs` and `jobs logs` on logs the supervisor rotates (#14): the last lines come from
// the rotated generation when the file holds fewer, and following goes on through a rotation —
// the rest of the old file, then the new one — with every line printed once.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Followed, lastLinesAcross } from '../../src/cli/tail.js';
import { workDir } from '../helpers/index.js';

t.test('the last lines reach back into FILE.1, FILE.2 when the file holds fewer', async (t) => {
  const file = path.join(workDir(t), 'error.log');
  writeFileSync(`${file}.2`, 'a\nb\n');
  writeFileSync(`${file}.1`, 'c\nd\n');
  writeFileSync(file, 'e\n');
  t.same(lastLinesAcross(file, 2), ['d', 'e']);
  t.same(lastLinesAcross(file, 4), ['b', 'c', 'd', 'e']);
  t.same(lastLinesAcross(file, 10), ['a', 'b', 'c', 'd', 'e']);
});

t.test('following a file through a rotation prints every line once, in order', async (t) => {
  const file = path.join(workDir(t), 'error.log');
  writeFileSync(file, 'before\n');
  const f = new Followed(file);
  t.teardown(() => f.close());
  t.equal(f.start, 7, 'it starts where the file ends');
  appendFileSync(file, 'one\n');
  t.equal(f.read(), 'one\n');
  appendFileSync(file, 'two\n');
  // rotated between two reads: the end of the old file is read, then the new one from its start
  renameSync(file, `${file}.1`);
  appendFileSync(`${file}.1`, 'three\n');
  writeFileSync(file, 'four\n');
  t.equal(f.read(), 'two\nthree\nfour\n');
  appendFileSync(file, 'five\n');
  t.equal(f.read(), 'five\n');
  t.equal(f.read(), '');
});
