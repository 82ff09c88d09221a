// The lighttpd configuration engine on one file, as the commands report it: what `toolhost
// lighttpd lex|parse|check|print` do, and the reporting `webservice config` shares with them.
// Loaded when one of them runs, not for their --help (#14).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import {
  checkError,
  evaluate,
  findLighttpd,
  firstFailure,
  formatDiagnostic,
  lex,
  makeSource,
  moduleCauses,
  nodeHost,
  parse,
  positionOf,
  printConfig,
  runLighttpdCheck,
  type Diagnostic,
  type LighttpdCheck,
  type LighttpdMessage,
  type SourceFile,
} from '../lighttpd/index.js';
import type { CliIo } from './io.js';

export function readSource(file: string, io: CliIo): SourceFile {
  const full = path.resolve(io.cwd, file);
  try {
    return makeSource(file, readFileSync(full, 'utf8'), { path: full });
  } catch (err) {
    throw new ToolhostError('TH_ERR_FILE_UNREADABLE', file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
}

export function printDiagnostics(list: readonly Diagnostic[], io: CliIo): number {
  let errors = 0;
  for (const d of list) {
    io.err(`${formatDiagnostic(d)}\n`);
    if (d.severity === 'error') errors++;
  }
  return errors;
}

/**
 * lighttpd -tt's messages, each prefixed with where it points (`place`), then the coded error
 * checkError decides for the result (a module lighttpd could not load, or its refusal).
 */
export function reportLighttpdCheck(result: LighttpdCheck, io: CliIo, place: (m: LighttpdMessage) => string): void {
  const first = firstFailure(result);
  // a missing module is the error line itself: said once
  for (const m of result.messages) if (!(m === first && m.missingModule)) io.err(`${place(m)}${m.text}\n`);
  const error = checkError({ stage: 'lighttpd', result, place });
  if (error) throw error;
}

/** toolhost's diagnostics on FILE printed, then TH_ERR_LIGHTTPD_CONFIG_INVALID if any is an error */
export function reportDiagnostics(file: string, diagnostics: readonly Diagnostic[], io: CliIo): void {
  printDiagnostics(diagnostics, io);
  const error = checkError({ stage: 'toolhost', file, diagnostics });
  if (error) throw error;
}

/** the lighttpd binary, or TH_ERR_LIGHTTPD_NOT_INSTALLED */
export function requireLighttpd(env: CliIo['env']): string {
  const binary = findLighttpd(env);
  const error = checkError({ stage: 'binary', binary, env });
  if (error) throw error;
  return binary as string;
}

function evaluateFile(source: SourceFile, io: CliIo) {
  const parsed = parse(source);
  const evaluated = evaluate(parsed.file, nodeHost({ env: io.env, cwd: io.cwd }));
  return { parsed, evaluated, diagnostics: [...parsed.diagnostics.items, ...evaluated.diagnostics] };
}

/** JSON of the syntax tree with line:col instead of offsets (printing is where they are computed) */
function treeJson(source: SourceFile, node: unknown): unknown {
  return JSON.parse(
    JSON.stringify(node, (key, value: unknown) => {
      if (key === 'source') return undefined;
      if (value && typeof value === 'object' && 'start' in value && 'end' in value) {
        const v = value as { start: number; end: number };
        const s = positionOf(source, v.start);
        const e = positionOf(source, v.end);
        const { start: _s, end: _e, ...rest } = v;
        return { ...rest, at: `${s.line}:${s.col}`, to: `${e.line}:${e.col}` };
      }
      return value;
    }),
  );
}

/** `toolhost lighttpd lex FILE`: the exit code */
export function lexFile(file: string, io: CliIo): number {
  const source = readSource(file, io);
  const { tokens, diagnostics } = lex(source);
  for (const t of tokens) {
    const p = positionOf(source, t.start);
    io.out(`${p.line}:${p.col}\t${t.kind}\t${JSON.stringify(t.text)}\n`);
  }
  return printDiagnostics(diagnostics.items, io) ? 1 : 0;
}

/** `toolhost lighttpd parse FILE`: the exit code */
export function parseFile(file: string, io: CliIo): number {
  const source = readSource(file, io);
  const { file: tree, diagnostics } = parse(source);
  io.out(`${JSON.stringify(treeJson(source, tree.statements), null, 2)}\n`);
  return printDiagnostics(diagnostics.items, io) ? 1 : 0;
}

/** `toolhost lighttpd check FILE`: toolhost's checks, then lighttpd -tt's unless `withLighttpd` is false */
export function checkFile(file: string, withLighttpd: boolean, io: CliIo): void {
  const source = readSource(file, io);
  const { evaluated, diagnostics } = evaluateFile(source, io);
  reportDiagnostics(file, diagnostics, io);
  if (withLighttpd) {
    const binary = requireLighttpd(io.env);
    const result = runLighttpdCheck(binary, source.path as string, { env: io.env, cwd: io.cwd, moduleCauses: moduleCauses(evaluated) });
    reportLighttpdCheck(result, io, (m) => (m.origin ? `${m.origin.file}:${m.origin.line}: ` : m.line !== null ? `${file}:${m.line}: ` : ''));
  }
  io.out('Syntax OK\n');
}

/** `toolhost lighttpd print FILE` */
export function printFile(file: string, io: CliIo): void {
  const source = readSource(file, io);
  const { evaluated, diagnostics } = evaluateFile(source, io);
  reportDiagnostics(file, diagnostics, io);
  io.out(printConfig(evaluated.global));
}
