// Which events a maintainer hears about, by the --emails setting of a job or a webservice
// (Toolforge's words: none, onfailure, onfinish, all). One table, read by every producer.
export type EmailPolicy = 'none' | 'onfailure' | 'onfinish' | 'all';
export const EMAIL_POLICIES: readonly EmailPolicy[] = ['none', 'onfailure', 'onfinish', 'all'];

/** jobs are quiet unless asked (seed 001); a webservice going down is always worth a mail */
export const DEFAULT_JOB_EMAILS: EmailPolicy = 'none';
export const DEFAULT_WEB_EMAILS: EmailPolicy = 'onfailure';

export type EventKind =
  /** a run began (all) */
  | 'started'
  /** a run ended with exit code 0 (onfinish, all) */
  | 'succeeded'
  /** a run ended otherwise: exit code, signal, OOM, timeout; a continuous job or server died */
  | 'failed'
  /** a server or continuous job keeps dying: the supervisor backs off */
  | 'crash-loop'
  /** the monitor stopped restarting a dead supervisor */
  | 'gave-up'
  /** an edit of ~/.lighttpd.conf was refused; the old server goes on */
  | 'config-rejected'
  /** serving (or running) again after one of the above was reported */
  | 'recovered';

export const EVENT_KINDS: readonly EventKind[] = ['started', 'succeeded', 'failed', 'crash-loop', 'gave-up', 'config-rejected', 'recovered'];

const FAILURES: ReadonlySet<EventKind> = new Set<EventKind>(['failed', 'crash-loop', 'gave-up', 'config-rejected']);

export function isFailure(kind: EventKind): boolean {
  return FAILURES.has(kind);
}

/** whether a maintainer with this policy is told of this event */
export function wants(policy: EmailPolicy, kind: EventKind): boolean {
  switch (policy) {
    case 'none':
      return false;
    case 'onfailure':
      // the all-clear after an alert belongs with the alert
      return isFailure(kind) || kind === 'recovered';
    case 'onfinish':
      return kind !== 'started';
    case 'all':
      return true;
  }
}

export function isEmailPolicy(v: unknown): v is EmailPolicy {
  return typeof v === 'string' && (EMAIL_POLICIES as readonly string[]).includes(v);
}
