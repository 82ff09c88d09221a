// Default template + the maintainer's ~/.lighttpd.conf -> one configuration in which the
// maintainer wins. Toolforge concatenated the two texts, so `=` on any default was fatal and
// a `+=` entry the default already had was a duplicate. Here, per scope:
//   - `=` or `:=` on a key the template sets drops the template's statements for that key;
//   - a `+=` entry whose array key the template has drops that entry from the template;
//   - server.modules becomes the ordered union of both lists;
//   - the maintainer's statements (conditions included) follow the template's.
// Every default that was overridden is reported.
import { formatMessage } from '../errors.js';
import type { Assignment, ConfigFile } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import { evaluate, type AppliedAssignment, type Evaluated } from './evaluate.js';
import type { EvalHost } from './host.js';
import { parse } from './parser.js';
import { moduleCauses, type ModuleCause } from './lighttpd-modules.js';
import { renderMerged, type LineOrigin, type MergePlan } from './render.js';
import { positionOf, type SourceFile } from './source.js';
import { arr, findEntry, foldKey, str, type ArrayValue, type ConfigValue } from './values.js';

export interface Override {
  /** the key, with var. added to a bare name */
  readonly key: string;
  /** for an array entry: its key */
  readonly arrayKey: string | null;
  /** "global" or the condition text */
  readonly scope: string;
  readonly templateLine: number;
  readonly user: { readonly file: string; readonly line: number; readonly col: number };
}

/**
 * Keys the platform sets for every tool: the port and address the route points at, the unix
 * account the server runs as, and its pid file. A maintainer's value would break routing or
 * isolation, so it is ignored (with a warning) instead of winning.
 */
export const PLATFORM_KEYS: ReadonlySet<string> = new Set([
  'server.port',
  'server.bind',
  'server.username',
  'server.groupname',
  'server.pid-file',
  'server.chroot',
]);

export interface MergeInput {
  readonly template: SourceFile;
  /** template statements starting at or after this offset go after the maintainer's */
  readonly afterUserOffset: number;
  readonly user: SourceFile | null;
  readonly host: EvalHost;
  /** where the maintainer's relative includes resolve (their home) */
  readonly basedir: string;
}

export interface MergeResult {
  /** the merged configuration; '' when the maintainer's file has errors */
  readonly text: string;
  /** for each line of text (0-based): where it came from */
  readonly lineMap: readonly (LineOrigin | null)[];
  readonly overrides: readonly Override[];
  /** errors and warnings: the maintainer's file first, then any in the merged result */
  readonly diagnostics: readonly Diagnostic[];
  readonly ok: boolean;
  /**
   * the statements that make lighttpd load each module, the maintainer's first: a module they
   * add is merged into the template's server.modules, so lighttpd's own line would not say whose
   */
  readonly moduleCauses: readonly ModuleCause[];
}

function moduleNames(v: ConfigValue | undefined): string[] {
  if (v === undefined || v.type !== 'array') return [];
  return v.entries.flatMap((e) => (e.value.type === 'string' ? [e.value.value] : []));
}

/**
 * Template modules in their order, the maintainer's inserted so that their own relative order
 * holds: each new module goes before the next module of theirs that is already in the list.
 */
export function unionModules(template: readonly string[], user: readonly string[]): string[] {
  const out = [...template];
  const has = (m: string): boolean => out.includes(m);
  for (let i = 0; i < user.length; i++) {
    const m = user[i] as string;
    if (has(m)) continue;
    const anchor = user.slice(i + 1).find((n) => has(n));
    if (anchor === undefined) out.push(m);
    else out.splice(out.indexOf(anchor), 0, m);
  }
  return out;
}

export function mergeConfig(input: MergeInput): MergeResult {
  const tParsed = parse(input.template);
  const tEval = evaluate(tParsed.file, input.host, { basedir: input.basedir });
  const templateProblems = [...tParsed.diagnostics.items, ...tEval.diagnostics];

  let uFile: ConfigFile | null = null;
  let uEval: Evaluated | null = null;
  const userProblems: Diagnostic[] = [];
  if (input.user) {
    const uParsed = parse(input.user);
    uFile = uParsed.file;
    userProblems.push(...uParsed.diagnostics.items);
    uEval = evaluate(uFile, input.host, { basedir: input.basedir });
    userProblems.push(...uEval.diagnostics);
  }
  const problems = [...templateProblems, ...userProblems];
  if (problems.some((d) => d.severity === 'error')) {
    return { text: '', lineMap: [], overrides: [], diagnostics: problems, ok: false, moduleCauses: [] };
  }

  const plan: MergePlan = {
    removed: new Map(),
    removedEntries: new Map(),
    replacedValues: new Map(),
    mergedAway: new Set(),
    afterUserOffset: input.afterUserOffset,
  };
  const overrides: Override[] = [];
  const platformWarnings: Diagnostic[] = [];

  // template assignments by scope and key, in order
  const byScopeKey = new Map<string, Assignment[]>();
  for (const [stmt, applied] of tEval.assignments) {
    const k = `${applied.context.key}\0${foldKey(applied.key)}`;
    const list = byScopeKey.get(k);
    if (list) list.push(stmt);
    else byScopeKey.set(k, [stmt]);
  }
  const templateLine = (stmt: Assignment): number => positionOf(input.template, stmt.start).line;

  if (uEval) {
    let userTouchesModules = false;
    for (const [stmt, applied] of uEval.assignments) {
      const folded = foldKey(applied.key);
      const scopeKey = applied.context.key;
      const userAt = userLocation(applied, stmt);
      if (PLATFORM_KEYS.has(folded) && applied.context.index === 0) {
        plan.mergedAway.add(stmt);
        const p = positionOf(applied.source, stmt.key.start);
        platformWarnings.push({
          code: 'TH_WARN_LIGHTTPD_PLATFORM_KEY',
          severity: 'warning',
          source: applied.source,
          start: stmt.key.start,
          end: stmt.key.end,
          message: formatMessage('TH_WARN_LIGHTTPD_PLATFORM_KEY', [stmt.key.text, p.line]),
        });
        continue;
      }
      if (folded === 'server.modules' && applied.context.index === 0) {
        plan.mergedAway.add(stmt);
        userTouchesModules = true;
        continue;
      }
      const templateStmts = byScopeKey.get(`${scopeKey}\0${folded}`);
      if (!templateStmts) continue;
      const scope = applied.context.index === 0 ? 'global' : applied.context.condition;
      if (stmt.op === '=' || stmt.op === ':=') {
        for (const t of templateStmts) {
          if (plan.removed.has(t)) continue;
          plan.removed.set(t, userAt);
          overrides.push({ key: applied.key, arrayKey: null, scope, templateLine: templateLine(t), user: userAt });
        }
        continue;
      }
      if (applied.value.type !== 'array') continue;
      for (const entry of applied.value.entries) {
        if (entry.key === null) continue;
        for (const t of templateStmts) {
          if (plan.removed.has(t)) continue;
          const tv = (tEval.assignments.get(t) as { value: ConfigValue }).value;
          if (tv.type !== 'array' || !findEntry(tv, entry.key)) continue;
          let set = plan.removedEntries.get(t);
          if (!set) plan.removedEntries.set(t, (set = new Set()));
          if (set.has(foldKey(entry.key))) continue;
          set.add(foldKey(entry.key));
          overrides.push({ key: applied.key, arrayKey: entry.key, scope, templateLine: templateLine(t), user: userAt });
        }
      }
    }
    if (userTouchesModules) {
      const tModules = tEval.global.scope.get('server.modules');
      const uModules = uEval.global.scope.get('server.modules');
      const union = unionModules(moduleNames(tModules?.value), moduleNames(uModules?.value));
      const tStmts = byScopeKey.get(`global\0server.modules`) ?? [];
      tStmts.forEach((t, i) => {
        if (i === 0) plan.replacedValues.set(t, arr(union.map((m) => ({ key: null, value: str(m) }))));
        else plan.removed.set(t, { file: input.user?.name ?? '', line: 0, col: 0 });
      });
    }
  }

  for (const [t, keys] of plan.removedEntries) {
    const tv = (tEval.assignments.get(t) as { value: ConfigValue }).value as ArrayValue;
    plan.replacedValues.set(t, arr(tv.entries.filter((e) => e.key === null || !keys.has(foldKey(e.key)))));
  }

  const rendered = renderMerged(tParsed.file, tEval, uFile, uEval, plan);
  // the merged text must stand on its own: evaluate it as lighttpd will
  const mergedSource: SourceFile = { name: 'merged lighttpd.conf', path: undefined, text: rendered.text, origin: 'template' };
  const mParsed = parse(mergedSource);
  const mEval = evaluate(mParsed.file, input.host, { basedir: input.basedir });
  const mergedProblems = [...mParsed.diagnostics.items, ...mEval.diagnostics];
  return {
    text: rendered.text,
    lineMap: rendered.lineMap,
    overrides,
    diagnostics: [...problems, ...platformWarnings, ...mergedProblems],
    ok: !mergedProblems.some((d) => d.severity === 'error'),
    moduleCauses: [...(uEval ? moduleCauses(uEval) : []), ...moduleCauses(tEval)],
  };
}

function userLocation(applied: AppliedAssignment, stmt: Assignment): Override['user'] {
  const p = positionOf(applied.source, stmt.start);
  return { file: applied.source.name, line: p.line, col: p.col };
}
