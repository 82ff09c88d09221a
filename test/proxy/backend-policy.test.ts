// Where the proxy may send requests (#9): addresses are compared, not their spellings. Every
// spelling of the proxy's own listeners and of its Redis is refused; 0.0.0.0 and :: are never
// destinations; names are never resolved.
import t from 'tap';
import { backendPolicy, DEFAULT_BACKEND_NETWORKS } from '../../src/proxy/backend-networks.js';
import { parseBackendUrl } from '../../src/routes/index.js';
import { startProxyWithRoutes } from '../helpers/index.js';

/** how an address reaches the policy: through the URL parser, as a route's value does */
function verdict(policy: ReturnType<typeof backendPolicy>, url: string): string | null {
  const parsed = parseBackendUrl(url);
  if (typeof parsed === 'string') return parsed;
  return policy(parsed.host, parsed.port);
}

const LOOPBACK_SPELLINGS = [
  '127.0.0.1',
  '127.1',
  '127.0.1',
  '0x7f.1',
  '0x7f000001',
  '2130706433',
  '017700000001',
  '0177.0.0.1',
  '127.000.000.001',
  '127.0.0.1.',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[0:0:0:0:0:ffff:7f00:1]',
  'localhost',
  '127.0.0.2',
  '127.255.255.254',
];

t.test('every spelling of the proxy\'s own listeners and of Redis is refused', async (t) => {
  const policy = backendPolicy(DEFAULT_BACKEND_NETWORKS, [
    { host: '127.0.0.1', port: 8080 }, // the public listener
    { host: '0.0.0.0', port: 9090 }, // the admin listener, on every address
    { host: '::', port: 8443 }, // HTTPS, dual stack
    { host: 'localhost', port: 6379 }, // Redis, by name
    { host: 'redis.internal', port: 6380 }, // Redis by a name the proxy cannot compare
  ]);
  for (const port of [8080, 9090, 8443, 6379, 6380]) {
    for (const host of [...LOOPBACK_SPELLINGS, '[::1]', '[0:0:0:0:0:0:0:1]']) {
      // ::1 does not reach an IPv4-only listener, but refusing it there costs nothing
      t.match(verdict(policy, `http://${host}:${port}`), /is the proxy itself or its Redis, never a backend/, `${host}:${port}`);
    }
  }
  for (const host of ['0.0.0.0', '0', '[::]', '[0:0:0:0:0:0:0:0]', '0x0']) {
    t.match(verdict(policy, `http://${host}:8081`), /is not a destination/, host);
  }
  t.match(verdict(policy, 'http://10.0.0.1:8081'), /outside the backend networks/);
  t.match(verdict(policy, 'http://[::ffff:10.0.0.1]:8081'), /outside the backend networks/, 'IPv4-mapped is its IPv4 address');
  t.match(verdict(policy, 'http://example.org:8081'), /not an IP address: the proxy resolves no names/);
  for (const host of LOOPBACK_SPELLINGS) t.equal(verdict(policy, `http://${host}:8081`), null, `${host}:8081 is a backend like any`);
});

t.test('a route pointed at the proxy\'s admin or public port in another spelling is never followed', async (t) => {
  const problems: string[] = [];
  const { proxy, r } = await startProxyWithRoutes(t, { onRouteProblem: (p) => problems.push(`${p.tool} ${p.value}: ${p.reason}`) });
  const admin = Number(new URL(proxy.adminUrl).port);
  await r.hset('prefix:peeker', '.*', `http://[::ffff:127.0.0.1]:${admin}`);
  await r.hset('prefix:looper', '.*', `http://0x7f.1:${proxy.port}`);
  await r.publish('prefix:peeker', 'x');
  await r.publish('prefix:looper', 'x');
  const { waitFor } = await import('../helpers/index.js');
  await waitFor(() => problems.length >= 2, 3000, 'both refused');
  const peek = await fetch(`${proxy.url}/peeker/metrics`);
  t.equal(peek.status, 502, 'a route whose every backend is refused: bad gateway');
  t.notMatch(await peek.text(), /toolhost_proxy_/, 'no metrics leak through the route');
  const loop = await fetch(`${proxy.url}/looper/`);
  t.equal(loop.status, 502, 'no request loop through the proxy itself');
  t.match(problems.join('\n'), /peeker .*is the proxy itself or its Redis/);
});
