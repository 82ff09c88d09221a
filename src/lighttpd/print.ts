// Evaluated scopes -> the text `lighttpd -p` prints (configfile.c config_print), so the two
// can be diffed line by line.
import type { Context } from './evaluate.js';
import type { ArrayValue, ConfigValue } from './values.js';

function indent(depth: number): string {
  return '    '.repeat(depth);
}

export function printString(s: string): string {
  return `"${s.replace(/"/g, '\\"')}"`;
}

function printArray(a: ArrayValue, depth: number): string {
  const entries = a.entries;
  if (entries.length <= 5 && (entries.length === 0 || (entries[0] as { key: string | null }).key === null)) {
    if (entries.every((e) => e.value.type !== 'array')) {
      return `(${entries.map((e) => printValue(e.value, depth + 1)).join(', ')})`;
    }
  }
  let width = 0;
  for (const e of entries) if (e.key !== null && e.key.length > width) width = e.key.length;
  let out = '(\n';
  for (const e of entries) {
    out += indent(depth + 1);
    if (e.key !== null) out += `"${e.key}"${' '.repeat(width - e.key.length)} => `;
    out += `${printValue(e.value, depth + 1)},\n`;
  }
  return `${out}${indent(depth)})`;
}

export function printValue(v: ConfigValue, depth: number): string {
  if (v.type === 'string') return printString(v.value);
  if (v.type === 'integer') return String(v.value);
  return printArray(v, depth);
}

function printContext(ctx: Context, depth: number): string {
  let out: string;
  if (ctx.index === 0) out = 'config {\n';
  else {
    out = ctx.condition === 'else' ? '{\n' : `${ctx.condition} {\n`;
    out += `${indent(depth + 1)}# block ${ctx.index}\n`;
  }
  const inner = depth + 1;
  let width = 0;
  for (const e of ctx.scope.entries) if (e.key.length > width) width = e.key.length;
  for (const e of ctx.scope.entries) {
    out += `${indent(inner)}${e.key}${' '.repeat(width - e.key.length)} = ${printValue(e.value, inner)}\n`;
  }
  out += '\n';
  for (const child of ctx.children) {
    if (child.prev === null) out += `\n${indent(inner)}${printContext(child, inner)}\n`;
  }
  out += `${indent(depth)}}`;
  if (ctx.index !== 0) out += ` # end of ${ctx.condition}`;
  if (ctx.next) out += `\n${indent(depth)}else ${printContext(ctx.next, depth)}`;
  return out;
}

/** The whole configuration in `lighttpd -p` format, ending with a newline. */
export function printConfig(global: Context): string {
  return `${printContext(global, 0)}\n`;
}
