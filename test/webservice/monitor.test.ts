import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { HostMonitor, supervisorPid } from '../../src/webservice/index.js';
import { killProcessesOf, makeToolHome, startRedis, waitFor, workDir } from '../helpers/index.js';

const MANIFEST = '# test\nbackend: toolhost\nweb: lighttpd-plain\nversion: 1\n';

t.test('the monitor restarts a dead supervisor, then throttles one that keeps dying', async (t) => {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const tool = makeToolHome(t, 'flaky', { 'service.manifest': MANIFEST, 'public_html/index.html': 'x' });
  const env = { ...process.env, TOOLHOST_RUNTIME_DIR: path.join(workDir(t), 'runtime') };
  delete env.NODE_OPTIONS;
  const lines: string[] = [];
  const monitor = new HostMonitor({ homeRoot: path.dirname(tool.home), redisUrl: redis.url, env, bind: '127.0.0.1', maxRestarts: 2, windowMs: 60_000, log: (l) => lines.push(l) });
  const runtimeDir = path.join(workDir(t), 'runtime', 'flaky');
  for (let i = 0; i < 2; i++) {
    t.equal(monitor.scan().get('flaky'), 'restarted');
    const pid = await waitFor(() => supervisorPid(runtimeDir) !== null, 10_000, 'the supervisor')
      .catch((err: Error) => {
        throw new Error(`${err.message}: ${readFileSync(path.join(tool.home, 'service.log'), 'utf8')}`);
      })
      .then(() => supervisorPid(runtimeDir) as number);
    t.equal(monitor.scan().get('flaky'), 'running');
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => supervisorPid(runtimeDir) === null, 5000, 'the supervisor to die');
  }
  t.equal(monitor.scan().get('flaky'), 'throttled');
  t.match(lines.join('\n'), /flaky: supervisor down, but restarted 2 times in 1 min; leaving it for a person/);
});

t.test('a manifest not owned by the tool is ignored', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async (t) => {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const tool = makeToolHome(t, 'planted', { 'public_html/index.html': 'x' });
  writeFileSync(path.join(tool.home, 'service.manifest'), MANIFEST);
  chownSync(path.join(tool.home, 'service.manifest'), 65534, 65534);
  const lines: string[] = [];
  const monitor = new HostMonitor({ homeRoot: path.dirname(tool.home), redisUrl: redis.url, env: process.env, bind: '127.0.0.1', log: (l) => lines.push(l) });
  t.equal(monitor.scan().get('planted'), 'ignored');
  t.match(lines[0], /planted: ignoring .*service\.manifest: it is not owned by the tool/);
});
