// The systemd units in conf/systemd (#14): each passes `systemd-analyze verify` without a word
// (where systemd's tools are installed; no systemd needs to run), runs a toolhost command with
// options that command has, restarts on any exit, and is confined as its work allows: the proxy
// holds no root, the registrar sees the system read-only, and the monitor, whose children are the
// tools' own processes, imposes nothing on them and does not take them down when it stops.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT, runBin, workDir } from '../helpers/index.js';

const UNITS = path.join(ROOT, 'conf', 'systemd');
/** where the guide installs toolhost (docs/guides/run-a-platform.md, step 0) */
const INSTALLED = '/opt/toolhost';

type Unit = Map<string, string[]>;

/** `Section.Key` -> every value given, in order (systemd keys may repeat) */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

const one = (u: Unit, key: string): string | undefined => u.get(key)?.at(-1);
const units = new Map(readdirSync(UNITS).filter((f) => f.endsWith('.service')).map((f) => [f, parseUnit(readFileSync(path.join(UNITS, f), 'utf8'))]));
const unit = (name: string): Unit => units.get(name) ?? new Map();

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.status === 0 ? false : 'systemd-analyze is not installed (apt-get install systemd)';
const noOffline = noAnalyze || (/--offline/.test(spawnSync('systemd-analyze', ['security', '--help'], { encoding: 'utf8' }).stdout) ? false : 'this systemd-analyze reviews no unit file offline (systemd < 250)');

t.test('there are units for the proxy, the registrar and the monitor; the guide installs each', async (t) => {
  t.same([...units.keys()].sort(), ['toolhost-monitor.service', 'toolhost-proxy.service', 'toolhost-registrar.service']);
  const guide = readFileSync(path.join(ROOT, 'docs', 'guides', 'run-a-platform.md'), 'utf8');
  for (const name of units.keys()) {
    t.match(guide, `conf/systemd/${name}`, `the guide copies ${name}`);
    t.match(guide, new RegExp(`systemctl enable --now [\\w -]*${name.replace('.service', '')}`), `the guide enables ${name}`);
  }
});

t.test('each unit passes systemd-analyze verify without a warning', { skip: noAnalyze }, async (t) => {
  // verify checks that ExecStart's program exists: the units, pointed at this checkout
  const dir = workDir(t);
  const files = [...units.keys()].map((name) => {
    const file = path.join(dir, name);
    writeFileSync(file, readFileSync(path.join(UNITS, name), 'utf8').replaceAll(`${INSTALLED}/`, `${ROOT}/`));
    return file;
  });
  const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(`${r.stdout}${r.stderr}`, '', 'no warning either (unknown keys and bad values are only warnings)');
});

t.test('each unit runs an installed toolhost command with options it has, and restarts it on any exit', async (t) => {
  for (const [name, u] of units) {
    const exec = one(u, 'Service.ExecStart') ?? '';
    const [program, subcommand, ...args] = exec.split(/\s+/);
    t.equal(program, `${INSTALLED}/bin/toolhost`, `${name} runs toolhost from where the guide installs it`);
    t.equal(`toolhost-${subcommand}.service`, name, `${name} runs toolhost ${subcommand}`);
    const help = await runBin(t, 'toolhost', [subcommand as string, '--help']);
    t.equal(help.code, 0, help.stderr);
    for (const option of args.filter((a) => a.startsWith('--'))) t.match(help.stdout, new RegExp(`^\\s+${option}\\b`, 'm'), `${name}: toolhost ${subcommand} has ${option}`);
    t.equal(one(u, 'Service.Restart'), 'always', `${name} restarts on any exit systemd did not ask for`);
    t.ok(Number(one(u, 'Service.RestartSec')) > 0, `${name} waits before restarting`);
    t.equal(one(u, 'Install.WantedBy'), 'multi-user.target', `${name} starts at boot once enabled`);
  }
});

t.test('the proxy never has root: its own user, the capability to bind low ports and no other, the system read-only', async (t) => {
  const u = unit('toolhost-proxy.service');
  const user = one(u, 'Service.User');
  t.ok(user && user !== 'root' && user !== '0', `runs as ${user}`);
  t.notOk(one(u, 'Service.DynamicUser'), 'a static user: the TLS key is readable by its group');
  t.equal(one(u, 'Service.AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  t.equal(one(u, 'Service.CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE', 'and can never gain another');
  t.notOk(u.has('Service.PrivateUsers'), 'no user namespace of its own, where CAP_NET_BIND_SERVICE would not bind port 80');
  t.equal(one(u, 'Service.NoNewPrivileges'), 'yes');
  t.equal(one(u, 'Service.ProtectSystem'), 'strict');
  t.equal(one(u, 'Service.ProtectHome'), 'yes');
  t.equal(one(u, 'Service.PrivateTmp'), 'yes', 'request bodies it buffers are its own');
  t.equal(one(u, 'Service.LogsDirectory'), 'toolhost', 'the one directory it writes: its access log');
  t.equal(one(u, 'Service.RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX');
  t.notOk(u.has('Service.MemoryDenyWriteExecute'), 'V8 needs executable memory it writes');
  t.match(one(u, 'Service.ExecReload') ?? '', /kill -HUP \$MAINPID/, 'reload reopens the access log');
  t.match(one(u, 'Service.EnvironmentFile') ?? '', /^\/etc\/toolhost\//, 'its Redis password comes from a file systemd reads, not its command line');
  t.notMatch(one(u, 'Service.ExecStart') ?? '', /redis:\/\//);
});

t.test('the registrar sees the system read-only but for its runtime and state directories, kept across its restarts', async (t) => {
  const u = unit('toolhost-registrar.service');
  t.equal(one(u, 'Service.User'), undefined, 'root: it hands sockets to tools and reads every process\'s sockets');
  t.equal(one(u, 'Service.ProtectSystem'), 'strict');
  t.equal(one(u, 'Service.RuntimeDirectory'), 'toolhost-registrar');
  t.equal(one(u, 'Service.RuntimeDirectoryPreserve'), 'yes', 'its registrations survive its restart');
  t.equal(one(u, 'Service.NoNewPrivileges'), 'yes');
  t.notOk(u.has('Service.PrivateNetwork'), 'it reads the host\'s socket table');
  t.notOk(u.has('Service.ProtectControlGroups'), 'tools\' limits are written in the cgroup hierarchies');
  t.match(one(u, 'Service.CapabilityBoundingSet') ?? '', /^~.*CAP_SYS_MODULE/, 'none of root\'s powers over the machine itself');
});

t.test('the monitor leaves tools\' processes running when it stops and imposes nothing on them', async (t) => {
  const u = unit('toolhost-monitor.service');
  t.equal(one(u, 'Service.KillMode'), 'process', 'stopping or restarting the monitor stops the monitor alone');
  // the tools' supervisors, servers and jobs start from the monitor and inherit all of these
  for (const key of ['PrivateTmp', 'PrivateDevices', 'PrivateNetwork', 'PrivateUsers', 'NoNewPrivileges', 'SystemCallFilter', 'SystemCallArchitectures', 'RestrictAddressFamilies', 'RestrictNamespaces', 'MemoryDenyWriteExecute', 'ProtectHome', 'ProtectProc']) {
    t.notOk(u.has(`Service.${key}`), `no ${key}: a tool would notice it`);
  }
  t.notOk(u.has('Service.User') || u.has('Service.DynamicUser'), 'root: it starts each tool\'s processes as the tool');
  t.equal(one(u, 'Service.ProtectSystem'), 'full', '/usr and /etc read-only: no tool may write them anyway');
});

t.test('systemd rates the proxy and the registrar as confined', { skip: noOffline }, async (t) => {
  const dir = workDir(t);
  for (const [name, most] of [['toolhost-proxy.service', 2.5], ['toolhost-registrar.service', 5]] as const) {
    const file = path.join(dir, name);
    writeFileSync(file, readFileSync(path.join(UNITS, name), 'utf8').replaceAll(`${INSTALLED}/`, `${ROOT}/`));
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', file], { encoding: 'utf8' });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1];
    t.ok(level !== undefined && Number(level) <= most, `${name}: exposure ${level ?? r.stderr} (at most ${most}; 10 is unconfined)`);
  }
});
