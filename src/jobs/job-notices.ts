// A job's notices for its maintainers (--emails): built here for the runner of one-off and
// scheduled runs and for the supervisor of continuous jobs alike, with the tail of the job's
// error output, which the calling process (the tool itself) reads.
import type { Tool } from '../accounts/index.js';
import type { ExitCause } from '../limits/index.js';
import { notify, tailOf, type EventKind, type NoticeNote, type NotifyPeer } from '../notify/index.js';
import path from 'node:path';
import { internalLogPath } from './job-record.js';
import { logFiles, type JobSpec } from './job-spec.js';

/** where a job's error output goes: ~/NAME.err (or its -e file), or its internal log */
function errorLogOf(home: string, runtimeDir: string, spec: JobSpec): string {
  const files = logFiles(spec);
  return files.stderr === null ? internalLogPath(runtimeDir, spec.name) : path.resolve(home, files.stderr);
}

export interface JobNoticeContext {
  readonly tool: Tool;
  readonly runtimeDir: string;
  readonly spec: JobSpec;
  /** the registrar; null: none reachable (why) */
  readonly peer: NotifyPeer | null;
  readonly why?: string | undefined;
}

export function noticeJob(c: JobNoticeContext, kind: EventKind, summary: string, cause: ExitCause | null): Promise<NoticeNote | null> {
  return notify(c.peer, c.why, c.spec.emails, {
    source: 'job',
    name: c.spec.name,
    kind,
    at: Date.now(),
    summary,
    cause,
    stderr: kind === 'started' ? [] : tailOf(errorLogOf(c.tool.home, c.runtimeDir, c.spec)),
    look: `toolhost jobs show ${c.spec.name}; toolhost jobs logs ${c.spec.name}`,
  });
}
