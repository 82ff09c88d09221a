import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { mkdirSync } from 'node:fs';
import { BIN, redisClient, runBin, startProxy, startRedis, startRegistrar, userEnv, waitFor, workDir } from '../helpers/index.js';

const SERVER = `
const http = require('http');
const fs = require('fs');
const port = Number(process.argv[process.argv.length - 1]);
const marker = process.argv[2];
const s = http.createServer((req, res) => res.end('node server on ' + port + ' env ' + process.env.PORT));
s.listen(port, '127.0.0.1');
process.on('SIGTERM', () => { fs.writeFileSync(marker, 'got SIGTERM'); s.close(); process.exit(0); });
`;


/** Redis and the node registrar, serving the given tool homes (made here) */
async function node(t: Test, ...tools: string[]) {
  const homes = path.join(workDir(t), 'homes');
  for (const tool of tools) mkdirSync(path.join(homes, tool), { recursive: true });
  const redis = await startRedis(t);
  const registrar = await startRegistrar(t, redis.url, homes);
  return { redis, registrar, env: { TOOLHOST_REGISTRAR_DIR: registrar.dir } };
}

function startPortgrabber(t: Test, args: string[], env: Record<string, string>) {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', path.join(BIN, 'portgrabber'), ...args], { env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

t.test('portgrabber runs a node server on a free port, routes the tool to it, forwards SIGTERM and cleans up', async (t) => {
  const dir = workDir(t);
  writeFileSync(path.join(dir, 'server.cjs'), SERVER);
  const { redis, registrar, env } = await node(t, 'pgtool');
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url);
  const marker = path.join(dir, 'marker');
  const pg = startPortgrabber(t, ['pgtool', process.execPath, path.join(dir, 'server.cjs'), marker], env);
  await waitFor(async () => Object.keys(await r.hgetall('prefix:pgtool')).some((k) => k.startsWith('backend:')), 10_000, 'the route');
  const hash = await r.hgetall('prefix:pgtool');
  const backendField = Object.keys(hash).find((k) => k.startsWith('backend:')) as string;
  t.equal(hash[backendField.replace('backend:', 'node:')], registrar.node, 'registered by the node registrar, under its node lease');
  t.ok(Number(await r.hget('toolhost:nodes', registrar.node)) > Date.now(), 'the node lease runs');
  const port = Number(new URL(hash[backendField] as string).port);
  await waitFor(() => proxy.proxy.routeTable.get('pgtool')?.backends.length === 1);
  const body = await (await fetch(`${proxy.url}/pgtool/`)).text();
  t.equal(body, `node server on ${port} env ${port}`, 'the port is the last argument and in PORT');
  pg.child.kill('SIGTERM');
  t.equal(await pg.exited, 0, 'exits with the command\'s code');
  t.equal(readFileSync(marker, 'utf8'), 'got SIGTERM', 'the signal reached the server');
  t.equal(await r.hget('prefix:pgtool', backendField), null, 'the route is removed');
});

t.test('portgrabber runs python3 -m http.server the Toolforge way', async (t) => {
  const dir = workDir(t);
  writeFileSync(path.join(dir, 'hello.txt'), 'from python');
  const { redis, env } = await node(t, 'pytool');
  const r = await redisClient(t, redis.url);
  const pg = startPortgrabber(t, ['pytool', 'python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir], env);
  const backends = async () => Object.keys(await r.hgetall('prefix:pytool')).filter((k) => k.startsWith('backend:')).length;
  await waitFor(async () => (await backends()) > 0, 10_000, 'the route');
  const url = Object.entries(await r.hgetall('prefix:pytool')).find(([k]) => k.startsWith('backend:'))?.[1];
  t.equal(await (await fetch(`${url}/hello.txt`)).text(), 'from python');
  pg.child.kill('SIGINT');
  await pg.exited;
  await waitFor(async () => (await backends()) === 0, 5000, 'the route to go');
});

t.test('portgrabber exits with the command\'s exit code and removes the route', async (t) => {
  const dir = workDir(t);
  writeFileSync(path.join(dir, 'quit.cjs'), `const http=require('http');const s=http.createServer((q,r)=>{r.end('x');setTimeout(()=>process.exit(3),50)});s.listen(Number(process.argv.at(-1)),'127.0.0.1');`);
  const { redis, env } = await node(t, 'quitter');
  const r = await redisClient(t, redis.url);
  const pg = startPortgrabber(t, ['quitter', process.execPath, path.join(dir, 'quit.cjs')], env);
  const backends = async () => Object.keys(await r.hgetall('prefix:quitter')).filter((k) => k.startsWith('backend:'));
  await waitFor(async () => (await backends()).length > 0, 10_000, 'the route');
  const url = (await r.hgetall('prefix:quitter'))[(await backends())[0] as string];
  await (await fetch(`${url}/`)).text();
  t.equal(await pg.exited, 3);
  t.same(await backends(), []);
});

t.test('a command that cannot start is one line and exit 127; a bad tool name exit 2', async (t) => {
  const { env } = await node(t, 'sometool');
  const missing = await runBin(t, 'portgrabber', ['sometool', './no-such-server.sh'], { env, cwd: workDir(t) });
  t.equal(missing.code, 127);
  t.equal(missing.stderr, 'portgrabber: cannot run ./no-such-server.sh: ENOENT; check the path and that the file is executable (chmod +x) [TH_ERR_COMMAND_FAILED_TO_START]\n');
  const bad = await runBin(t, 'portgrabber', ['Bad!', 'true']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /\[TH_ERR_TOOL_NAME_INVALID\]\n$/);
  const nowhere = await runBin(t, 'portgrabber', ['sometool', 'true'], { env: { TOOLHOST_REGISTRAR_DIR: path.join(workDir(t), 'no-registrar') } });
  t.equal(nowhere.code, 1);
  t.match(nowhere.stderr, /^portgrabber: cannot reach the node registrar at .*no-registrar\/sometool\.sock \(ENOENT\); ask an administrator to start it .*\[TH_ERR_REGISTRAR_UNREACHABLE\]\n$/);
});
