// What the kernel says about a process (/proc/<pid>): its owner, process group and command
// line. Used to tell a live supervisor or a left-behind server from a pid that was reused or a
// pid file that lies.
import { readFileSync } from 'node:fs';

export interface ProcessInfo {
  readonly pid: number;
  readonly uid: number;
  /** process group */
  readonly pgid: number;
  /** when it started, in clock ticks since boot: with the pid, names one process for ever */
  readonly startTicks: number;
  readonly argv: readonly string[];
}

export function processInfo(pid: number): ProcessInfo | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may hold spaces: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null; // a zombie is gone in every way that matters
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, uid, pgid: Number(fields[2]), startTicks: Number(fields[19]), argv };
  } catch {
    return null;
  }
}
