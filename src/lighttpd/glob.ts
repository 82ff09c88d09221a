// The glob(3) subset lighttpd's include uses (GLOB_BRACE): * ? [...] and {a,b}, matched one
// path segment at a time; results sorted like glob(3).
import path from 'node:path';
import type { EvalHost } from './host.js';

const GLOB_CHARS = /[*?[\]{}]/;

export function hasGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/** {a,b}c -> [ac, bc], nested braces included */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        const head = pattern.slice(0, open);
        const tail = pattern.slice(i + 1);
        const cuts = [open, ...commas, i];
        const out: string[] = [];
        for (let k = 0; k + 1 < cuts.length; k++) {
          const alt = pattern.slice((cuts[k] as number) + 1, cuts[k + 1]);
          out.push(...expandBraces(head + alt + tail));
        }
        return out;
      }
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  return [pattern];
}

function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = segment.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^$()|\\{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files matching an absolute pattern, sorted. Hidden files match only a pattern starting with ".". */
export function globFiles(host: EvalHost, pattern: string): string[] {
  const results = new Set<string>();
  for (const alt of expandBraces(pattern)) {
    const parts = alt.split('/');
    let current = [parts[0] === '' ? '/' : (parts[0] as string)];
    for (let p = 1; p < parts.length; p++) {
      const seg = parts[p] as string;
      if (seg === '') continue;
      const next: string[] = [];
      for (const dir of current) {
        if (!hasGlob(seg)) {
          next.push(path.join(dir, seg));
          continue;
        }
        const re = segmentRegExp(seg);
        for (const name of host.listDir(dir)) {
          if (name.startsWith('.') && !seg.startsWith('.')) continue;
          if (re.test(name)) next.push(path.join(dir, name));
        }
      }
      current = next;
    }
    for (const f of current) if (host.isFile(f)) results.add(f);
  }
  return [...results].sort();
}
