// The home page as a person sees it, in a real headless Chromium.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { RouteStore, routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor, workDir } from '../helpers/index.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

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

async function setup(t: Test) {
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { homeTitle: 'Test Tools' });
  const backend = await startEchoBackend(t, 'up');
  const store = new RouteStore(r);
  await store.register('weather', 'sup', backend.url, { description: 'Forecasts <for> every wiki' });
  await r.hset(routeKey('sleeping'), 'description', 'A tool whose webservice is stopped');
  await r.publish(routeKey('sleeping'), 'x');
  await waitFor(() => proxy.proxy.routeTable.size === 2);
  return proxy;
}

t.test('the home page lists every tool with its description, a link and whether it is up; also as JSON', async (t) => {
  const proxy = await setup(t);
  const json = await (await fetch(`${proxy.url}/?format=json`)).json();
  t.same(json, {
    tools: [
      { name: 'sleeping', description: 'A tool whose webservice is stopped', url: '/sleeping/', up: false, backends: 0 },
      { name: 'weather', description: 'Forecasts <for> every wiki', url: '/weather/', up: true, backends: 1 },
    ],
  });
  const html = await (await fetch(`${proxy.url}/`)).text();
  t.match(html, /Forecasts &#60;for&#62; every wiki/, 'descriptions are escaped');
});

t.test('in a real browser the page shows the tools, their status and working links', { skip: CHROMIUM ? false : 'chromium is not installed (bin/setup installs it as root)' }, async (t) => {
  const proxy = await setup(t);
  const dom = await chromium(t, ['--dump-dom', `${proxy.url}/`]);
  t.match(dom, /<title>Test Tools<\/title>/);
  t.match(dom, /2 tools, 1 up\./);
  t.match(dom, /<tr data-tool="weather"><td><a href="\/weather\/">weather<\/a><\/td><td>Forecasts &lt;for&gt; every wiki<\/td><td><span class="up">up<\/span><\/td><\/tr>/);
  t.match(dom, /<tr data-tool="sleeping">.*<span class="down">down<\/span>/);
  const shot = path.join(workDir(t), 'home.png');
  await chromium(t, ['--window-size=1000,600', `--screenshot=${shot}`, `${proxy.url}/`]);
  t.ok(existsSync(shot) && statSync(shot).size > 5000, 'a screenshot of the rendered page');
  const linked = await chromium(t, ['--dump-dom', `${proxy.url}/weather/`]);
  t.match(linked, /"backend":"up"/, 'the link leads to the tool');
});
