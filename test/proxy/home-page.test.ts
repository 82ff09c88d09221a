// The home page and the "exists but not running" answer as a person sees them, in a real
// headless Chromium: every tool that exists (routed, or only in the tool directory) with its
// maintainers, description and status (#14).
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { directoryKey, RouteStore, routeKey, ToolDirectoryStore } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor, workDir } from '../helpers/index.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const noChromium = CHROMIUM ? false : 'chromium is not installed (bin/setup installs it as root)';

/** what a hostile description tries: a script, an event handler, breaking out of an attribute */
const HOSTILE = `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">"'><b>&amp;`;

function chromium(t: Test, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const profile = path.join(workDir(t), `chromium-${Math.random().toString(36).slice(2)}`);
    const child = spawn(CHROMIUM as string, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...args,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/**
 * weather: routed and up, two maintainers; sleeping: a route without a live backend; idle: in
 * the tool directory only (an account whose webservice never ran); hostile: descriptions and a
 * hand-written maintainers field that try to inject markup.
 */
async function setup(t: Test) {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { homeTitle: 'Test Tools' });
  const backend = await startEchoBackend(t, 'up');
  const store = new RouteStore(r);
  const directory = new ToolDirectoryStore(r);
  await store.register('weather', 'sup', backend.url, { description: 'Forecasts <for> every wiki' });
  await directory.write('weather', { maintainers: ['bob', 'alice'], description: 'the administrator\'s words, shadowed by the tool\'s own' });
  await r.hset(routeKey('sleeping'), 'description', 'A tool whose webservice is stopped');
  await r.publish(routeKey('sleeping'), 'x');
  await directory.write('idle', { maintainers: ['carol'], description: 'Never started yet' });
  await directory.write('hostile', { maintainers: [], description: HOSTILE });
  await r.hset(directoryKey('hostile'), 'maintainers', `mallory <img/src=x/onerror=alert(1)> "><script>alert(1)</script> trent`);
  await r.hset(routeKey('hostile'), 'description', HOSTILE);
  await r.publish(routeKey('hostile'), 'x');
  await waitFor(() => proxy.proxy.routeTable.size === 3 && proxy.proxy.routeTable.tool('hostile')?.maintainers.length === 2, 5000, 'routes and directory');
  return { proxy, r, directory };
}

t.test('the home page lists every tool that exists with its maintainers, description and status; also as JSON', async (t) => {
  const { proxy, directory } = await setup(t);
  const json = await (await fetch(`${proxy.url}/?format=json`)).json();
  t.same(json, {
    tools: [
      { name: 'hostile', description: HOSTILE, maintainers: ['mallory', 'trent'], url: '/hostile/', up: false, backends: 0 },
      { name: 'idle', description: 'Never started yet', maintainers: ['carol'], url: '/idle/', up: false, backends: 0 },
      { name: 'sleeping', description: 'A tool whose webservice is stopped', maintainers: [], url: '/sleeping/', up: false, backends: 0 },
      { name: 'weather', description: 'Forecasts <for> every wiki', maintainers: ['alice', 'bob'], url: '/weather/', up: true, backends: 1 },
    ],
  });
  const html = await (await fetch(`${proxy.url}/`)).text();
  t.match(html, /Forecasts &#60;for&#62; every wiki/, 'descriptions are escaped');
  t.match(html, /4 tools, 1 up\./);
  t.notMatch(html, /<img|<script|onerror="/i, 'no markup of a description or maintainer reaches the page');

  // a change of the directory reaches the page within milliseconds
  await directory.write('idle', { maintainers: ['carol', 'dave'] });
  await waitFor(async () => /<span class="maintainer">dave<\/span>/.test(await (await fetch(`${proxy.url}/`)).text()), 5000, 'the new maintainer');
  await directory.remove('idle');
  await waitFor(async () => (await fetch(`${proxy.url}/idle/`)).status === 404, 5000, 'the tool gone');
});

t.test('a tool that exists but runs no webservice answers 503 saying so and what its maintainers can do; an unknown one 404', async (t) => {
  const { proxy } = await setup(t);
  for (const tool of ['idle', 'sleeping']) {
    const res = await fetch(`${proxy.url}/${tool}/some/page`);
    t.equal(res.status, 503, tool);
    t.equal(res.headers.get('x-toolhost-error'), 'TH_ERR_PROXY_TOOL_DOWN');
    const body = await res.text();
    t.match(body, new RegExp(`The tool <b>${tool}</b> exists, but its webservice is not running\\.`));
    t.match(body, new RegExp(`<code>become ${tool}</code>, then <code>webservice start</code>`));
  }
  t.match(await (await fetch(`${proxy.url}/idle/`)).text(), /It is maintained by <b>carol<\/b>\./, 'who maintains it');
  const asJson = await fetch(`${proxy.url}/idle/api`, { headers: { accept: 'application/json' } });
  t.equal(asJson.status, 503);
  t.match(asJson.headers.get('content-type'), /^application\/json/);
  t.same(await asJson.json(), {
    tool: 'idle',
    up: false,
    status: 503,
    error: 'TH_ERR_PROXY_TOOL_DOWN',
    message: 'this tool exists but its webservice is not running',
    maintainers: ['carol'],
    maintainersCan: ['become idle', 'webservice start', 'webservice status', 'webservice logs'],
  });
  t.equal((await fetch(`${proxy.url}/sleeping/?format=json`)).headers.get('content-type'), 'application/json', 'an API client asking with ?format=json gets JSON too');
  const unknown = await fetch(`${proxy.url}/nosuch/`);
  t.equal(unknown.status, 404);
  t.match(await unknown.text(), /There is no tool named <b>nosuch<\/b> here\./);
});

t.test('in a real browser the page shows the tools, their maintainers, status and working links', { skip: noChromium }, async (t) => {
  const { proxy } = await setup(t);
  const dom = await chromium(t, ['--dump-dom', `${proxy.url}/`]);
  t.match(dom, /<title>Test Tools<\/title>/);
  t.match(dom, /4 tools, 1 up\./);
  t.match(dom, /<tr data-tool="weather"><td><a href="\/weather\/">weather<\/a><\/td><td><span class="maintainer">alice<\/span>, <span class="maintainer">bob<\/span><\/td><td>Forecasts &lt;for&gt; every wiki<\/td><td><span class="up">up<\/span><\/td><\/tr>/);
  t.match(dom, /<tr data-tool="idle">.*carol.*Never started yet.*<span class="down">down<\/span>/);
  t.match(dom, /<tr data-tool="sleeping">.*<span class="none">none<\/span>.*<span class="down">down<\/span>/);
  const shot = path.join(workDir(t), 'home.png');
  await chromium(t, ['--window-size=1000,600', `--screenshot=${shot}`, `${proxy.url}/`]);
  t.ok(existsSync(shot) && statSync(shot).size > 5000, 'a screenshot of the rendered page');
  const linked = await chromium(t, ['--dump-dom', `${proxy.url}/weather/`]);
  t.match(linked, /"backend":"up"/, 'the link leads to the tool');
  const down = await chromium(t, ['--dump-dom', `${proxy.url}/idle/`]);
  t.match(down, /<title>503 Webservice not running<\/title>/);
  t.match(down, /exists, but its webservice is not running\. It is maintained by <b>carol<\/b>\./);
});

t.test('a hostile description or maintainers field runs nothing in a real browser: no script, no element, no attribute (#14)', { skip: noChromium }, async (t) => {
  const { proxy } = await setup(t);
  // a script that ran would have set the title; an <img> that parsed would be in the DOM
  const dom = await chromium(t, ['--dump-dom', `${proxy.url}/`]);
  t.match(dom, /<title>Test Tools<\/title>/, 'no script changed the title');
  t.notMatch(dom, /<img|<script|<[^>]*onerror/i, 'no element or attribute came out of the text');
  const row = /<tr data-tool="hostile">(.*?)<\/tr>/.exec(dom)?.[1] ?? '';
  t.match(row, /&lt;script&gt;document\.title="pwned"&lt;\/script&gt;&lt;img src=x onerror="document\.title='pwned'"&gt;"'&gt;&lt;b&gt;&amp;amp;/, 'the description shows as the text it is');
  t.match(row, /<span class="maintainer">mallory<\/span>, <span class="maintainer">trent<\/span>/, 'names that are not user names are left out');
  const down = await chromium(t, ['--dump-dom', `${proxy.url}/hostile/`]);
  t.match(down, /<title>503 Webservice not running<\/title>/);
  t.notMatch(down, /<img|<script|<[^>]*onerror/i);
});
