// The node webservice (#14) as a maintainer runs it: `npm start` in ~/www/js with Toolforge's
// example server (`listen(process.env.PORT)`, no host), through the real proxy, registrar and
// Redis; restarted when the server or npm is SIGKILLed, reloaded under a request loop, stopped.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { refusesConnections, runBin, waitFor, workDir } from '../helpers/index.js';
import { groupMembers, requestLoop, signalGroup, webTool } from '../helpers/webservice-tool.js';

const PACKAGE = JSON.stringify({ name: 'nodey', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }, null, 2);
// as Toolforge's Node.js help writes it: the port from PORT, no host
const SERVER = `const http = require('http');
const port = parseInt(process.env.PORT, 10);
const server = http.createServer((req, res) => {
  res.end(\`node \${process.version} pid=\${process.pid} uid=\${process.getuid()} address=\${server.address().address} url=\${req.url}\`);
});
server.listen(port, () => console.log('listening on ' + port));
`;

interface Page {
  readonly pid: number;
  readonly address: string;
  readonly url: string;
}

function parse(body: string): Page {
  const m = /^node v[\d.]+ pid=(\d+) uid=\d+ address=(\S+) url=(\S+)$/.exec(body);
  if (!m) throw new Error(`unexpected page: ${body}`);
  return { pid: Number(m[1]), address: m[2] as string, url: m[3] as string };
}

t.test('webservice node start runs npm start in ~/www/js on the node address; SIGKILL of the server or of npm, restart under load, stop', async (t) => {
  const name = 'nodey';
  const { ws, state, page, tool, r, proxy } = await webTool(t, name, { 'www/js/package.json': PACKAGE, 'www/js/server.js': SERVER });

  const start = await ws('node', 'start');
  t.equal(start.code, 0, start.stderr);
  t.match(start.stdout, /^Your webservice is running: http:\/\/127\.0\.0\.1:\d+ \(node, pid \d+\); the proxy routes \/nodey\/ to it\.\n$/);
  t.match(readFileSync(path.join(tool.home, 'service.manifest'), 'utf8'), /^web: node$/m, 'the type is remembered');
  await waitFor(() => proxy.proxy.routeTable.get(name)?.backends.length === 1, 5000, 'the route');
  const first = await page('/some/path?q=1');
  t.equal(first.status, 200);
  const served = parse(first.body);
  t.equal(served.address, '127.0.0.1', 'listen(PORT) without a host is bound to the node address, which the registrar can verify');
  t.equal(served.url, '/nodey/some/path?q=1', 'the path as the proxy forwards it');
  t.match(readFileSync(path.join(tool.home, 'error.log'), 'utf8'), /> node server\.js\n[\s\S]*listening on \d+/, "npm's and the server's output in ~/error.log");
  t.match(JSON.parse((await ws('status', '--json')).stdout), { type: 'node', state: 'running', routeRegistered: true });

  // the server itself killed: npm exits with it, a new one is routed
  const npm1 = state().serverPid;
  process.kill(served.pid, 'SIGKILL');
  await waitFor(async () => state().serverPid !== npm1 && state().state === 'running' && (await page('/')).status === 200, 20_000, 'serving after the server was killed');
  // npm killed: the server it started must not live on holding its port
  const second = parse((await page('/')).body);
  const npm2 = state().serverPid;
  process.kill(npm2, 'SIGKILL');
  await waitFor(async () => state().serverPid !== npm2 && state().state === 'running' && (await page('/')).status === 200, 20_000, 'serving after npm was killed');
  await waitFor(() => !signalGroup(second.pid, 0), 5000, "the killed npm's server to be gone");
  t.match(JSON.parse((await ws('status', '--json')).stdout), { restarts: 2, lastExit: 'killed by SIGKILL' });

  const before = state();
  const beforePid = parse((await page('/')).body).pid;
  const loop = requestLoop(`${proxy.url}/${name}/loop`);
  for (let i = 0; i < 2; i++) {
    const again = await ws('restart');
    t.equal(again.code, 0, again.stderr);
  }
  const result = await loop.stop();
  t.same(result.failures, [], `${result.ok} requests across 2 restarts, none failed`);
  t.ok(result.ok > 10);
  t.not(state().serverPid, before.serverPid);
  t.notOk(signalGroup(beforePid, 0), 'the replaced server is gone');

  const last = state();
  const stop = await ws('stop');
  t.equal(stop.code, 0);
  t.equal(Object.keys(await r.hgetall(`prefix:${name}`)).filter((k) => k.startsWith('backend:')).length, 0, 'the route is gone');
  t.ok(await refusesConnections(last.port), 'the port is free');
  t.same(groupMembers(last.serverPid), [], 'neither npm nor the server is left');
});

t.test('node webservice problems are one line with a code, before anything starts', async (t) => {
  const dir = workDir(t);
  const home = path.join(dir, 'homes', 'nodeprobs');
  const env = { TOOLHOST_RUNTIME_DIR: path.join(dir, 'runtime'), TOOLHOST_REGISTRAR_DIR: path.join(dir, 'no-registrar') };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', 'nodeprobs', '--home', home, ...args], { env });
  mkdirSync(path.join(home, 'www', 'js'), { recursive: true });

  const missing = await ws('node18', 'start');
  t.equal(missing.code, 2);
  t.match(missing.stderr, /there is no ~\/www\/js\/package\.json \(missing\): a node webservice runs "npm start" in ~\/www\/js; .* \[TH_ERR_NODE_APP_MISSING\]\n$/);
  t.match(missing.stderr, /^webservice: "node18" asks for Node\.js 18; this host runs Node\.js \d+, so the node webservice uses \d+\n/);

  writeFileSync(path.join(home, 'www', 'js', 'package.json'), '{"name": "x",');
  const notJson = await ws('node', 'start');
  t.equal(notJson.code, 2);
  t.match(notJson.stderr, /~\/www\/js\/package\.json cannot start your server: it is not JSON \(.*\); fix it .*\[TH_ERR_NODE_PACKAGE_INVALID\]\n$/);

  writeFileSync(path.join(home, 'www', 'js', 'package.json'), '{"name": "x", "scripts": {"test": "true"}}');
  const noStart = await ws('node', 'start');
  t.match(noStart.stderr, /it has no "start" script and there is no server\.js; .*\[TH_ERR_NODE_PACKAGE_INVALID\]\n$/);

  // npm's own default when there is no start script: node server.js
  writeFileSync(path.join(home, 'www', 'js', 'server.js'), '');
  const config = await ws('node', 'config');
  t.equal(config.code, 0, config.stderr);
  t.match(config.stdout, new RegExp(`^cd ${home}/www/js && PORT=\\$PORT HOST=127\\.0\\.0\\.1 NODE_OPTIONS=--import=file://\\S+/node-listen-preload\\.js .*\\S*npm start\\n$`));

  const noNpm = await runBin(t, 'webservice', ['--tool', 'nodeprobs', '--home', home, 'node', 'start'], { env: { ...env, TOOLHOST_NPM: path.join(dir, 'no-npm') } });
  t.equal(noNpm.code, 3);
  t.match(noNpm.stderr, /npm is not installed \(looked for .*no-npm\); .*\[TH_ERR_NPM_NOT_INSTALLED\]\n$/);
});
