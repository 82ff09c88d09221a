// The mail about a tool's notices: one event, or a digest of those that came while the first
// was fresh. Each says what happened, when, how the process ended (exit code, signal, the
// kernel's OOM kill, a timeout), the last lines of its error output and the command to look
// further.
import { describeExit } from '../limits/index.js';
import type { NotifyEvent } from './event.js';

export interface MailText {
  readonly subject: string;
  readonly text: string;
}

const TITLES: Record<NotifyEvent['kind'], string> = {
  started: 'started',
  succeeded: 'completed',
  failed: 'failed',
  'crash-loop': 'is crash-looping',
  'gave-up': 'is down: the monitor stopped restarting it',
  'config-rejected': 'kept its old configuration: the new one was rejected',
  recovered: 'is running again',
};

function subjectOf(e: NotifyEvent): string {
  return e.source === 'job' ? `job ${e.name} ${TITLES[e.kind]}` : `webservice (${e.name}) ${TITLES[e.kind]}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function section(e: NotifyEvent): string {
  const lines = [`${iso(e.at)}  ${subjectOf(e)}`, `  what:  ${e.summary}`];
  if (e.cause) lines.push(`  how:   ${describeExit(e.cause)}`);
  if (e.stderr.length) {
    lines.push(`  the last ${e.stderr.length} line(s) of its error output:`);
    for (const l of e.stderr) lines.push(`    | ${l}`);
  }
  lines.push(`  more:  ${e.look}`);
  return lines.join('\n');
}

/** the mail for one tool: one notice, or a digest of several */
export function composeMail(tool: string, events: readonly NotifyEvent[], host: string): MailText {
  const first = events[0];
  if (!first) throw new Error('a mail needs an event');
  const subject = events.length === 1 ? `[toolhost] ${tool}: ${subjectOf(first)}` : `[toolhost] ${tool}: ${events.length} events (${[...new Set(events.map(subjectOf))].slice(0, 3).join('; ')})`;
  const intro =
    events.length === 1
      ? `This is toolhost on ${host}, about the tool ${tool}.`
      : `This is toolhost on ${host}, about the tool ${tool}: ${events.length} events since the last mail, oldest first.`;
  const outro = [
    'You get this mail as a maintainer of the tool (its ~/.forward, or the address the administrator recorded).',
    'Choose what you are told with --emails none|onfailure|onfinish|all (toolhost jobs run, webservice start).',
  ].join('\n');
  return { subject, text: `${intro}\n\n${events.map(section).join('\n\n')}\n\n-- \n${outro}\n` };
}
