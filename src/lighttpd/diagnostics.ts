// Diagnostics are data: every stage appends to a list and goes on, so one run shows every
// problem and a bad ~/.lighttpd.conf is reported, never thrown.
import { formatMessage, type ErrorCode } from '../errors.js';
import { lineText, positionOf, type SourceFile } from './source.js';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly source: SourceFile;
  readonly start: number;
  readonly end: number;
  readonly message: string;
  /** where an included file was pulled in, outermost last */
  readonly includedFrom?: readonly { source: SourceFile; start: number }[];
}

export class DiagnosticList {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  /** the message is the code's template from src/errors.ts filled with ARGS: one wording per code */
  error(code: ErrorCode, source: SourceFile, start: number, end: number, ...args: (string | number)[]): void {
    this.items.push({ code, severity: 'error', source, start, end, message: formatMessage(code, args) });
  }

  warning(code: ErrorCode, source: SourceFile, start: number, end: number, ...args: (string | number)[]): void {
    this.items.push({ code, severity: 'warning', source, start, end, message: formatMessage(code, args) });
  }

  get errorCount(): number {
    let n = 0;
    for (const d of this.items) if (d.severity === 'error') n++;
    return n;
  }
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === 'error');
}

/** `file:line:col` of a diagnostic's start. */
export function locationOf(d: Pick<Diagnostic, 'source' | 'start'>): string {
  const p = positionOf(d.source, d.start);
  return `${d.source.name}:${p.line}:${p.col}`;
}

const MAX_COLUMNS = 80;

/**
 * `file:line:col: severity: message [CODE]`, then the source line (at most 80 columns,
 * scrolled so the caret stays visible) and a caret under the offending text.
 */
export function formatDiagnostic(d: Diagnostic, options: { snippet?: boolean } = {}): string {
  const p = positionOf(d.source, d.start);
  const head = `${d.source.name}:${p.line}:${p.col}: ${d.severity}: ${d.message} [${d.code}]`;
  const lines = [head];
  for (const inc of d.includedFrom ?? []) lines.push(`  included from ${locationOf(inc)}`);
  if (options.snippet === false) return lines.join('\n');
  const raw = lineText(d.source, p.line).replace(/\t/g, ' ');
  let from = 0;
  if (p.col > MAX_COLUMNS - 10) from = p.col - (MAX_COLUMNS - 10);
  const shown = raw.slice(from, from + MAX_COLUMNS);
  const endPos = positionOf(d.source, Math.max(d.start, d.end - 1));
  const width =
    endPos.line === p.line ? Math.max(1, Math.min(endPos.col - p.col + 1, MAX_COLUMNS - (p.col - 1 - from))) : 1;
  lines.push(`  ${shown}`);
  lines.push(`  ${' '.repeat(Math.max(0, p.col - 1 - from))}${'^'.repeat(width)}`);
  return lines.join('\n');
}
