// The capped logs one process of a tool (its supervisor, a job's runner) writes, by file: two
// writers of one file in one process (two jobs with the same -o FILE) share one CappedLog, so the
// file is rotated once, not twice. And where a child's output goes: pipes into those logs.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { CappedLog } from './capped-log.js';
import { LogPipe } from './log-pipe.js';
import type { ToolLogPolicy } from './log-policy.js';

export type LogKind = keyof ToolLogPolicy;

export interface LogTarget {
  readonly file: string;
  /** which cap applies: files in the home, or a job's internal log */
  readonly kind: LogKind;
  /** start it afresh (a new run's internal log) */
  readonly truncate?: boolean;
  /** look at it this often for writers toolhost does not see (lighttpd's own); default never */
  readonly checkMs?: number;
}

interface Held {
  readonly log: CappedLog;
  refs: number;
}

export interface ToolLogsOptions {
  /** null: logs are not capped (the policy could not be read) */
  readonly policy: ToolLogPolicy | null;
  /** where the FIFOs go: a directory of the tool's runtime directory (never a tool home on NFS) */
  readonly pipeDir: string;
  /** one line for the tool's ~/service.log */
  readonly onProblem: (line: string) => void;
}

export class ToolLogs {
  readonly #o: ToolLogsOptions;
  readonly #held = new Map<string, Held>();

  constructor(options: ToolLogsOptions) {
    this.#o = options;
  }

  get policy(): ToolLogPolicy | null {
    return this.#o.policy;
  }

  /** the log of this file, opened or shared; release() it when done. Throws what opening says. */
  async acquire(target: LogTarget): Promise<CappedLog> {
    const file = path.resolve(target.file);
    const held = this.#held.get(file);
    if (held && !target.truncate) {
      held.refs++;
      return held.log;
    }
    const log = await CappedLog.open({
      file,
      cap: this.#o.policy?.[target.kind] ?? null,
      onProblem: this.#o.onProblem,
      ...(target.truncate ? { truncate: true } : {}),
      ...(target.checkMs ? { checkMs: target.checkMs } : {}),
    });
    if (held) {
      // started afresh: the old one is done
      await held.log.close();
      held.refs++;
      this.#held.set(file, { log, refs: held.refs });
    } else this.#held.set(file, { log, refs: 1 });
    return log;
  }

  async release(log: CappedLog): Promise<void> {
    const held = this.#held.get(log.file);
    if (!held || held.log !== log) return log.close();
    if (--held.refs > 0) return;
    this.#held.delete(log.file);
    await log.close();
  }

  /** a pipe named NAME (its FIFO NAME.pipe in the pipe directory) into log */
  pipe(name: string, log: CappedLog): LogPipe {
    mkdirSync(this.#o.pipeDir, { recursive: true, mode: 0o700 });
    return LogPipe.open(path.join(this.#o.pipeDir, `${name}.pipe`), log);
  }

  /** everything written, every file closed */
  async close(): Promise<void> {
    const all = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(all.map((h) => h.log.close()));
  }
}

/**
 * Where one unit's output goes (a webservice's servers, one job): stdout and stderr, each a pipe
 * into a capped log, or one pipe for both when they go to the same file.
 */
export class ChildOutput {
  readonly #logs: ToolLogs;
  readonly #files: CappedLog[];
  readonly #pipes: LogPipe[];

  private constructor(logs: ToolLogs, files: CappedLog[], pipes: LogPipe[]) {
    this.#logs = logs;
    this.#files = files;
    this.#pipes = pipes;
  }

  /** name: the pipes' names (NAME.out, NAME.err); throws what opening a log file says */
  static async open(logs: ToolLogs, name: string, stdout: LogTarget, stderr: LogTarget | 'same'): Promise<ChildOutput> {
    const files: CappedLog[] = [];
    const pipes: LogPipe[] = [];
    try {
      const out = await logs.acquire(stdout);
      files.push(out);
      const separate = stderr !== 'same' && path.resolve(stderr.file) !== out.file ? stderr : null;
      pipes.push(logs.pipe(separate ? `${name}.out` : `${name}.output`, out));
      if (separate) {
        const err = await logs.acquire(separate);
        files.push(err);
        pipes.push(logs.pipe(`${name}.err`, err));
      }
    } catch (err) {
      await Promise.all([...pipes.map((p) => p.close()), ...files.map((f) => logs.release(f))]);
      throw err;
    }
    return new ChildOutput(logs, files, pipes);
  }

  /** the log files, stdout's first */
  get files(): readonly CappedLog[] {
    return this.#files;
  }

  /** descriptors for one child's stdout and stderr (the same one when they share a file); close them once it is spawned */
  descriptors(): { stdout: number; stderr: number; all: number[] } {
    const all: number[] = [];
    try {
      for (const p of this.#pipes) all.push(p.open());
    } catch {
      // the pipe is gone from the runtime directory (removed by hand): the files themselves,
      // uncapped for this child, rather than a child that cannot start
      for (const fd of all.splice(0)) closeSync(fd);
      for (const f of this.#files) all.push(openSync(f.file, 'a', 0o640));
    }
    const out = all[0] as number;
    const err = all[1] ?? out;
    return { stdout: out, stderr: err, all };
  }

  /** what the children wrote so far is in the files */
  async drain(): Promise<void> {
    await Promise.all(this.#pipes.map((p) => p.drain()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#pipes.map((p) => p.close()));
    await Promise.all(this.#files.map((f) => this.#logs.release(f)));
  }
}
