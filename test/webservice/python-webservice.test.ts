// The python webservice (#14) as a maintainer runs it: a real Flask app (Debian's python3-flask)
// in ~/www/python/src/app.py with a virtualenv in ~/www/python/venv, served by Debian's uWSGI
// through the real proxy, registrar and Redis; restarted after SIGKILL, reloaded under a request
// loop, kept serving when a new version does not import, stopped.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { refusesConnections, runBin, waitFor, workDir } from '../helpers/index.js';
import { groupMembers, requestLoop, signalGroup, webTool } from '../helpers/webservice-tool.js';

const APP = `import os
import sys
import flask
import only_in_the_venv

app = flask.Flask(__name__)


@app.route('/')
def index():
    return (f'flask in {sys.prefix} script_root={flask.request.script_root} path={flask.request.path} '
            f'uid={os.getuid()} {only_in_the_venv.WORD}')


@app.route('/hello/<name>')
def hello(name):
    return f'hello {name}'


@app.route('/echo', methods=['POST'])
def echo():
    return f"{flask.request.method} {flask.request.form['word']} {len(flask.request.files['upload'].read())}"
`;

/** a virtualenv as a maintainer makes one, with Debian's Flask from the system site-packages */
function makeVenv(home: string): string {
  const venv = path.join(home, 'www', 'python', 'venv');
  execFileSync('/usr/bin/python3', ['-m', 'venv', '--system-site-packages', '--without-pip', venv]);
  const version = execFileSync('/usr/bin/python3', ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(venv, 'lib', `python${version}`, 'site-packages', 'only_in_the_venv.py'), "WORD = 'venv-module'\n");
  return venv;
}

t.test('webservice python start serves a Flask app with its virtualenv through the proxy; SIGKILL, restart under load, a broken version, stop', async (t) => {
  const name = 'flasky';
  const { ws, state, page, tool, r, proxy } = await webTool(t, name, {
    'www/python/src/app.py': APP,
    // the maintainer's settings win over toolhost's defaults (4 workers)
    'www/python/uwsgi.ini': '[uwsgi]\n; fewer workers for a small tool\nworkers = 2\n',
  });
  const venv = makeVenv(tool.home);

  const start = await ws('python', 'start');
  t.equal(start.code, 0, start.stderr);
  t.match(start.stdout, /^Your webservice is running: http:\/\/127\.0\.0\.1:\d+ \(python, pid \d+\); the proxy routes \/flasky\/ to it\.\n$/);
  t.match(readFileSync(path.join(tool.home, 'service.manifest'), 'utf8'), /^web: python$/m, 'the type is remembered');
  await waitFor(() => proxy.proxy.routeTable.get(name)?.backends.length === 1, 5000, 'the route');

  const home = await page('/');
  t.equal(home.status, 200);
  t.equal(home.body, `flask in ${venv} script_root=/flasky path=/ uid=${process.getuid?.()} venv-module`, 'the app runs in its virtualenv, mounted at /flasky');
  t.same(await page('/hello/world'), { status: 200, body: 'hello world' });
  const direct = await fetch(`${state().url}/hello/host`);
  t.equal(await direct.text(), 'hello host', 'a path without /flasky (as <tool>.<domain> forwards it) reaches the app whole');
  t.equal((await page('/nothing-here')).status, 404, "Flask's own 404");
  // a form with a file, its body sent chunked by the client: the proxy buffers it, uWSGI reads it whole
  const form = new FormData();
  form.set('word', 'posted');
  form.set('upload', new Blob([Buffer.alloc(300_000, 'x')]), 'big.bin');
  const encoded = new Response(form);
  const chunked = new ReadableStream({
    async start(c) {
      c.enqueue(new Uint8Array(await encoded.arrayBuffer()));
      c.close();
    },
  });
  const posted = await fetch(`${proxy.url}/${name}/echo`, { method: 'POST', body: chunked, duplex: 'half', headers: { 'content-type': encoded.headers.get('content-type') ?? '' } });
  t.same({ status: posted.status, body: await posted.text() }, { status: 200, body: 'POST posted 300000' });
  const first = state();
  t.equal(groupMembers(first.serverPid).length, 3, 'uWSGI: a master and the 2 workers uwsgi.ini asked for, in one process group');
  t.match(readFileSync(path.join(tool.home, 'access.log'), 'utf8'), /^\S+ - \S+ \[\d{2}\/\w{3}\/\d{4}:[\d:]+ [+-]\d{4}\] "GET \/flasky\/hello\/world HTTP\/1\.1" 200 11 "-" "[^"]*"$/m, 'requests in ~/access.log, combined format');
  const review = JSON.parse((await ws('logs', '--access', '--json')).stdout);
  t.ok(review.requests >= 3, 'webservice logs --access reads it');
  const status = JSON.parse((await ws('status', '--json')).stdout);
  t.match(status, { type: 'python', state: 'running', routeRegistered: true, restarts: 0 });

  // the uWSGI master killed outright: its workers go with it, a new server is routed
  process.kill(first.serverPid, 'SIGKILL');
  await waitFor(async () => state().serverPid !== first.serverPid && state().state === 'running' && (await page('/')).status === 200, 20_000, 'serving again');
  await waitFor(() => groupMembers(first.serverPid).length === 0, 5000, 'the old workers to be gone');
  t.match(JSON.parse((await ws('status', '--json')).stdout), { restarts: 1, lastExit: 'killed by SIGKILL' });

  // reloaded without a failed request: `webservice restart` takes its type from the manifest
  const before = state();
  const loop = requestLoop(`${proxy.url}/${name}/hello/loop`);
  for (let i = 0; i < 2; i++) {
    const again = await ws('restart');
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /\(python, pid \d+\)/);
  }
  const result = await loop.stop();
  t.same(result.failures, [], `${result.ok} requests across 2 restarts, none failed`);
  t.ok(result.ok > 10);
  t.not(state().serverPid, before.serverPid);
  t.equal(groupMembers(before.serverPid).length, 0, 'the replaced server is gone, workers and all');

  // a new version that does not import: the old server keeps serving, and the maintainer is told
  const serving = state();
  writeFileSync(path.join(tool.home, 'www', 'python', 'src', 'app.py'), `import no_such_module_anywhere\n${APP}`);
  const broken = await ws('restart');
  t.equal(broken.code, 1);
  t.match(broken.stdout, /^Your webservice keeps running the previous server \(http:\/\/127\.0\.0\.1:\d+\): a new server did not start \(.*\); the old one keeps serving; see ~\/error\.log \[TH_ERR_UNIT_REPLACEMENT_FAILED\]\n$/);
  t.equal(state().serverPid, serving.serverPid);
  t.equal((await page('/hello/still')).body, 'hello still');
  t.match(readFileSync(path.join(tool.home, 'error.log'), 'utf8'), /ModuleNotFoundError: No module named 'no_such_module_anywhere'/);

  const stop = await ws('stop');
  t.equal(stop.code, 0);
  t.equal(Object.keys(await r.hgetall(`prefix:${name}`)).filter((k) => k.startsWith('backend:')).length, 0, 'the route is gone');
  t.ok(await refusesConnections(serving.port), 'the port is free');
  t.equal(groupMembers(serving.serverPid).length, 0, 'no uWSGI process is left');
  t.notOk(signalGroup(serving.serverPid, 0));
});

t.test('python webservice problems are one line with a code, before anything starts', async (t) => {
  const dir = workDir(t);
  const home = path.join(dir, 'homes', 'pyprobs');
  const env = { TOOLHOST_RUNTIME_DIR: path.join(dir, 'runtime'), TOOLHOST_REGISTRAR_DIR: path.join(dir, 'no-registrar') };
  const ws = (...args: string[]) => runBin(t, 'webservice', ['--tool', 'pyprobs', '--home', home, ...args], { env });
  const put = (file: string, text: string) => {
    execFileSync('mkdir', ['-p', path.dirname(path.join(home, file))]);
    writeFileSync(path.join(home, file), text);
  };
  put('public_html/.keep', '');

  const missing = await ws('python3.11', 'start');
  t.equal(missing.code, 2);
  t.match(missing.stderr, /webservice: there is no ~\/www\/python\/src\/app\.py \(missing\): a python webservice serves the WSGI callable "app" of ~\/www\/python\/src\/app\.py; .* \[TH_ERR_PYTHON_APP_MISSING\]\n$/);

  put('www/python/src/app.py', 'app = None\n');
  put('www/python/venv/pyvenv.cfg', 'home = /usr/bin\nversion = 3.5.10\n');
  const oldVenv = await ws('python', 'start');
  t.equal(oldVenv.code, 2);
  t.match(oldVenv.stderr, /~\/www\/python\/venv is not a virtualenv uWSGI can use here: it was made with Python 3\.5, and uWSGI here runs Python 3\.\d+; make it again with: python3 -m venv ~\/www\/python\/venv .*\[TH_ERR_PYTHON_VENV_INVALID\]\n$/);
  execFileSync('rm', ['-r', path.join(home, 'www/python/venv')]);

  put('www/python/uwsgi.ini', '[uwsgi]\nhttp-socket = :8000\nprocesses = 2\ndaemonize = /tmp/uwsgi.log\n[other]\nsocket = ignored\n');
  const keys = await ws('python', 'start');
  t.equal(keys.code, 2);
  t.match(keys.stderr, /~\/www\/python\/uwsgi\.ini sets what toolhost decides \(line 2: http-socket, line 4: daemonize\): .* \[TH_ERR_UWSGI_INI_PLATFORM_KEY\]\n$/);
  put('www/python/uwsgi.ini', '[uwsgi]\nprocesses = 2\n');

  const noUwsgi = await runBin(t, 'webservice', ['--tool', 'pyprobs', '--home', home, 'python', 'start'], { env: { ...env, TOOLHOST_UWSGI: path.join(dir, 'no-uwsgi') } });
  t.equal(noUwsgi.code, 3);
  t.match(noUwsgi.stderr, /uWSGI is not installed \(no .*no-uwsgi\); install it with: apt-get install uwsgi-core uwsgi-plugin-python3 \[TH_ERR_UWSGI_NOT_INSTALLED\]\n$/);

  // Toolforge's names: a version this host does not run is said, and the host's is used
  const old = await ws('python3.9', 'config');
  t.equal(old.code, 0, old.stderr);
  t.match(old.stdout, new RegExp(`^cd ${home}/www/python/src && PORT=\\$PORT /usr/bin/uwsgi --plugin python3,logfile --http-socket 127\\.0\\.0\\.1:\\$PORT .*--mount /pyprobs=${home}/www/python/src/app\\.py .*--ini ${home}/www/python/uwsgi\\.ini\\n$`));
  const note = await ws('python3.9', 'start');
  t.match(note.stderr, /^webservice: "python3\.9" asks for Python 3\.9; this host runs Python 3\.\d+, so the python webservice uses 3\.\d+\n/);
  const unknown = await ws('cobol', 'start');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown webservice type "cobol"; choose one of: lighttpd, lighttpd-plain, generic, python, node \(Toolforge's names too: .*\) \[TH_ERR_USAGE\]/);
});
