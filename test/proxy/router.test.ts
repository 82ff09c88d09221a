import t from 'tap';
import { decide } from '../../src/proxy/index.js';

const path = { domain: null, pathRouting: true };
const both = { domain: 'toolforge.test', pathRouting: true };

t.test('path routing: the first segment names the tool; the path is forwarded unchanged', async (t) => {
  t.same(decide('/mytool/a/b?x=1', 'proxy', path), { kind: 'tool', tool: 'mytool', via: 'path' });
  t.same(decide('/mytool/', undefined, path), { kind: 'tool', tool: 'mytool', via: 'path' });
});

t.test('/<tool> redirects to /<tool>/ keeping the query', async (t) => {
  t.same(decide('/mytool', 'proxy', path), { kind: 'redirect', location: '/mytool/' });
  t.same(decide('/mytool?a=1', 'proxy', path), { kind: 'redirect', location: '/mytool/?a=1' });
});

t.test('/ is the home page and /.well-known/healthz the health check', async (t) => {
  t.same(decide('/', 'proxy', path), { kind: 'home' });
  t.same(decide('/?format=json', 'proxy', path), { kind: 'home' });
  t.same(decide('/.well-known/healthz', 'proxy', both), { kind: 'health' });
});

t.test('encoded traversal and odd segments never name another tool', async (t) => {
  for (const url of ['/%2e%2e/other/', '/a%2fb/', '//other/', '/./other/', '/../other/', '/%6dytool/', '/MyTool/', '/my_tool/', '/-x/', '/x-/']) {
    const d = decide(url, 'proxy', path);
    t.equal(d.kind, 'unknown', url);
  }
  t.equal(decide('/mytool/../other/', 'proxy', path).kind === 'tool' && (decide('/mytool/../other/', 'proxy', path) as { tool: string }).tool, 'mytool', 'dot segments after the tool stay with the tool');
});

t.test('a request target that is not a path is a bad request', async (t) => {
  t.same(decide('http://evil/other/', 'proxy', path), { kind: 'bad-request' });
  t.same(decide('*', 'proxy', path), { kind: 'bad-request' });
});

t.test('host routing: <tool>.<domain>, host lower-cased, port and trailing dot ignored, path unchanged', async (t) => {
  t.same(decide('/x/y', 'MyTool.ToolForge.test:8443', both), { kind: 'tool', tool: 'mytool', via: 'host' });
  t.same(decide('/', 'mytool.toolforge.test.', both), { kind: 'tool', tool: 'mytool', via: 'host' });
  t.same(decide('/x', 'a.b.toolforge.test', both), { kind: 'unknown', name: 'a.b' });
  t.same(decide('/x', 'bad_name.toolforge.test', both), { kind: 'unknown', name: 'bad_name' });
});

t.test('with both modes on, the bare domain and other hosts use path routing', async (t) => {
  t.same(decide('/mytool/', 'toolforge.test', both), { kind: 'tool', tool: 'mytool', via: 'path' });
  t.same(decide('/mytool/', '127.0.0.1:8080', both), { kind: 'tool', tool: 'mytool', via: 'path' });
  t.same(decide('/mytool/', 'toolforge.test', { domain: 'toolforge.test', pathRouting: false }), { kind: 'unknown', name: '' });
});
