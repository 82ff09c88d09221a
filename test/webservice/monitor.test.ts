import { chownSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { HostMonitor, supervisorPid } from '../../src/webservice/index.js';
import { killProcessesOf, makeToolHome, startRedis, startRegistrar, waitFor, workDir } from '../helpers/index.js';

const MANIFEST = '# test\nbackend: toolhost\nweb: lighttpd-plain\nversion: 1\n';

t.test('the monitor restarts a dead supervisor, then throttles one that keeps dying', async (t) => {
  killProcessesOf(t);
  const redis = await startRedis(t);
  const tool = makeToolHome(t, 'flaky', { 'service.manifest': MANIFEST, 'public_html/index.html': 'x' });
  const registrar = await startRegistrar(t, redis.url, path.dirname(tool.home));
  const env = { TOOLHOST_RUNTIME_DIR: path.join(workDir(t), 'runtime') };
  const lines: string[] = [];
  const monitor = new HostMonitor({ homeRoot: path.dirname(tool.home), registrarDir: registrar.dir, stateDir: path.join(workDir(t), 'state'), env, maxRestarts: 2, windowMs: 60_000, log: (l) => lines.push(l) });
  const runtimeDir = path.join(workDir(t), 'runtime', 'flaky');
  const owner = { uid: process.getuid?.() ?? 0 };
  for (let i = 0; i < 2; i++) {
    t.equal(monitor.scan().get('flaky'), 'restarted');
    const pid = await waitFor(() => supervisorPid(runtimeDir, 'flaky', owner) !== null, 10_000, 'the supervisor')
      .catch((err: Error) => {
        throw new Error(`${err.message}: ${readFileSync(path.join(tool.home, 'service.log'), 'utf8')}`);
      })
      .then(() => supervisorPid(runtimeDir, 'flaky', owner) as number);
    t.equal(monitor.scan().get('flaky'), 'running');
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => supervisorPid(runtimeDir, 'flaky', owner) === null, 5000, 'the supervisor to die');
  }
  t.equal(monitor.scan().get('flaky'), 'throttled');
  t.match(lines.join('\n'), /flaky: the supervisor of flaky went down 2 times in 1 min; the monitor leaves it stopped for a person: .*\[TH_ERR_MONITOR_GAVE_UP\]/);
});

t.test('a manifest not owned by the tool, or a link, is ignored', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async (t) => {
  killProcessesOf(t);
  const planted = makeToolHome(t, 'planted', { 'public_html/index.html': 'x' });
  writeFileSync(path.join(planted.home, 'service.manifest'), MANIFEST);
  chownSync(path.join(planted.home, 'service.manifest'), 65534, 65534);
  const linked = makeToolHome(t, 'linked', { 'public_html/index.html': 'x', 'elsewhere.yaml': MANIFEST });
  symlinkSync(path.join(linked.home, 'elsewhere.yaml'), path.join(linked.home, 'service.manifest'));
  const lines: string[] = [];
  const monitor = new HostMonitor({ homeRoot: path.dirname(planted.home), registrarDir: path.join(workDir(t), 'registrar'), stateDir: path.join(workDir(t), 'state'), env: { TOOLHOST_RUNTIME_DIR: path.join(workDir(t), 'runtime') }, log: (l) => lines.push(l) });
  const verdicts = monitor.scan();
  t.equal(verdicts.get('planted'), 'ignored');
  t.equal(verdicts.get('linked'), 'ignored');
  t.match(lines.join('\n'), /planted: ignoring .*service\.manifest: it is owned by uid 65534, not the tool \(uid 0\).*\[TH_ERR_MANIFEST_IGNORED\]/);
  t.match(lines.join('\n'), /linked: ignoring .*service\.manifest: it is a symbolic link/);
});
