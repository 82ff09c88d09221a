// Fills toolhost's default lighttpd template: @NAME@ placeholders, "#@if FLAG" / "#@if !FLAG"
// ... "#@endif" sections, and the "#@after-user" marker that splits it in two.
import { ToolhostError } from '../errors.js';

export interface FilledTemplate {
  readonly text: string;
  /** offset where the statements placed after the maintainer's begin (text.length if none) */
  readonly afterUserOffset: number;
}

// a value goes inside a lighttpd string, where only \" is an escape
const UNSAFE = /["\\\r\n]/;

export function fillTemplate(
  template: string,
  vars: Readonly<Record<string, string | number>>,
  flags: ReadonlySet<string>,
): FilledTemplate {
  const out: string[] = [];
  const keep: boolean[] = [];
  let afterUserOffset = -1;
  let length = 0;
  for (const line of template.split(/\r?\n/)) {
    const directive = /^#@(if|endif|after-user)\s*(!?)([\w-]*)\s*$/.exec(line);
    if (directive) {
      const [, word, negate, flag] = directive;
      if (word === 'if') keep.push(flags.has(flag as string) !== (negate === '!'));
      else if (word === 'endif') keep.pop();
      else if (afterUserOffset < 0) afterUserOffset = length;
      continue;
    }
    if (keep.includes(false)) continue;
    const filled = line.replace(/@([A-Z_]+)@/g, (whole, name: string) => {
      const v = vars[name];
      if (v === undefined) return whole;
      const s = String(v);
      if (UNSAFE.test(s)) throw new ToolhostError('TH_ERR_TEMPLATE_VALUE', name, s);
      return s;
    });
    out.push(filled);
    length += filled.length + 1;
  }
  const text = out.join('\n');
  return { text, afterUserOffset: afterUserOffset < 0 ? text.length : afterUserOffset };
}
