// Syntax tree -> scopes of keys and values, with lighttpd 1.4.69's semantics (configparser.y):
// one scope per distinct condition (the same condition written twice re-opens it), `=` twice
// in one scope is an error, `+=` takes a snapshot of the nearest enclosing value, `:=` replaces
// in place, `+` merges strings, integers and arrays. includes are expanded here, and what they
// expanded to is kept for the renderer.
import path from 'node:path';
import type {
  Assignment,
  ConditionChain,
  Condition,
  ConfigFile,
  Expression,
  Include,
  Operand,
  Statement,
} from './ast.js';
import { DiagnosticList, type Diagnostic } from './diagnostics.js';
import { formatMessage, type ErrorCode } from '../errors.js';
import { globFiles, hasGlob } from './glob.js';
import type { EvalHost } from './host.js';
import { parse } from './parser.js';
import { makeSource, positionOf, type SourceFile } from './source.js';
import {
  arr,
  foldKey,
  int,
  scalarEquals,
  Scope,
  str,
  typeName,
  type ArrayEntry,
  type ConfigValue,
  type Setter,
} from './values.js';

export interface Context {
  readonly index: number;
  /** identity: parent key + " / " + condition text; "global" for the root */
  readonly key: string;
  /** the printed condition, e.g. $HTTP["url"] =^ "/x"; "else" for a catch-all */
  readonly condition: string;
  readonly parent: Context | null;
  readonly children: Context[];
  prev: Context | null;
  next: Context | null;
  readonly scope: Scope;
}

export interface EvaluateOptions {
  /** predefine var.CWD and var.PID as lighttpd does (on by default) */
  readonly predefined?: boolean;
  /** the directory relative includes resolve against: the main file's directory */
  readonly basedir?: string;
  readonly maxIncludeDepth?: number;
  /** total characters of all files read, includes included */
  readonly maxTotalSize?: number;
}

export interface Evaluated {
  readonly global: Context;
  readonly contexts: readonly Context[];
  /** what each include / include_shell statement expanded to, in order */
  readonly expansions: ReadonlyMap<Include, readonly ConfigFile[]>;
  /** each assignment that took effect: the scope it went to and its right-hand value */
  readonly assignments: ReadonlyMap<Assignment, AppliedAssignment>;
  readonly diagnostics: Diagnostic[];
}

export interface AppliedAssignment {
  /** the file the statement is in (an include's own file for included statements) */
  readonly source: SourceFile;
  readonly context: Context;
  /** the key with var. added to a bare name */
  readonly key: string;
  readonly value: ConfigValue;
}

const HTTP_FIELDS = new Set([
  'url',
  'host',
  'referer',
  'useragent',
  'user-agent',
  'language',
  'cookie',
  'remoteip',
  'remote-ip',
  'querystring',
  'query-string',
  'request-method',
  'scheme',
]);

/** keys lighttpd reads only from the global scope (a value inside a condition is ignored) */
const SERVER_ONLY_KEYS = new Set([
  'server.modules',
  'server.username',
  'server.groupname',
  'server.chroot',
  'server.pid-file',
  'server.event-handler',
  'server.max-fds',
  'server.max-connections',
  'server.max-worker',
  'server.core-files',
  'server.upload-dirs',
  'server.errorlog-use-syslog',
]);

const REGEX_CHARS = /[\\^$.|?*+()[\]{}]/;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** lighttpd turns simple anchored regexes into prefix/suffix/equality matches */
function simplifyRegex(pattern: string): { op: '=~' | '=^' | '=$' | '=='; pattern: string } {
  if (pattern.endsWith('$')) {
    if (pattern.startsWith('\\.')) {
      const rest = pattern.slice(2, -1);
      if (!REGEX_CHARS.test(rest)) return { op: '=$', pattern: pattern.slice(1, -1) };
    } else if (pattern.startsWith('^')) {
      const rest = pattern.slice(1, -1);
      if (!REGEX_CHARS.test(rest)) return { op: '==', pattern: rest };
    } else {
      const rest = pattern.slice(0, -1);
      if (!REGEX_CHARS.test(rest)) return { op: '=$', pattern: rest };
    }
    return { op: '=~', pattern };
  }
  if (pattern.startsWith('^')) {
    const rest = pattern.slice(1);
    if (!REGEX_CHARS.test(rest)) return { op: '=^', pattern: rest };
  }
  return { op: '=~', pattern };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function validIpCondition(op: string, value: string): boolean {
  if (op === '=^' || op === '=$') return value.length > 0;
  const [addr, mask, ...rest] = value.split('/');
  if (rest.length > 0 || addr === undefined) return false;
  const v4 = IPV4.test(addr);
  const v6 = !v4 && /^[0-9a-fA-F:.]+$/.test(addr) && addr.includes(':');
  if (!v4 && !v6) return false;
  if (mask === undefined) return true;
  if (!/^\d+$/.test(mask)) return false;
  return Number(mask) <= (v4 ? 32 : 128);
}

interface IncludeFrame {
  readonly source: SourceFile;
  readonly start: number;
}

export function evaluate(file: ConfigFile, host: EvalHost, options: EvaluateOptions = {}): Evaluated {
  return new Evaluator(host, options).run(file);
}

class Evaluator {
  readonly #host: EvalHost;
  readonly #options: EvaluateOptions;
  readonly #diagnostics = new DiagnosticList();
  readonly #contexts: Context[] = [];
  readonly #byKey = new Map<string, Context>();
  readonly #expansions = new Map<Include, ConfigFile[]>();
  readonly #assignments = new Map<Assignment, AppliedAssignment>();
  readonly #includeStack: IncludeFrame[] = [];
  readonly #openFiles: string[] = [];
  #basedir = '';
  #totalSize = 0;
  #inGlobalBlock = false;

  constructor(host: EvalHost, options: EvaluateOptions) {
    this.#host = host;
    this.#options = options;
  }

  run(file: ConfigFile): Evaluated {
    const global = this.#newContext('global', 'global', null);
    this.#basedir =
      this.#options.basedir ?? (file.source.path ? path.dirname(path.resolve(this.#host.cwd, file.source.path)) : this.#host.cwd);
    if (this.#options.predefined !== false) {
      const setBy: Setter = { file: '(lighttpd)', origin: 'template', start: 0, end: 0, line: 0, col: 0 };
      global.scope.append({ key: 'var.CWD', value: str(this.#host.cwd), setBy });
      global.scope.append({ key: 'var.PID', value: int(this.#host.pid), setBy });
    }
    this.#totalSize += file.source.text.length;
    if (file.source.path) this.#openFiles.push(path.resolve(this.#host.cwd, file.source.path));
    this.#statements(file.source, file.statements, global);
    return {
      global,
      contexts: this.#contexts,
      expansions: this.#expansions,
      assignments: this.#assignments,
      diagnostics: this.#diagnostics.items,
    };
  }

  #newContext(key: string, condition: string, parent: Context | null): Context {
    const ctx: Context = {
      index: this.#contexts.length,
      key,
      condition,
      parent,
      children: [],
      prev: null,
      next: null,
      scope: new Scope(),
    };
    this.#contexts.push(ctx);
    this.#byKey.set(key, ctx);
    parent?.children.push(ctx);
    return ctx;
  }

  /** a diagnostic worded by CODE's template in src/errors.ts with ARGS; TH_WARN_* codes are warnings */
  #report(code: ErrorCode, source: SourceFile, start: number, end: number, ...args: (string | number)[]): void {
    const includedFrom = this.#includeStack.length ? [...this.#includeStack].reverse() : undefined;
    const severity = code.startsWith('TH_WARN_') ? 'warning' : 'error';
    const message = formatMessage(code, args);
    this.#diagnostics.add({ code, severity, source, start, end: Math.max(end, start + 1), message, ...(includedFrom ? { includedFrom } : {}) });
  }

  #setter(source: SourceFile, node: { start: number; end: number }): Setter {
    const p = positionOf(source, node.start);
    return { file: source.name, origin: source.origin, start: node.start, end: node.end, line: p.line, col: p.col };
  }

  #statements(source: SourceFile, statements: readonly Statement[], ctx: Context): void {
    for (const s of statements) {
      switch (s.kind) {
        case 'assign':
          this.#assign(source, s, ctx);
          break;
        case 'chain':
          this.#chain(source, s, ctx);
          break;
        case 'global': {
          const was = this.#inGlobalBlock;
          this.#inGlobalBlock = true;
          this.#statements(source, s.body, this.#contexts[0] as Context);
          this.#inGlobalBlock = was;
          break;
        }
        case 'include':
        case 'include_shell':
          this.#include(source, s, ctx);
          break;
      }
    }
  }

  #normalizeKey(name: string): string {
    return name.includes('.') ? name : `var.${name}`;
  }

  #assign(source: SourceFile, s: Assignment, ctx: Context): void {
    const key = this.#normalizeKey(s.key.value);
    const folded = foldKey(key);
    if (folded.startsWith('env.')) {
      const verb = s.op === '+=' ? 'Appending to' : 'Setting';
      this.#report('TH_ERR_LIGHTTPD_ENV_ASSIGN', source, s.key.start, s.key.end, verb, key);
      return;
    }
    const value = this.#expression(source, s.value, ctx);
    if (value === null) return;
    this.#assignments.set(s, { source, context: ctx, key, value });
    if (ctx.index !== 0 && SERVER_ONLY_KEYS.has(folded)) {
      this.#report('TH_WARN_LIGHTTPD_SERVER_OPTION_IN_CONDITION', source, s.key.start, s.key.end, key);
    }
    const setBy = this.#setter(source, s);
    const scope = ctx.scope;
    // the key is stored as written in this statement (lighttpd prints that spelling)
    const spelled = s.key.value.includes('.') ? s.key.value : key;
    if (s.op === '=') {
      const existing = scope.get(key);
      if (existing) {
        const where = existing.setBy.line > 0 ? ` at ${existing.setBy.file}:${existing.setBy.line}:${existing.setBy.col}` : ' by lighttpd';
        this.#report('TH_ERR_LIGHTTPD_DUPLICATE_KEY', source, s.key.start, s.key.end, key, this.#scopeName(ctx), where);
        return;
      }
      scope.append({ key: spelled, value, setBy });
      return;
    }
    if (s.op === ':=') {
      scope.replace({ key: spelled, value, setBy });
      return;
    }
    // +=
    const own = scope.get(key);
    if (own) {
      const merged = this.#merge(source, s.value, own.value, value);
      if (merged === null) return;
      scope.remove(key);
      scope.append({ key: spelled, value: merged, setBy });
      return;
    }
    for (let c = ctx.parent; c; c = c.parent) {
      const inherited = c.scope.get(key);
      if (inherited) {
        const merged = this.#merge(source, s.value, inherited.value, value);
        if (merged !== null) scope.append({ key: spelled, value: merged, setBy });
        return;
      }
    }
    scope.append({ key: spelled, value, setBy });
  }

  #scopeName(ctx: Context): string {
    return ctx.index === 0 ? 'global scope' : `block ${ctx.condition}`;
  }

  /** `a + b`: strings concatenate, integers add, arrays append (lighttpd configparser_merge_data) */
  #merge(source: SourceFile, at: { start: number; end: number }, a: ConfigValue, b: ConfigValue): ConfigValue | null {
    if (a.type === 'array' && b.type === 'array') {
      const entries: ArrayEntry[] = [...a.entries];
      const index = new Map<string, ArrayEntry>();
      for (const e of a.entries) if (e.key !== null) index.set(foldKey(e.key), e);
      for (const e of b.entries) {
        if (e.key === null) {
          entries.push(e);
          continue;
        }
        const k = foldKey(e.key);
        const existing = index.get(k);
        if (existing === undefined) {
          entries.push(e);
          index.set(k, e);
        } else if (!scalarEquals(existing.value, e.value)) {
          this.#report('TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY', source, at.start, at.end, e.key, `(the array already maps it to ${shortValue(existing.value)})`, 'use := to replace the whole array');
          return null;
        }
      }
      return arr(entries);
    }
    if (a.type === 'array' || b.type === 'array') {
      this.#report('TH_ERR_LIGHTTPD_TYPE_MISMATCH', source, at.start, at.end, typeName(a), typeName(b));
      return null;
    }
    if (a.type === 'integer' && b.type === 'integer') return int((a.value + b.value) | 0);
    return str(String(a.value) + String(b.value));
  }

  #expression(source: SourceFile, e: Expression, ctx: Context): ConfigValue | null {
    let acc: ConfigValue | null = null;
    for (const op of e.operands) {
      const v = this.#operand(source, op, ctx);
      if (v === null) return null;
      if (acc === null) acc = v;
      else {
        acc = this.#merge(source, op, acc, v);
        if (acc === null) return null;
      }
    }
    return acc;
  }

  #operand(source: SourceFile, op: Operand, ctx: Context): ConfigValue | null {
    switch (op.kind) {
      case 'string':
        return str(op.value);
      case 'integer': {
        const big = BigInt(op.text);
        if (big > 9223372036854775807n) {
          this.#report('TH_ERR_LIGHTTPD_INVALID_NUMBER', source, op.start, op.end, op.text, INT_MIN, INT_MAX);
          return null;
        }
        // lighttpd stores a long into an int: larger values wrap, as lighttpd -p shows
        return int(Number(BigInt.asIntN(32, big)));
      }
      case 'ref':
        return this.#lookup(source, op.name, op, ctx);
      case 'array': {
        const entries: ArrayEntry[] = [];
        const seen = new Set<string>();
        for (const el of op.elements) {
          let key: string | null = null;
          if (el.key) {
            const k = this.#expression(source, el.key, ctx);
            if (k === null) return null;
            if (k.type === 'array') {
              this.#report('TH_ERR_LIGHTTPD_ARRAY_KEY_TYPE', source, el.key.start, el.key.end, 'an array');
              return null;
            }
            key = String(k.value);
            const folded = foldKey(key);
            if (seen.has(folded)) {
              this.#report('TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY', source, el.key.start, el.key.end, key, 'in this array', 'remove one of the entries');
              return null;
            }
            seen.add(folded);
          }
          const v = this.#expression(source, el.value, ctx);
          if (v === null) return null;
          entries.push({ key, value: v });
        }
        return arr(entries);
      }
    }
  }

  #lookup(source: SourceFile, name: string, at: { start: number; end: number }, ctx: Context): ConfigValue | null {
    if (foldKey(name).startsWith('env.')) {
      const envName = name.slice(4);
      const v = this.#host.env[envName];
      if (v === undefined) {
        this.#report('TH_ERR_LIGHTTPD_UNDEFINED_ENV', source, at.start, at.end, envName, envName);
        return null;
      }
      return str(v);
    }
    const key = this.#normalizeKey(name);
    for (let c: Context | null = ctx; c; c = c.parent) {
      const e = c.scope.get(key);
      if (e) return e.value;
    }
    this.#report('TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE', source, at.start, at.end, key);
    return null;
  }

  #chain(source: SourceFile, chain: ConditionChain, ctx: Context): void {
    let prev: Context | null = null;
    for (const branch of chain.branches) {
      let target: Context | null;
      if (branch.kind === 'else') {
        target = this.#newContext(`${ctx.key} / else_${this.#contexts.length}`, 'else', ctx);
        if (prev) {
          target.prev = prev;
          prev.next = target;
        }
      } else {
        target = this.#condition(source, branch, ctx, prev);
      }
      if (target === null) return;
      this.#statements(source, branch.body, target);
      prev = target;
    }
  }

  #condition(source: SourceFile, c: Condition, ctx: Context, prev: Context | null): Context | null {
    if (this.#inGlobalBlock) {
      this.#report('TH_ERR_LIGHTTPD_CONDITION_IN_GLOBAL', source, c.start, c.bodyStart);
      return null;
    }
    const object = c.object.value;
    const field = c.field.value;
    const known =
      (object === 'HTTP' && HTTP_FIELDS.has(field)) || (object === 'SERVER' && field === 'socket') || object === 'REQUEST_HEADER';
    const patternValue = this.#expression(source, c.pattern, ctx);
    if (!known) {
      const hint =
        object === 'HTTP'
          ? `fields are case-sensitive: use one of ${[...HTTP_FIELDS].join(', ')}`
          : object === 'SERVER'
            ? 'the only $SERVER field is "socket"'
            : 'use $HTTP[...], $SERVER["socket"] or $REQUEST_HEADER[...]';
      this.#report('TH_ERR_LIGHTTPD_UNKNOWN_FIELD', source, c.object.start - 1, c.field.end + 1, object, field, hint);
      return null;
    }
    if (patternValue === null) return null;
    if (patternValue.type !== 'string') {
      this.#report('TH_ERR_LIGHTTPD_CONDITION_VALUE', source, c.pattern.start, c.pattern.end, typeName(patternValue));
      return null;
    }
    let op: string = c.op;
    let pattern = patternValue.value;
    if (op === '=~' && !(object === 'SERVER' && field === 'socket')) ({ op, pattern } = simplifyRegex(pattern));
    if ((field === 'remoteip' || field === 'remote-ip') && op !== '=~' && op !== '!~' && !validIpCondition(op, pattern)) {
      this.#report('TH_ERR_LIGHTTPD_INVALID_IP', source, c.pattern.start, c.pattern.end, pattern);
      return null;
    }
    const condition = `$${object}["${field}"] ${op} "${pattern}"`;
    const key = `${ctx.key} / ${condition}`;
    const existing = this.#byKey.get(key);
    if (existing) return existing;
    const created = this.#newContext(key, condition, ctx);
    if (prev) {
      created.prev = prev;
      prev.next = created;
    }
    return created;
  }

  #include(source: SourceFile, s: Include, ctx: Context): void {
    const value = this.#expression(source, s.path, ctx);
    if (value === null) return;
    if (value.type === 'array') {
      this.#report('TH_ERR_LIGHTTPD_INCLUDE_VALUE', source, s.path.start, s.path.end, s.kind);
      return;
    }
    const limit = this.#options.maxIncludeDepth ?? 16;
    if (this.#includeStack.length >= limit) {
      this.#report('TH_ERR_LIGHTTPD_INCLUDE_DEPTH', source, s.start, s.end, `more than ${limit} levels`);
      return;
    }
    const target = String(value.value);
    const files: ConfigFile[] = [];
    this.#expansions.set(s, files);
    if (s.kind === 'include_shell') {
      const result = this.#host.runShell(target, this.#basedir);
      if (result.status !== 0) {
        const why = result.status === null ? `could not run (${result.error ?? 'unknown error'})` : `exited non-zero: ${result.status}`;
        this.#report('TH_ERR_LIGHTTPD_INCLUDE_SHELL_FAILED', source, s.start, s.end, target, why);
        return;
      }
      this.#included(source, s, makeSource(`include_shell "${target}"`, result.stdout, { origin: source.origin }), ctx, files);
      return;
    }
    const resolved =
      path.isAbsolute(target) || target.startsWith('./') || target.startsWith('../')
        ? path.resolve(this.#host.cwd, target)
        : path.resolve(this.#basedir, target);
    let matches: string[];
    if (hasGlob(target)) matches = globFiles(this.#host, resolved);
    else if (this.#host.isFile(resolved)) matches = [resolved];
    else {
      this.#report('TH_ERR_LIGHTTPD_INCLUDE_NOT_FOUND', source, s.path.start, s.path.end, target, `not found; looked for ${resolved}`, this.#basedir);
      return;
    }
    for (const m of matches) {
      if (this.#openFiles.includes(m)) {
        this.#report('TH_ERR_LIGHTTPD_INCLUDE_DEPTH', source, s.start, s.end, `${m} includes itself (directly or through other files)`);
        continue;
      }
      let text: string;
      try {
        text = this.#host.readFile(m);
      } catch (err) {
        this.#report('TH_ERR_LIGHTTPD_INCLUDE_NOT_FOUND', source, s.path.start, s.path.end, m, (err as Error).message, this.#basedir);
        continue;
      }
      this.#openFiles.push(m);
      this.#included(source, s, makeSource(m, text, { path: m, origin: source.origin }), ctx, files);
      this.#openFiles.pop();
    }
  }

  #included(source: SourceFile, s: Include, inc: SourceFile, ctx: Context, files: ConfigFile[]): void {
    const max = this.#options.maxTotalSize ?? 8 * 1024 * 1024;
    this.#totalSize += inc.text.length;
    if (this.#totalSize > max) {
      this.#report('TH_ERR_LIGHTTPD_TOO_LARGE', source, s.start, s.end, max);
      return;
    }
    this.#includeStack.push({ source, start: s.start });
    const parsed = parse(inc);
    for (const d of parsed.diagnostics.items) {
      const includedFrom = [...this.#includeStack].reverse();
      this.#diagnostics.add({ ...d, includedFrom });
    }
    files.push(parsed.file);
    this.#statements(inc, parsed.file.statements, ctx);
    this.#includeStack.pop();
  }
}

function shortValue(v: ConfigValue): string {
  if (v.type === 'string') return JSON.stringify(v.value.length > 40 ? `${v.value.slice(0, 37)}...` : v.value);
  if (v.type === 'integer') return String(v.value);
  return 'an array';
}

