// One child process with a readiness check and a clean stop: SIGTERM, then SIGKILL after a
// grace period. Readiness is polled fast (a started lighttpd answers in milliseconds).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { gated, openGate } from './gate.js';

export interface StartOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  /** resolves true once the process serves; polled until timeoutMs */
  readonly ready: () => Promise<boolean>;
  readonly timeoutMs?: number;
  /** where the child's stdout/stderr go (default: ignored) */
  readonly stdio?: SpawnOptions['stdio'];
  /** a new process group, so a stop reaches the child's own children */
  readonly detached?: boolean;
  /** with detached: when the leader exits, what is left of its group is killed too (a server's children must not keep serving, or keep its port) */
  readonly endGroupWithLeader?: boolean;
  /** called once the child exists, before readiness is polled (to read its output) */
  readonly onStart?: (child: ChildProcess) => void;
  /** done while the process waits at its gate, before the command runs (its cgroup); a failure kills it */
  readonly beforeRun?: (pid: number) => Promise<void>;
  /**
   * the kernel kills the child when this process dies, however it dies (SIGKILL included): for
   * servers that exist only for this process (the demo's and the tests' Redis), which a killed
   * run would otherwise leave behind
   */
  readonly diesWithParent?: boolean;
  /** aborted while the process is not yet ready: it is stopped and the start fails (a stop asked meanwhile) */
  readonly signal?: AbortSignal;
}


export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class StartError extends Error {
  constructor(
    message: string,
    readonly exit: ExitInfo | null,
  ) {
    super(message);
    this.name = 'StartError';
  }
}

/** a start given up because its signal was aborted, not because the process failed */
export class StartAborted extends StartError {
  constructor(command: string) {
    super(`${command} was stopped before it was ready`, null);
    this.name = 'StartAborted';
  }
}

export class ManagedProcess {
  readonly #child: ChildProcess;
  /** the process leads a group of its own: signals go to the whole group (a script's children too) */
  readonly #group: boolean;
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | null = null;

  constructor(child: ChildProcess, group = false, endGroupWithLeader = false) {
    this.#child = child;
    this.#group = group;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        if (group && endGroupWithLeader) this.#killGroup();
        resolve(this.#exit);
      });
      child.once('error', () => {
        this.#exit ??= { code: null, signal: null };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get exitInfo(): ExitInfo | null {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === null && this.#child.pid !== undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    if (this.#group && this.#child.pid) {
      try {
        process.kill(-this.#child.pid, sig);
        return;
      } catch {
        // the group is gone but for its leader: signal it alone
      }
    }
    this.#child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (!this.running) return this.#exit ?? (await this.exited);
    this.signal('SIGTERM');
    // a stopped process (SIGSTOP, a debugger) only acts on SIGTERM once continued, as systemd does it
    this.signal('SIGCONT');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    timer.unref();
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      // what the leader left of its group (a script's children) goes with it
      this.#killGroup();
    }
  }

  #killGroup(): void {
    if (!this.#group || !this.#child.pid) return;
    try {
      process.kill(-this.#child.pid, 'SIGKILL');
    } catch {
      // nothing left
    }
  }
}

function withGatePipe(stdio: SpawnOptions['stdio']): SpawnOptions['stdio'] {
  const three = Array.isArray(stdio) ? [...stdio] : [stdio ?? 'ignore', stdio ?? 'ignore', stdio ?? 'ignore'];
  return [three[0] ?? 'ignore', three[1] ?? 'ignore', three[2] ?? 'ignore', 'pipe'];
}

/** util-linux's setpriv sets PR_SET_PDEATHSIG and execs the command: same pid, nothing in between */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function commandLine(o: StartOptions): { command: string; args: string[] } {
  const argv = [o.command, ...o.args];
  if (o.diesWithParent) {
    if (!SETPRIV) throw new StartError(`cannot start ${o.command}: setpriv (util-linux) is not installed`, null);
    argv.unshift(SETPRIV, '--pdeathsig', 'KILL', '--');
  }
  if (o.beforeRun) return gated(argv);
  const [command = o.command, ...args] = argv;
  return { command, args };
}

export async function startProcess(o: StartOptions): Promise<ManagedProcess> {
  const target = commandLine(o);
  const child = spawn(target.command, target.args, {
    cwd: o.cwd,
    env: o.env,
    stdio: o.beforeRun ? withGatePipe(o.stdio) : (o.stdio ?? 'ignore'),
    detached: o.detached ?? false,
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    ...(o.gid !== undefined ? { gid: o.gid } : {}),
  });
  const proc = new ManagedProcess(child, o.detached ?? false, o.endGroupWithLeader ?? false);
  o.onStart?.(child);
  const spawnError = once(child, 'spawn').then(
    () => null,
    (err: Error) => err,
  );
  const failed = await spawnError;
  if (failed) throw new StartError(`cannot start ${o.command}: ${failed.message}`, null);
  if (o.beforeRun) {
    try {
      await openGate(child, o.beforeRun);
    } catch (err) {
      await proc.exited;
      throw new StartError(`cannot start ${o.command}: ${(err as Error).message}`, proc.exitInfo);
    }
  }
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  let delay = 5;
  for (;;) {
    if (!proc.running) {
      const e = proc.exitInfo;
      throw new StartError(`${o.command} exited before it was ready (${e?.signal ?? `exit code ${e?.code}`})`, e);
    }
    if (o.signal?.aborted) {
      await proc.stop(1000);
      throw new StartAborted(o.command);
    }
    if (await o.ready().catch(() => false)) return proc;
    if (Date.now() > deadline) {
      await proc.stop(1000);
      throw new StartError(`${o.command} was not ready within ${o.timeoutMs ?? 10_000} ms`, proc.exitInfo);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
