// The HTTP rules a proxy must keep (#10), on the fast lane and on Node's server (reached with
// Expect: 100-continue): absolute-form targets, interim 1xx answers, bytes that cannot be HTTP,
// a backend that accepts nothing (connect timeout), and Location rewriting behind HTTPS.
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { startEchoBackend, startProxyWithRoutes, waitFor, workDir } from '../helpers/index.js';


function send(port: number, text: string | Buffer, until?: (got: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(`${got}[no answer within ${timeoutMs} ms]`);
    }, timeoutMs);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (until?.(got)) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

const LANES = { 'fast lane': '', 'Node lane': 'Expect: 100-continue\r\n' } as const;

/** a listening socket that never accepts, its queue full: connections to it are never established */
async function silentBackend(t: Test): Promise<number> {
  const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => py.kill('SIGKILL'));
  const port = await new Promise<number>((resolve) => py.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const fillers: net.Socket[] = [];
  t.teardown(() => fillers.forEach((s) => s.destroy()));
  for (let i = 0; i < 4; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
  }
  return port;
}

t.test('an absolute-form target is accepted: routed by its path, Host from the target (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const backend = await startEchoBackend(t, 'abs');
  await route('abs', backend.url);
  for (const [lane, extra] of Object.entries(LANES)) {
    const got = await send(proxy.port, `GET http://Tools.Example/abs/x?y=1 HTTP/1.1\r\nHost: elsewhere\r\n${extra}Connection: close\r\n\r\n`);
    t.match(got, /HTTP\/1\.1 200 OK/, lane);
    const seen = backend.seen.at(-1);
    t.equal(seen?.url, '/abs/x?y=1', `${lane}: the tool gets the path`);
    t.equal(seen?.headers.host, 'Tools.Example', `${lane}: and the target's host as Host`);
    t.equal(seen?.headers['x-forwarded-host'], 'Tools.Example');
  }
});

t.test('a TLS ClientHello on the plain port is answered 400 at once, not after the head timeout (#10)', async (t) => {
  const { proxy } = await startProxyWithRoutes(t, { limits: { headersTimeoutMs: 60_000 } });
  // a real ClientHello, as a browser sends to http://host:443-style mistakes
  const hello = await new Promise<Buffer>((resolve) => {
    const fake = net.createServer((s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy())));
    fake.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ port: (fake.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
      c.on('error', () => fake.close());
    });
  });
  t.equal(hello[0], 0x16, 'a TLS handshake record');
  const got = await send(proxy.port, hello);
  t.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/, 'answered 400, the connection closed');
});

t.test('1xx interim answers reach HTTP/1.1 clients on both lanes, never HTTP/1.0 ones (#10)', async (t) => {
  const { proxy, route } = await startProxyWithRoutes(t);
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      buf = '';
      s.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
      setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal'), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  await route('hints', `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  for (const [lane, extra] of Object.entries(LANES)) {
    const got = await send(proxy.port, `GET /hints/ HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`, (g) => g.endsWith('final'));
    t.match(got, /HTTP\/1\.1 103 Early Hints\r\n[Ll]ink: <\/style\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/, `${lane}: the 103 and its Link, then the answer`);
  }
  const old = await send(proxy.port, 'GET /hints/ HTTP/1.0\r\nHost: x\r\n\r\n');
  t.notMatch(old, /103/, 'HTTP/1.0: no interim answer');
  t.match(old, /^HTTP\/1\.1 200 OK\r\n[\s\S]*final$/);
});

t.test('a backend that accepts nothing: 504 after the connect timeout on every path, then it is skipped (#10)', async (t) => {
  const { proxy, route, r } = await startProxyWithRoutes(t, { connectTimeoutMs: 300, responseTimeoutMs: 20_000 });
  const silent = await silentBackend(t);
  await route('silent', `http://127.0.0.1:${silent}`);
  for (const [lane, extra] of Object.entries(LANES)) {
    const got = await send(proxy.port, `GET /silent/ HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
    t.match(got, /^HTTP\/1\.1 (100 Continue\r\n\r\nHTTP\/1\.1 )?504 /, `${lane}: 504, well before the 20 s response timeout`);
  }
  const upgrade = await send(proxy.port, 'GET /silent/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  t.match(upgrade, /^HTTP\/1\.1 504 /, 'upgrade: 504');
  // beside a live backend, the silent one costs one retry, then is skipped
  const live = await startEchoBackend(t, 'live');
  await r.hset(routeKey('pair'), 'backend:silent', `http://127.0.0.1:${silent}`, 'backend:live', live.url);
  await r.publish(routeKey('pair'), 'x');
  await waitFor(() => proxy.proxy.routeTable.get('pair')?.backends.length === 2, 3000, 'the pair');
  const retries = async (): Promise<number> => Number(/^toolhost_proxy_retries_total (\d+)/m.exec(await (await fetch(`${proxy.adminUrl}/metrics`)).text())?.[1]);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await fetch(`${proxy.url}/pair/`)).status);
  t.same(statuses, Array(6).fill(200), 'every request served');
  t.equal(await retries(), 1, 'one retry: the silent backend was skipped after its first timeout');
  t.equal(live.seen.length, 6);
});

t.test('behind HTTPS, a tool\'s Location: http://<the host asked for>/... becomes https on both lanes; --no-rewrite-location keeps it (#10)', async (t) => {
  const dir = workDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tools.test'], { stdio: 'ignore' });
  const tlsOptions = { listen: { host: '127.0.0.1', port: 0 }, certFile: cert, keyFile: key };
  const { proxy, route } = await startProxyWithRoutes(t, { tls: tlsOptions });
  const backend = await startEchoBackend(t, 'redir', (req, res) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '';
    res.writeHead(302, { location: to, 'content-length': 0 });
    res.end();
    return true;
  });
  await route('redir', backend.url);
  const httpsPort = proxy.proxy.addresses().https?.port as number;
  const plainPort = proxy.port;
  const location = (lane: keyof typeof LANES, to: string, port = httpsPort): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'tools.test' }, () =>
        s.write(`GET /redir/?to=${encodeURIComponent(to)} HTTP/1.1\r\nHost: tools.test:${port}\r\n${LANES[lane]}Connection: close\r\n\r\n`),
      );
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(/\r\nlocation: ([^\r]*)/i.exec(got)?.[1]));
    });
  for (const lane of Object.keys(LANES) as (keyof typeof LANES)[]) {
    t.equal(await location(lane, 'http://tools.test/a?b'), `https://tools.test:${httpsPort}/a?b`, `${lane}: the host asked for`);
    t.equal(await location(lane, `http://TOOLS.test:${plainPort}/c`), `https://tools.test:${httpsPort}/c`, `${lane}: on the plain listener's port`);
    t.equal(await location(lane, `http://tools.test:${httpsPort}`), `https://tools.test:${httpsPort}`, `${lane}: on the port the client used`);
    t.equal(await location(lane, 'http://elsewhere.test/x'), 'http://elsewhere.test/x', `${lane}: another host is left alone`);
    t.equal(await location(lane, 'http://tools.test:8999/x'), 'http://tools.test:8999/x', `${lane}: another port is left alone`);
    t.equal(await location(lane, '/relative'), '/relative', `${lane}: a relative Location is left alone`);
  }
  const off = await startProxyWithRoutes(t, { tls: tlsOptions, rewriteLocation: false });
  await off.route('redir', backend.url);
  const offPort = off.proxy.proxy.addresses().https?.port as number;
  t.equal(await location('fast lane', 'http://tools.test/a', offPort), 'http://tools.test/a', 'rewriting off: passed on as sent');
});
