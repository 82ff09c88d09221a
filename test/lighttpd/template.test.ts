import t from 'tap';
import { fillTemplate } from '../../src/lighttpd/index.js';

t.test('placeholders are filled and sections kept only when their flag holds', async (t) => {
  const text = 'a = "@HOME@"\n#@if php\nb = 1\n#@endif\n#@if !php\nc = 1\n#@endif\nd = @PORT@\n';
  t.equal(fillTemplate(text, { HOME: '/h', PORT: 80 }, new Set(['php'])).text, 'a = "/h"\nb = 1\nd = 80\n');
  t.equal(fillTemplate(text, { HOME: '/h', PORT: 80 }, new Set()).text, 'a = "/h"\nc = 1\nd = 80\n');
});

t.test('#@after-user marks where the statements placed after the maintainer\'s begin', async (t) => {
  const f = fillTemplate('a = 1\n#@after-user\nb = 2\n', {}, new Set());
  t.equal(f.text.slice(f.afterUserOffset), 'b = 2\n');
});

t.test('a value that would break out of a lighttpd string is refused', async (t) => {
  t.throws(() => fillTemplate('a = "@HOME@"', { HOME: '/h"ome' }, new Set()), { code: 'TH_ERR_TEMPLATE_VALUE' });
  t.throws(() => fillTemplate('a = "@HOME@"', { HOME: '/h\nx' }, new Set()), { code: 'TH_ERR_TEMPLATE_VALUE' });
});
