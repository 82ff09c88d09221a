// Limits of webservices, hostile tools and the fallback without cgroups (#13), as root with real
// tool accounts and the real registrar: a webservice killed for memory says so in its status; a
// tool cannot move anything into or out of cgroups; without a registrar, rlimits stand in.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/index.js';
import { BIN, MI, type Rec, rig, skip } from '../helpers/limits-rig.js';
import { asTool } from '../helpers/platform.js';

t.test('a webservice runs in its cgroup with --mem; killed for memory, its status says so', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const server = `import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith('/hog'):
            global keep
            keep = bytearray(400 * 1024 * 1024)
        self.send_response(200); self.end_headers(); self.wfile.write(b'up')
http.server.HTTPServer(('127.0.0.1', int(sys.argv[-1])), H).serve_forever()
`;
  execFileSync('su', ['-s', '/bin/sh', `tools.${a}`, '-c', `cat > ~/server.py`], { input: server });
  const start = r.as(a, 'webservice --mem 64Mi --cpu 0.5 generic start -- python3 server.py');
  t.equal(start.status, 0, start.stderr + start.stdout);
  const st = r.state(a);
  t.equal(r.cgroupOf(st.serverPid, 'memory'), `/${r.registrar.cgroupRoot}/${a}/jobs/web`);
  t.equal(r.cgroupOf(st.supervisorPid, 'memory'), `/${r.registrar.cgroupRoot}/${a}/toolhost`, 'the supervisor among the tool\'s helpers');
  t.match(r.as(a, 'webservice status').stdout, /limits\s+memory 64Mi, cpu 0\.5 \(enforced by cgroups\)/);
  await waitFor(async () => (await r.served(a)).status === 200, 15_000, 'served through the proxy');
  await fetch(`${r.proxy.url}/${a}/hog`).catch(() => null);
  await waitFor(() => /out of memory/.test(r.as(a, 'webservice status').stdout), 20_000, 'the OOM in status');
  t.match(r.as(a, 'webservice status').stdout, /last exit\s+killed: out of memory \(limit 64Mi\); raise it with --mem/);
  await waitFor(async () => (await r.served(a)).status === 200, 20_000, 'served again after its restart');
  t.equal(r.as(a, 'webservice stop').status, 0);
  await waitFor(() => !existsSync(r.cgroup('memory', a, 'jobs', 'web')), 15_000, 'the web unit\'s cgroup removed');
  t.pass('stopped, and its cgroup is gone');
});

t.test('a hostile tool cannot change its limits, place another\'s process, or leave its cgroup', { skip }, async (t) => {
  const r = await rig(t);
  const { a, b } = r;
  t.equal(r.as(a, 'toolhost jobs run sleeper --command "sleep 300" --mem 64Mi').status, 0);
  await waitFor(() => r.record(a, 'sleeper')?.status === 'running', 15_000, 'a\'s job running');
  const victim = r.record(a, 'sleeper')?.pid as number;
  const unit = r.cgroup('memory', a, 'jobs', 'run-sleeper');
  // the files are root's
  t.match(asTool(a, `echo 9999999999 > ${unit}/memory.limit_in_bytes`).stderr, /Permission denied/);
  t.match(asTool(a, `echo $$ > /sys/fs/cgroup/memory/cgroup.procs`).stderr, /Permission denied|Operation not permitted/, 'cannot leave for the root cgroup');
  t.match(asTool(a, `mkdir ${r.cgroup('memory', a, 'jobs', 'run-mine')}`).stderr, /Permission denied/);
  // b asks its own registrar socket to place a's process, and root's, in a unit of b's
  const speak = (lines: string[]) =>
    asTool(
      b,
      `${process.execPath} -e '
const s = require("net").connect(${JSON.stringify(path.join(r.registrar.dir, `${b}.sock`))});
const out = []; let buf = "";
s.on("data", (d) => { buf += d; });
s.on("connect", () => { for (const l of ${JSON.stringify(lines)}) s.write(l + "\\n"); setTimeout(() => { console.log(buf); s.end(); }, 1500); });
'`,
    );
  const said = speak([
    JSON.stringify({ n: 1, op: 'admit', unit: 'run-x', memory: 64 * MI, cpu: 100 }),
    JSON.stringify({ n: 2, op: 'place', unit: 'run-x', pid: victim }),
    JSON.stringify({ n: 3, op: 'place', unit: 'toolhost', pid: 1 }),
    JSON.stringify({ n: 4, op: 'release', unit: '../../../memory' }),
    JSON.stringify({ n: 5, op: 'admit', unit: '../escape', memory: 64 * MI, cpu: 100 }),
  ]);
  t.match(said.stdout, /"n":1,"ok":true/);
  t.match(said.stdout, /"n":2,"ok":false,"code":"TH_ERR_LIMITS_FAILED","message":"cannot apply the limits of run-x: process \d+ is not a process of this tool/);
  t.match(said.stdout, /"n":3,"ok":false,"code":"TH_ERR_LIMITS_FAILED"/);
  t.match(said.stdout, /"n":4,"ok":false/);
  t.match(said.stdout, /"n":5,"ok":false/);
  t.equal(r.cgroupOf(victim, 'memory'), `/${r.registrar.cgroupRoot}/${a}/jobs/run-sleeper`, 'a\'s process stays where it was');
  t.equal(readFileSync(`${unit}/memory.limit_in_bytes`, 'utf8').trim(), String(64 * MI));
});

t.test('without a registrar to place it, a job runs under rlimits and says so', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  const run = asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_REGISTRAR_DIR=/nonexistent TOOLHOST_RUNTIME_DIR=${r.runtime} TOOLHOST_STATE_DIR=${r.stateDir} ${BIN}/toolhost jobs run loose --command "sleep 300" --mem 200Mi`);
  t.equal(run.status, 0, run.stderr);
  await waitFor(() => r.record(a, 'loose')?.status === 'running', 15_000, 'running');
  const rec = r.record(a, 'loose') as Rec;
  t.match(rec.limits, { memory: 200 * MI, enforced: false });
  t.match(JSON.stringify(rec.limits), /not enforced by cgroups.*\[TH_WARN_LIMITS_NOT_ENFORCED\]/, 'the warning, in the record');
  // the record says running once the process is spawned; prlimit sets the limits a moment later, before it execs the command
  await waitFor(() => new RegExp(`Max data size\\s+${200 * MI}`).test(readFileSync(`/proc/${rec.pid}/limits`, 'utf8')), 10_000, 'the rlimits set').catch(() => undefined);
  t.match(readFileSync(`/proc/${rec.pid}/limits`, 'utf8'), new RegExp(`Max data size\\s+${200 * MI}\\s+${200 * MI}\\s+bytes`), 'memory as RLIMIT_DATA');
  t.match(readFileSync(`/proc/${rec.pid}/limits`, 'utf8'), /Max processes\s+1024\s+1024/);
  t.match(asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_RUNTIME_DIR=${r.runtime} TOOLHOST_STATE_DIR=${r.stateDir} TOOLHOST_REGISTRAR_DIR=/nonexistent ${BIN}/toolhost jobs show loose`).stdout, /not enforced by cgroups: rlimits only, CPU not limited/);
  t.equal(r.cgroupOf(rec.pid as number, 'memory').includes(r.registrar.cgroupRoot), false, 'in no cgroup of ours');
  asTool(a, `cd ~ && env -u NODE_OPTIONS TOOLHOST_RUNTIME_DIR=${r.runtime} TOOLHOST_REGISTRAR_DIR=/nonexistent ${BIN}/toolhost jobs delete loose`);
});
