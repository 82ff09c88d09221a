// Where a job's output goes: ~/NAME.out and ~/NAME.err (or the files of its -o/-e, relative to
// the home), or its internal log in the runtime directory with --no-filelog — each through a pipe
// into a capped log (src/logs/), so a bot that writes for months never fills the disk and never
// has to reopen its files. Opened once per run (a one-off's attempts share it) or once per
// continuous job, by the process that supervises it, as the tool.
import path from 'node:path';
import type { Tool } from '../accounts/index.js';
import { ChildOutput, type ToolLogs } from '../logs/index.js';
import { internalLogPath } from './job-record.js';
import { logFiles, type JobSpec } from './job-spec.js';

/** a log file could not be opened (Toolforge: "an invalid directory … exit code 2") */
export class JobLogError extends Error {
  constructor(readonly file: string, cause: NodeJS.ErrnoException) {
    super(`cannot open the log file ${file}: ${cause.code ?? cause.message}; create its directory first`);
    this.name = 'JobLogError';
  }
}

export interface JobOutputOptions {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  /** a new run starts its internal log afresh; a continuous job adds to it */
  readonly fresh: boolean;
  /** the name of its pipes in the runtime directory (unique among the tool's running jobs) */
  readonly pipeName: string;
}

/** the job's output, ready for its processes; JobLogError when a file cannot be opened */
export async function openJobOutput(logs: ToolLogs, o: JobOutputOptions): Promise<ChildOutput> {
  const files = logFiles(o.spec);
  const stdout = files.stdout === null || files.stderr === null ? null : path.resolve(o.tool.home, files.stdout);
  try {
    if (files.stdout === null || files.stderr === null || stdout === null) {
      return await ChildOutput.open(logs, o.pipeName, { file: internalLogPath(o.runtimeDir, o.spec.name), kind: 'internal', truncate: o.fresh }, 'same');
    }
    const stderr = path.resolve(o.tool.home, files.stderr);
    return await ChildOutput.open(logs, o.pipeName, { file: stdout, kind: 'files' }, stderr === stdout ? 'same' : { file: stderr, kind: 'files' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new JobLogError(e.path ?? stdout ?? internalLogPath(o.runtimeDir, o.spec.name), e);
  }
}
