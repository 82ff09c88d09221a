// What a tool writes (its ~/.description, sent to the registrar and kept in its
// route) reaches an administrator's terminal through `toolhost routes show|list`: it must arrive
// without terminal control sequences (ESC, CSI, OSC: set the title, write the clipboard, clear
// the screen, answer back into the shell's input on some terminals). So must what root reads of
// a tool's logs for it (`webservice --tool T logs`).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBin, waitFor } from '../helpers/index.js';
import { asTool, platform } from '../helpers/platform.js';

const skip = process.getuid?.() === 0 ? false : 'needs root for unix users';

t.test('a tool\'s description and logs reach an administrator\'s terminal without control sequences', { skip }, async (t) => {
  const p = await platform(t);
  const { a } = p;
  // OSC 0 (window title), OSC 52 (clipboard), CSI 2J (clear screen), a carriage return over the line
  const hostile = 'nice tool\x1b]0;owned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\rtools.b is down';
  writeFileSync(path.join(p.homeOf(a), '.description'), `${hostile}\n`);
  asTool(a, 'true');
  const start = await p.ws(a, 'start');
  t.equal(start.code, 0, start.stderr);
  const show = async () => runBin(t, 'toolhost', ['routes', 'show', a], { env: p.env });
  await waitFor(async () => /description/.test((await show()).stdout), 15_000, 'the description in the route');
  const shown = (await show()).stdout;
  const listed = (await runBin(t, 'toolhost', ['routes', 'list'], { env: p.env })).stdout;
  const tools = (await runBin(t, 'toolhost', ['tool', '--home-root', p.homeRoot, 'show', a], { env: p.env })).stdout;
  t.comment(JSON.stringify(shown.split('\n').filter((l) => l.startsWith('description'))));
  for (const [what, out] of [['routes show', shown], ['routes list', listed], ['tool show', tools]] as const) {
    t.notMatch(out, /[\x1b\x07\r\x9b]/, `${what}: no control characters from the tool`);
  }
  // root reading the tool's own log for it: the tool's copy of the command prints to root's terminal
  asTool(a, `printf 'line\\033]0;owned\\007\\033[2J\\n' >> ~/error.log`);
  const logs = await p.ws(a, 'logs');
  t.notMatch(logs.stdout, /\x1b/, 'webservice --tool T logs, typed by root: no control characters from the tool');
  await p.ws(a, 'stop');
  // root's monitor, reading a manifest the tool wrote, says what is wrong with it on its output
  asTool(a, `printf 'backend: toolhost\\nweb: lighttpd\\nversion: 1\\nmem: "1\\033]0;owned\\007"\\n' > ~/service.manifest`);
  const mon = await p.monitor();
  t.notMatch(mon.stdout + mon.stderr, /\x1b/, 'toolhost monitor (root): no control characters from the tool');
});

t.test('printable shows every control character in visible notation and keeps newlines and tabs', async (t) => {
  const { printable } = await import('../../src/cli/printable.js');
  t.equal(printable('a\tb\n'), 'a\tb\n');
  t.equal(printable('x\x1b]0;owned\x07\x1b[2J\ry\x7f'), 'x^[]0;owned^G^[[2J^My^?');
  t.equal(printable('\x9b31m \u202eevil\u2069'), '<U+009B>31m <U+202E>evil<U+2069>');
  t.equal(printable('é ü 日本 🙂'), 'é ü 日本 🙂', 'other text is left alone');
});

t.test('a description loses its control characters before it is kept', async (t) => {
  const { normalizeDescription } = await import('../../src/routes/index.js');
  t.equal(normalizeDescription('nice\x1b]0;owned\x07\rtool\u202e\n2nd line'), 'nice ]0;owned tool');
  t.equal(normalizeDescription('\x1b\x07\n'), null);
});
