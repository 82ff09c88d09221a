// The python and node webservices (#14) with hostile tool accounts, as root: a virtualenv linked
// to another tool's, a package.json linked to a root-only file — root's `webservice --tool` reads
// neither (it checks them as the tool, which may not), and every server process runs as its tool,
// in the tool's web cgroup (#13) as a lighttpd does.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { detectCgroups } from '../../src/limits/index.js';
import { waitFor } from '../helpers/index.js';
import { asTool, platform, uidOf } from '../helpers/platform.js';
import { cgroupOf, groupMembers } from '../helpers/webservice-tool.js';

const skip = process.getuid?.() === 0 ? false : 'needs root for unix users';
const cgroups = detectCgroups() !== null;

t.test("a tool's links to another tool's virtualenv or to root's files are read as the tool, and its python and node servers run as the tool (#14)", { skip }, async (t) => {
  const p = await platform(t);
  const { a, b } = p;
  /** a file in a tool's home, owned by the tool, as if it had written it */
  const put = (tool: string, file: string, text: string) => {
    const full = path.join(p.homeOf(tool), file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    execFileSync('chown', ['-R', `tools.${tool}:tools.${tool}`, path.join(p.homeOf(tool), 'www')]);
  };
  const secret = readFileSync(p.decoy, 'utf8').trim();

  // b's virtualenv, in b's home (2770): a may not read it, root could
  t.equal(asTool(b, 'mkdir -p ~/www/python && /usr/bin/python3 -m venv --system-site-packages --without-pip ~/www/python/venv').status, 0);
  put(a, 'www/python/src/app.py', 'import os, flask\napp = flask.Flask(__name__)\n@app.route("/")\ndef index():\n    return f"python uid={os.getuid()}"\n');
  t.equal(asTool(a, `ln -s ${p.homeOf(b)}/www/python/venv ~/www/python/venv`).status, 0);
  const borrowed = await p.ws(a, 'python', 'start');
  t.equal(borrowed.code, 2);
  t.match(borrowed.stderr, /~\/www\/python\/venv is not a virtualenv uWSGI can use here: it cannot be opened \(EACCES\).*\[TH_ERR_PYTHON_VENV_INVALID\]\n$/, "checked as the tool, which may not open b's home (root could)");

  // a package.json linked to a root-only file
  put(a, 'www/js/server.js', '');
  t.equal(asTool(a, `ln -s ${p.decoy} ~/www/js/package.json`).status, 0);
  const leaked = await p.ws(a, 'node', 'start');
  t.equal(leaked.code, 2);
  t.match(leaked.stderr, /~\/www\/js\/package\.json cannot start your server: cannot read it \(EACCES\).*\[TH_ERR_NODE_PACKAGE_INVALID\]\n$/);
  const config = await p.ws(a, 'node', 'config');
  t.match(config.stderr, /\[TH_ERR_NODE_PACKAGE_INVALID\]/);
  for (const out of [borrowed.stdout, borrowed.stderr, leaked.stdout, leaked.stderr, config.stdout, config.stderr]) t.notOk(out.includes(secret), 'root never shows the target');
  for (const log of ['error.log', 'service.log']) t.notOk(readFileSync(path.join(p.homeOf(a), log), 'utf8').includes(secret), `nor writes it to ~/${log}`);
  t.ok(p.decoyIntact());

  // with its own virtualenv, a's Flask app runs — as a, every uWSGI process of it
  t.equal(asTool(a, 'rm ~/www/python/venv && /usr/bin/python3 -m venv --system-site-packages --without-pip ~/www/python/venv').status, 0);
  const py = await p.ws(a, 'python', 'start');
  t.equal(py.code, 0, py.stderr);
  await waitFor(() => p.proxy.proxy.routeTable.get(a)?.backends.length === 1, 5000, "a's route");
  t.same(await p.served(a), { status: 200, body: `python uid=${p.uid(a)}` });
  t.equal(uidOf(p.state(a).supervisorPid), p.uid(a), 'the supervisor runs as the tool');
  const uwsgi = groupMembers(p.state(a).serverPid);
  t.ok(uwsgi.length >= 2, 'a master and its workers');
  t.same([...new Set(uwsgi.map((m) => m.uid))], [p.uid(a)], 'every uWSGI process runs as the tool');
  const web = (tool: string) => `/${p.registrar.cgroupRoot}/${tool}/jobs/web`;
  if (cgroups) t.same([...new Set(uwsgi.map((m) => cgroupOf(m.pid, 'memory')))], [web(a)], "every uWSGI process is in a's web cgroup, under its limits");

  // b's node server, started by root: npm and the server run as b
  put(b, 'www/js/package.json', JSON.stringify({ name: 'b', scripts: { start: 'node server.js' } }));
  put(b, 'www/js/server.js', "require('http').createServer((q, s) => s.end('node uid=' + process.getuid())).listen(process.env.PORT)\n");
  const node = await p.ws(b, 'node', 'start');
  t.equal(node.code, 0, node.stderr);
  await waitFor(() => p.proxy.proxy.routeTable.get(b)?.backends.length === 1, 5000, "b's route");
  t.same(await p.served(b), { status: 200, body: `node uid=${p.uid(b)}` });
  const npm = groupMembers(p.state(b).serverPid);
  t.ok(npm.some((m) => m.argv.includes('server.js')), 'the server is in the group');
  t.same([...new Set(npm.map((m) => m.uid))], [p.uid(b)], 'npm and the server run as the tool');
  if (cgroups) t.same([...new Set(npm.map((m) => cgroupOf(m.pid, 'memory')))], [web(b)], "npm and the server are in b's web cgroup");

  t.equal((await p.ws(a, 'stop')).code, 0);
  t.equal((await p.ws(b, 'stop')).code, 0);
});
