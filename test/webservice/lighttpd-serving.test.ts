// The merged configuration run by the real lighttpd: ~/public_html served both at /<tool>/...
// (path routing forwards the path unchanged) and at /... (host routing), without Toolforge's
// T254640, with the access log in the tool's home.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import { buildLighttpdConfig } from '../../src/webservice/index.js';
import { freePort, makeToolHome, startLighttpd } from '../helpers/index.js';
import { writeFileSync } from 'node:fs';

async function serve(t: Test, name: string, files: Record<string, string>) {
  const tool = makeToolHome(t, name, files);
  const port = await freePort();
  const built = buildLighttpdConfig({
    tool: { name, home: tool.home, account: null },
    type: 'lighttpd-plain',
    port,
    bind: '127.0.0.1',
    runtimeDir: tool.runtimeDir,
    asAccount: false,
    env: process.env,
  });
  t.ok(built.ok, built.diagnostics.map((d) => d.message).join('\n'));
  const file = path.join(tool.runtimeDir, 'lighttpd.conf');
  writeFileSync(file, built.text);
  await startLighttpd(t, file, port, built.env);
  const get = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { redirect: 'manual' });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return { tool, port, get };
}

t.test('public_html is served at /<tool>/ and at /', async (t) => {
  const { get } = await serve(t, 'pages', { 'public_html/index.html': 'INDEX', 'public_html/sub/a.txt': 'A' });
  t.same(await get('/pages/'), { status: 200, body: 'INDEX', type: 'text/html; charset=utf-8' });
  t.same(await get('/'), { status: 200, body: 'INDEX', type: 'text/html; charset=utf-8' });
  t.equal((await get('/pages/sub/a.txt')).body, 'A');
  t.equal((await get('/sub/a.txt')).body, 'A');
  t.equal((await get('/pages/nope.html')).status, 404);
});

t.test('files whose names begin with the tool name are served (Toolforge T254640)', async (t) => {
  const { get } = await serve(t, 'logo', { 'public_html/logo-small.txt': 'SMALL', 'public_html/logo.txt': 'PLAIN' });
  t.same(await get('/logo-small.txt'), { status: 200, body: 'SMALL', type: 'text/plain; charset=utf-8' });
  t.equal((await get('/logo.txt')).body, 'PLAIN');
  t.equal((await get('/logo/logo-small.txt')).body, 'SMALL');
});

t.test('the maintainer\'s document root is used for path routing too', async (t) => {
  const { get } = await serve(t, 'own', { '.lighttpd.conf': 'server.document-root = env.HOME + "/site"\n', 'site/index.html': 'SITE' });
  t.equal((await get('/own/')).body, 'SITE');
  t.equal((await get('/')).body, 'SITE');
});

t.test('the maintainer\'s own alias.url prefixes under /<tool>/ match before the default one', async (t) => {
  const { get } = await serve(t, 'aliased', {
    '.lighttpd.conf': 'alias.url += ("/aliased/static/" => env.HOME + "/assets/")\n',
    'assets/x.css': 'CSS',
    'public_html/index.html': 'I',
  });
  t.same(await get('/aliased/static/x.css'), { status: 200, body: 'CSS', type: 'text/css; charset=utf-8' });
  t.equal((await get('/aliased/')).body, 'I');
});

t.test('a mimetype entry from the maintainer replaces the default one', async (t) => {
  const { get } = await serve(t, 'mime', { '.lighttpd.conf': 'mimetype.assign += (".txt" => "text/x-custom")\n', 'public_html/a.txt': 'x' });
  t.equal((await get('/mime/a.txt')).type, 'text/x-custom');
});

t.test('url.access-deny keeps ~ and .inc files private', async (t) => {
  const { get } = await serve(t, 'deny', { 'public_html/secret.inc': 's', 'public_html/backup~': 'b' });
  t.equal((await get('/deny/secret.inc')).status, 403);
  t.equal((await get('/backup~')).status, 403);
});

t.test('requests are logged to ~/access.log and errors to ~/error.log', async (t) => {
  const { get, tool } = await serve(t, 'logged', { 'public_html/index.html': 'x' });
  await get('/logged/?q=1');
  let log = '';
  // lighttpd buffers its access log and flushes it about once a second
  for (let i = 0; i < 100 && !log.includes('/logged/?q=1'); i++) {
    await sleep(50);
    try {
      log = readFileSync(path.join(tool.home, 'access.log'), 'utf8');
    } catch {
      // not written yet
    }
  }
  t.match(log, /"GET \/logged\/\?q=1 HTTP\/1\.1" 200/);
  t.match(readFileSync(path.join(tool.home, 'error.log'), 'utf8'), /server started/);
});

t.test('600 keep-alive clients at once are all answered: the template\'s connection limit fits the proxy in front (#11)', async (t) => {
  const net = await import('node:net');
  const { port } = await serve(t, 'crowd', { 'public_html/index.html': 'x' });
  const sockets: import('node:net').Socket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.destroy();
  });
  const answered = await Promise.all(
    Array.from(
      { length: 600 },
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          sockets.push(s);
          const timer = setTimeout(() => resolve(false), 5000);
          s.on('error', () => resolve(false));
          s.once('data', () => {
            clearTimeout(timer);
            resolve(true);
          });
          // a keep-alive request: the connection stays open, as the proxy's pooled ones do
          s.write('GET /crowd/ HTTP/1.1\r\nHost: x\r\n\r\n');
        }),
    ),
  );
  t.equal(answered.filter(Boolean).length, 600, 'every client got its answer within 5 s');
});
