// Module tests of the python and node webservice types (#14): Toolforge's type names, the
// uwsgi.ini keys toolhost decides, and the listen() calls the node preload binds to HOST — the
// last with a real Node process listening the way Toolforge's example does.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { withHost } from '../../src/webservice/node-listen-host.js';
import { platformKeysIn } from '../../src/webservice/python-server.js';
import { readManifestOf } from '../../src/webservice/manifest.js';
import { webserviceType } from '../../src/webservice/webservice-types.js';
import { ROOT, workDir } from '../helpers/index.js';

t.test("Toolforge's type names map to toolhost's types", async (t) => {
  t.same(webserviceType('python'), { type: 'python', version: null });
  t.same(webserviceType('python3.11'), { type: 'python', version: '3.11' });
  t.same(webserviceType('python3.9'), { type: 'python', version: '3.9' });
  t.same(webserviceType('uwsgi-python'), { type: 'python', version: null });
  t.same(webserviceType('node18'), { type: 'node', version: '18' });
  t.same(webserviceType('nodejs'), { type: 'node', version: null });
  t.same(webserviceType('php8.2'), { type: 'lighttpd', version: '8.2' });
  t.same(webserviceType('lighttpd-plain'), { type: 'lighttpd-plain', version: null });
  for (const word of ['python2', 'python3.', 'node-18', 'js', 'ruby2.1', 'tomcat', '']) t.equal(webserviceType(word), null, word);

  // a ~/service.manifest Toolforge wrote means the same here
  const home = workDir(t);
  writeFileSync(path.join(home, 'service.manifest'), '# This file is used by toolforge infrastructure.\nbackend: kubernetes\nversion: 4\nweb: python3.11\n');
  t.same(readManifestOf(home, { uid: process.getuid?.() ?? 0 }), { manifest: { type: 'python' }, problem: null });
});

t.test("uwsgi.ini: sockets, daemonizing and identity in the [uwsgi] section are toolhost's, the rest is the maintainer's", async (t) => {
  const ini = [
    '; comment: socket = x',
    '[uwsgi]',
    'processes = 4',
    'HTTP_Socket = :8000',
    '  socket=/tmp/x.sock',
    '# daemonize = /tmp/log',
    'enable-threads = true',
    'static-map = /static=%d/static',
    'uid = www-data',
    '[other]',
    'daemonize = /tmp/elsewhere',
  ].join('\n');
  t.same(platformKeysIn(ini), ['line 4: http-socket', 'line 5: socket', 'line 9: uid']);
  t.same(platformKeysIn('[uwsgi]\nmaster = true\nworkers = 2\n'), []);
  t.same(platformKeysIn('socket = :1\n'), [], 'lines before any section are not read by uWSGI');
});

t.test('listen() given a port and no host is bound to HOST; a host, a path or a handle is left as written', async (t) => {
  const cb = (): void => {};
  t.same(withHost([8000], '10.0.0.5'), [{ port: 8000, host: '10.0.0.5' }]);
  t.same(withHost(['8000', cb], '10.0.0.5'), [{ port: 8000, host: '10.0.0.5' }, cb]);
  t.same(withHost([8000, 511, cb], '10.0.0.5'), [{ port: 8000, host: '10.0.0.5', backlog: 511 }, cb]);
  t.same(withHost([{ port: 8000, exclusive: true }, cb], '10.0.0.5'), [{ port: 8000, exclusive: true, host: '10.0.0.5' }, cb]);
  t.same(withHost([8000, '0.0.0.0', cb], '10.0.0.5'), [8000, '0.0.0.0', cb]);
  t.same(withHost([{ port: 8000, host: '::' }], '10.0.0.5'), [{ port: 8000, host: '::' }]);
  t.same(withHost(['/tmp/app.sock'], '10.0.0.5'), ['/tmp/app.sock']);
  t.same(withHost([{ path: '/tmp/app.sock' }], '10.0.0.5'), [{ path: '/tmp/app.sock' }]);
  t.same(withHost([{ fd: 3 }], '10.0.0.5'), [{ fd: 3 }]);
  t.same(withHost([cb], '10.0.0.5'), [cb], 'no port: a random one, where Node puts it');

  // a real server as Toolforge's help writes it, with the preload toolhost gives node webservices
  const preload = path.join(ROOT, '.build', 'webservice', 'node-listen-preload.js');
  const script = "const s = require('http').createServer().listen(Number(process.env.PORT), () => { console.log(JSON.stringify(s.address())); s.close(); })";
  const child = spawn(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', NODE_OPTIONS: `--import=file://${preload}` }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((resolve) => child.once('close', resolve));
  t.match(JSON.parse(out), { address: '127.0.0.1', family: 'IPv4' });
});
