// A configuration text with its name. Offsets are what the stages store; line and column
// are computed only when something is printed, from a table of line starts built once.

export interface SourceFile {
  /** the name printed in diagnostics (as the user knows the file, e.g. ~/.lighttpd.conf) */
  readonly name: string;
  /** the path on disk, when there is one (include resolution needs it) */
  readonly path: string | undefined;
  readonly text: string;
  /** how statements from this file are tagged when rendered */
  readonly origin: 'template' | 'user';
}

export interface Position {
  readonly line: number;
  readonly col: number;
}

const lineTables = new WeakMap<SourceFile, number[]>();

function lineStarts(source: SourceFile): number[] {
  let starts = lineTables.get(source);
  if (starts === undefined) {
    starts = [0];
    const text = source.text;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    lineTables.set(source, starts);
  }
  return starts;
}

/** 1-based line and column of an offset. */
export function positionOf(source: SourceFile, offset: number): Position {
  const starts = lineStarts(source);
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - (starts[lo] as number) + 1 };
}

/** The text of a 1-based line, without its line break. */
export function lineText(source: SourceFile, line: number): string {
  const starts = lineStarts(source);
  const start = starts[line - 1];
  if (start === undefined) return '';
  const next = starts[line];
  let end = next === undefined ? source.text.length : next;
  while (end > start && (source.text[end - 1] === '\n' || source.text[end - 1] === '\r')) end--;
  return source.text.slice(start, end);
}

export function makeSource(
  name: string,
  text: string,
  options: { path?: string; origin?: 'template' | 'user' } = {},
): SourceFile {
  return { name, text, path: options.path, origin: options.origin ?? 'user' };
}
