// A process that waits at a gate before it runs its program: spawned as a shell that reads one
// line from fd 3, then execs the program (same pid, same process group). Whatever must hold
// before the tool's code runs a single instruction — its cgroup, so that nothing it forks can
// start outside its limits — is done while it waits; then the gate opens. If the preparation
// fails, the process dies at the gate.
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';

const GATE_SCRIPT = 'read _ <&3 && exec 3<&- "$@"';

/** the command and arguments that run argv behind a gate (spawn with a fourth stdio entry: 'pipe') */
export function gated(argv: readonly string[]): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', GATE_SCRIPT, 'toolhost-gate', ...argv] };
}

/** run prepare(pid) while the process waits, then let it go; a failed preparation kills it */
export async function openGate(child: ChildProcess, prepare: (pid: number) => Promise<void>): Promise<void> {
  const gate = child.stdio[3] as Writable | null | undefined;
  if (!gate || child.pid === undefined) throw new Error('openGate: the process was not spawned behind a gate');
  gate.on('error', () => {
    // the process died at the gate: its exit says so
  });
  try {
    await prepare(child.pid);
  } catch (err) {
    child.kill('SIGKILL');
    gate.destroy();
    throw err;
  }
  gate.end('\n');
}
