// How a process ended, in the words `jobs show`, `jobs list` and `webservice status` use, one
// line for each cause: an exit code, a signal, the kernel's OOM killer (read from the unit's
// cgroup, never guessed from SIGKILL), a timeout.
import { formatMemory } from './quantities.js';

export type ExitCause =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  /** scope: the unit's own limit, or the tool's quota (its jobs together) was full */
  | { readonly kind: 'oom'; readonly limit: number; readonly scope: 'unit' | 'quota' }
  | { readonly kind: 'timeout'; readonly seconds: number };

export function describeExit(cause: ExitCause): string {
  switch (cause.kind) {
    case 'exit':
      return `exit code ${cause.code}`;
    case 'signal':
      return `killed by ${cause.signal}`;
    case 'oom':
      return cause.scope === 'unit'
        ? `killed: out of memory (limit ${formatMemory(cause.limit)}); raise it with --mem`
        : `killed: out of memory (the tool's quota of ${formatMemory(cause.limit)} was used up by its running jobs); see toolhost jobs quota`;
    case 'timeout':
      return `ran longer than its timeout of ${cause.seconds} s: stopped (SIGTERM, then SIGKILL after 10 s)`;
  }
}

/** what a plain exit says, before OOM counts are looked at */
export function exitCause(code: number | null, signal: string | null): ExitCause {
  return signal ? { kind: 'signal', signal } : { kind: 'exit', code: code ?? -1 };
}
