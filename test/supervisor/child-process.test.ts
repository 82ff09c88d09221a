// A server started with diesWithParent ends when the process that started it ends, however it
// ends: a test run or a demo killed with SIGKILL leaves no Redis behind (they used to pile up).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import t from 'tap';
import { isAlive, ROOT, waitFor } from '../helpers/index.js';

/** a node process that starts `sleep` through startProcess, prints its pid and waits */
async function parentWithSleep(diesWithParent: boolean): Promise<{ parent: ReturnType<typeof spawn>; sleepPid: number }> {
  const script = `
    import { startProcess } from ${JSON.stringify(path.join(ROOT, 'src/supervisor/child-process.ts'))};
    const p = await startProcess({ command: 'sleep', args: ['300'], ready: async () => true, diesWithParent: ${diesWithParent} });
    console.log(p.pid);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  return { parent, sleepPid: Number(line.toString().trim()) };
}

t.test('with diesWithParent the child is killed when its parent is SIGKILLed', async (t) => {
  const { parent, sleepPid } = await parentWithSleep(true);
  t.teardown(() => {
    if (isAlive(sleepPid)) process.kill(sleepPid, 'SIGKILL');
  });
  t.ok(isAlive(sleepPid), 'the child runs');
  parent.kill('SIGKILL');
  await waitFor(() => !isAlive(sleepPid), 5000, 'the child to end with its parent');
  t.notOk(isAlive(sleepPid), 'the child is gone');
});

t.test('without it the child outlives its parent', async (t) => {
  const { parent, sleepPid } = await parentWithSleep(false);
  t.teardown(() => {
    if (isAlive(sleepPid)) process.kill(sleepPid, 'SIGKILL');
  });
  parent.kill('SIGKILL');
  await once(parent, 'exit');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.ok(isAlive(sleepPid), 'the child still runs');
});
