import t from 'tap';
import { runBin } from '../helpers/index.js';

t.test('toolhost demo starts Redis and the sample tools, prints their URLs, and every URL answers', async (t) => {
  const dir = t.testdir();
  const r = await runBin(t, 'toolhost', ['demo', '--dir', dir, '--check']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Redis {6}redis:\/\/127\.0\.0\.1:\d+/);
  t.match(r.stdout, /hello {6}http:\/\/127\.0\.0\.1:\d+\/hello\//);
  t.match(r.stdout, /check hello: HTTP 200\n/);
  t.match(r.stdout, /check notes: HTTP 200\n/);
  t.match(r.stdout, /check clock: HTTP 200\n/);
  t.match(r.stdout, /check home page: HTTP 200, 3 of 3 tools up/);
});

t.test('without lighttpd the demo says how to install it', async (t) => {
  const r = await runBin(t, 'toolhost', ['demo', '--check'], { env: { TOOLHOST_LIGHTTPD: '/nonexistent/lighttpd' } });
  t.equal(r.code, 3);
  t.equal(r.stderr, 'toolhost: lighttpd is not installed (the demo serves its tools with it); install it with: apt-get install lighttpd [TH_ERR_LIGHTTPD_NOT_INSTALLED]\n');
});
