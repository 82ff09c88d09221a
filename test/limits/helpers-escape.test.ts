// A tool's job may not leave its quota. The registrar's `place` moves a process of the tool into
// the tool's helpers group (<root>/<tool>/toolhost: 1 GiB and 1 CPU of its own, beside
// <tool>/jobs, not under it) for its supervisor and runners; a job's process that asked for that
// over its own registrar socket would run outside its unit's limit and the tool's quota (found
// by a hostile-tool review).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/index.js';
import { rig, skip } from '../helpers/limits-rig.js';

t.test('a job cannot move itself out of its unit into the helpers\' group and past the tool\'s memory quota', { skip }, async (t) => {
  const r = await rig(t);
  const { a } = r;
  // an administrator holds the tool to 128Mi and a fifth of a CPU in all
  const q = await r.quota(a, '--memory', '128Mi', '--cpu', '0.2', '--job-memory', '128Mi', '--job-cpu', '0.2');
  t.equal(q.code, 0, q.stderr);

  const hog = `import json, os, socket, time
s = socket.socket(socket.AF_UNIX)
s.connect(${JSON.stringify(path.join(r.registrar.dir, `${a}.sock`))})
f = s.makefile('rw')
f.readline()
f.write(json.dumps({"n": 1, "op": "place", "unit": "toolhost", "pid": os.getpid()}) + "\\n"); f.flush()
reply = f.readline().strip()
with open(os.path.expanduser("~/hog.out"), "a") as o: o.write("place: " + reply + "\\n")
keep = bytearray(384 * 1024 * 1024)
for i in range(0, len(keep), 4096): keep[i] = 1
with open(os.path.expanduser("~/hog.out"), "a") as o: o.write("allocated 384Mi in pid %d\\n" % os.getpid())
time.sleep(300)
`;
  execFileSync('su', ['-s', '/bin/sh', `tools.${a}`, '-c', 'cat > ~/hog.py'], { input: hog });
  const run = r.as(a, 'toolhost jobs run hog --command "python3 hog.py" --mem 64Mi --cpu 0.1');
  t.equal(run.status, 0, run.stderr);
  const out = path.join(r.homeOf(a), 'hog.out');
  const said = (): string => {
    try {
      return readFileSync(out, 'utf8');
    } catch {
      return '';
    }
  };
  await waitFor(() => /allocated/.test(said()) || /place:/.test(said()) && r.record(a, 'hog')?.status !== 'running', 30_000, 'the job asked and then allocated or died').catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.comment(said().trim());
  const pid = Number(/in pid (\d+)/.exec(said())?.[1] ?? 0);
  if (pid) t.comment(`the job's python ${pid} is in memory cgroup ${r.cgroupOf(pid, 'memory')}, limit ${readFileSync(path.join(r.cgroup('memory', a, 'toolhost'), 'memory.limit_in_bytes'), 'utf8').trim()}; the tool's quota: ${readFileSync(path.join(r.cgroup('memory', a, 'jobs'), 'memory.limit_in_bytes'), 'utf8').trim()}`);
  t.notMatch(said(), /place: \{"n":1,"ok":true\}/, 'the registrar does not move a job\'s process into the helpers\' group');
  t.notMatch(said(), /allocated 384Mi/, 'the job never holds more than the tool\'s quota');
  r.as(a, 'toolhost jobs delete hog');
});
