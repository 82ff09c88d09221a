import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import t from 'tap';
import { routeKey } from '../../src/routes/index.js';
import { redisClient, startEchoBackend, startProxy, startRedis, waitFor } from '../helpers/index.js';

t.test('with a certificate: HTTPS serves tools with HSTS; plain HTTP redirects to HTTPS', async (t) => {
  const dir = t.testdir();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tools.test', '-addext', 'subjectAltName=DNS:tools.test,DNS:*.tools.test,IP:127.0.0.1'], { stdio: 'ignore' });
  const redis = await startRedis(t);
  const r = await redisClient(t, redis.url);
  const proxy = await startProxy(t, redis.url, { tls: { listen: { host: '127.0.0.1', port: 0 }, certFile: cert, keyFile: key } });
  const httpsPort = proxy.proxy.addresses().https?.port;
  const backend = await startEchoBackend(t, 'secure');
  await r.hset(routeKey('secure'), '.*', backend.url);
  await waitFor(() => proxy.proxy.routeTable.get('secure') !== undefined);

  const res = await new Promise<{ status: number; hsts: string | undefined; body: string }>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: httpsPort, path: '/secure/x', ca: execFileSync('cat', [cert]), servername: 'tools.test', headers: { host: 'tools.test' } }, (r2) => {
      let b = '';
      r2.on('data', (c) => (b += c));
      r2.on('end', () => resolve({ status: r2.statusCode ?? 0, hsts: r2.headers['strict-transport-security'], body: b }));
    }).on('error', reject);
  });
  t.equal(res.status, 200);
  t.match(res.hsts, /max-age=\d+/);
  const seen = JSON.parse(res.body);
  t.equal(seen.headers['x-forwarded-proto'], 'https');
  t.equal(seen.url, '/secure/x');

  const plain = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: proxy.port, path: '/secure/x?y=1', headers: { host: 'tools.test:8080' } }, (r2) => {
      r2.resume();
      resolve({ status: r2.statusCode ?? 0, location: r2.headers.location });
    }).on('error', reject);
  });
  t.equal(plain.status, 301, JSON.stringify(plain));
  t.equal(plain.location, `https://tools.test:${httpsPort}/secure/x?y=1`);
  t.equal((await fetch(`${proxy.url}/.well-known/healthz`)).status, 200, 'health stays on plain HTTP');
});
