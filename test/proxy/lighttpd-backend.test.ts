// End to end with the real parts: a tool's lighttpd (merged config) registered in Redis,
// served through the proxy at /<tool>/ with the path unchanged.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { RouteStore } from '../../src/routes/index.js';
import { buildLighttpdConfig } from '../../src/webservice/index.js';
import { freePort, makeToolHome, redisClient, startLighttpd, startProxy, startRedis, waitFor } from '../helpers/index.js';

t.test('a tool served by lighttpd is reachable through the proxy at /<tool>/, its 404s untouched', async (t) => {
  const tool = makeToolHome(t, 'lit', { 'public_html/index.html': 'LIT INDEX', 'public_html/lit-logo.txt': 'LOGO' });
  const port = await freePort();
  const built = buildLighttpdConfig({ tool: { name: 'lit', home: tool.home, account: null }, type: 'lighttpd-plain', port, bind: '127.0.0.1', runtimeDir: tool.runtimeDir, asAccount: false, env: process.env });
  const conf = path.join(tool.runtimeDir, 'lighttpd.conf');
  writeFileSync(conf, built.text);
  await startLighttpd(t, conf, port, built.env);
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  await new RouteStore(r).register('lit', 'lighttpd', `http://127.0.0.1:${port}`, { leaseMs: 15_000 });
  await waitFor(() => proxy.proxy.routeTable.get('lit')?.backends.length === 1);
  const index = await fetch(`${proxy.url}/lit/`);
  t.equal(await index.text(), 'LIT INDEX');
  t.equal(await (await fetch(`${proxy.url}/lit/lit-logo.txt`)).text(), 'LOGO');
  const missing = await fetch(`${proxy.url}/lit/missing.html`);
  t.equal(missing.status, 404);
  t.equal(missing.headers.get('x-toolhost-error'), null, 'lighttpd\'s own 404, not the proxy\'s');
});
