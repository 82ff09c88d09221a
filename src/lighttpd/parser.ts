// Tokens -> syntax tree (grammar: lighttpd configparser.y). On an error the parser records a
// diagnostic, skips to the end of the statement and goes on. Where lighttpd 1.4.69 silently
// drops tokens after a mid-file syntax error (a stray `}`, `= =`, two values in a row, `if`),
// this parser reports an error instead.
import type {
  ArrayElement,
  ArrayLiteral,
  Assignment,
  CondOp,
  Condition,
  ConditionChain,
  ConfigFile,
  ElseBlock,
  Expression,
  GlobalBlock,
  Include,
  Operand,
  Statement,
} from './ast.js';
import { DiagnosticList } from './diagnostics.js';
import { lex, type Token, type TokenKind } from './lexer.js';
import type { SourceFile } from './source.js';

const IF_WORDS = new Set(['if', 'elif', 'elsif', 'elseif']);
/**
 * Blocks and arrays nested deeper than this are reported and skipped, not parsed: each level
 * costs a few stack frames here and in the stages after, and 10 KB of "(" once overflowed the
 * stack. Real configurations nest a few levels.
 */
export const MAX_NESTING = 64;

const DESCRIBE: Readonly<Record<TokenKind, string>> = {
  eol: 'end of line',
  key: 'a name',
  string: 'a string',
  integer: 'an integer',
  assign: '"="',
  append: '"+="',
  force: '":="',
  plus: '"+"',
  comma: '","',
  arrow: '"=>"',
  lparen: '"("',
  rparen: '")"',
  lbrace: '"{"',
  rbrace: '"}"',
  lbracket: '"["',
  rbracket: '"]"',
  dollar: '"$"',
  name: 'a condition name',
  condop: 'a condition operator',
  include: '"include"',
  include_shell: '"include_shell"',
  global: '"global"',
  else: '"else"',
  eof: 'end of file',
};

function describe(t: Token): string {
  if (t.kind === 'key' || t.kind === 'string' || t.kind === 'integer' || t.kind === 'condop') {
    const shown = t.text.length > 40 ? `${t.text.slice(0, 37)}...` : t.text;
    return `${DESCRIBE[t.kind]} ${t.kind === 'string' ? shown : `"${shown}"`}`;
  }
  return DESCRIBE[t.kind];
}

class SyntaxAbort {
  constructor(readonly token: Token) {}
}

export interface ParseResult {
  readonly file: ConfigFile;
  readonly diagnostics: DiagnosticList;
}

export function parse(source: SourceFile, diagnostics = new DiagnosticList()): ParseResult {
  const { tokens } = lex(source, diagnostics);
  const parser = new Parser(source, tokens, diagnostics);
  return { file: { source, statements: parser.parseFile() }, diagnostics };
}

class Parser {
  #pos = 0;
  readonly #source: SourceFile;
  readonly #tokens: Token[];
  readonly #diagnostics: DiagnosticList;
  /** blocks and arrays open around the current token */
  #depth = 0;

  constructor(source: SourceFile, tokens: Token[], diagnostics: DiagnosticList) {
    this.#source = source;
    this.#tokens = tokens;
    this.#diagnostics = diagnostics;
  }

  parseFile(): Statement[] {
    return this.#statements(null);
  }

  #peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#pos + offset, this.#tokens.length - 1)] as Token;
  }

  #next(): Token {
    const t = this.#peek();
    if (this.#pos < this.#tokens.length - 1) this.#pos++;
    return t;
  }

  #error(
    t: { start: number; end: number },
    code: 'TH_ERR_LIGHTTPD_SYNTAX' | 'TH_ERR_LIGHTTPD_IF_KEYWORD' | 'TH_ERR_LIGHTTPD_UNREACHABLE_ELSE' | 'TH_ERR_LIGHTTPD_NESTING_TOO_DEEP',
    ...args: (string | number)[]
  ): void {
    this.#diagnostics.error(code, this.#source, t.start, Math.max(t.end, t.start + 1), ...args);
  }

  /** TH_ERR_LIGHTTPD_SYNTAX at T: expected WHAT, found T; TODO */
  #syntax(t: Token, what: string, todo: string, found = describe(t)): void {
    this.#error(t, 'TH_ERR_LIGHTTPD_SYNTAX', what, found, todo);
  }

  #expect(kind: TokenKind, what: string): Token {
    const t = this.#peek();
    if (t.kind !== kind) {
      this.#syntax(t, what, 'fix this line (a missing quote, bracket or operator is the usual cause)');
      throw new SyntaxAbort(t);
    }
    return this.#next();
  }

  /** skip to the end of the current statement, keeping nesting balanced */
  #recover(): void {
    let depth = 0;
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eof') return;
      if (depth === 0 && t.kind === 'eol') return;
      if (t.kind === 'lbrace') depth++;
      if (t.kind === 'rbrace') {
        if (depth === 0) return;
        depth--;
        if (depth === 0) {
          this.#next();
          return;
        }
      }
      this.#next();
    }
  }

  #statements(opener: Token | null): Statement[] {
    if (opener === null) return this.#statementList(null);
    if (this.#depth >= MAX_NESTING) {
      this.#tooDeep(opener);
      this.#skipBlock();
      return [];
    }
    this.#depth++;
    try {
      return this.#statementList(opener);
    } finally {
      this.#depth--;
    }
  }

  #tooDeep(opener: Token): void {
    this.#error(opener, 'TH_ERR_LIGHTTPD_NESTING_TOO_DEEP', MAX_NESTING);
  }

  /** skip to the } that closes the block just opened, leaving it for the caller */
  #skipBlock(): void {
    let depth = 0;
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eof') return;
      if (t.kind === 'rbrace') {
        if (depth === 0) return;
        depth--;
      } else if (t.kind === 'lbrace') depth++;
      this.#next();
    }
  }

  #statementList(opener: Token | null): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eol') {
        this.#next();
        continue;
      }
      if (t.kind === 'eof') {
        if (opener) this.#syntax(opener, 'a "}" closing this "{"', 'add one at the end of the block', 'the end of the file');
        return out;
      }
      if (t.kind === 'rbrace') {
        if (opener) return out;
        this.#syntax(t, 'a statement', 'remove it', '"}" without a matching "{"');
        this.#next();
        continue;
      }
      try {
        const s = this.#statement();
        if (s) out.push(s);
      } catch (e) {
        if (!(e instanceof SyntaxAbort)) throw e;
        this.#recover();
      }
    }
  }

  #statement(): Statement | null {
    const t = this.#peek();
    switch (t.kind) {
      case 'key':
        if (IF_WORDS.has(t.value.toLowerCase()) && this.#peek(1).kind === 'dollar') {
          this.#error(t, 'TH_ERR_LIGHTTPD_IF_KEYWORD', t.value, 'it silently drops the condition', `the condition without "${t.value}"`);
          this.#next();
          return this.#chain();
        }
        return this.#assignment();
      case 'dollar':
        return this.#chain();
      case 'global':
        return this.#global();
      case 'include':
      case 'include_shell':
        return this.#include();
      case 'else': {
        this.#syntax(t, 'a condition before "else"', 'put it right after the } of a condition', '"else" alone');
        this.#next();
        if (this.#peek().kind === 'lbrace') {
          const open = this.#next();
          this.#statements(open);
          this.#expect('rbrace', '"}"');
          return null;
        }
        throw new SyntaxAbort(t);
      }
      default:
        this.#syntax(t, 'a statement (key = value, a condition, include or global)', 'start the line with a key, a $condition, include or global');
        throw new SyntaxAbort(t);
    }
  }

  #assignment(): Assignment {
    const key = this.#next();
    const opTok = this.#peek();
    let op: Assignment['op'];
    if (opTok.kind === 'assign') op = '=';
    else if (opTok.kind === 'append') op = '+=';
    else if (opTok.kind === 'force') op = ':=';
    else {
      this.#syntax(opTok, `an assignment operator (=, += or :=) after "${key.text}"`, `write ${key.text} = VALUE`);
      throw new SyntaxAbort(opTok);
    }
    this.#next();
    const value = this.#expression();
    const after = this.#peek();
    if (after.kind === 'string' || after.kind === 'integer' || after.kind === 'lparen' || after.kind === 'assign' || after.kind === 'arrow') {
      this.#syntax(after, `the end of the line after the value of "${key.text}"`, 'join values with + or start a new line');
      throw new SyntaxAbort(after);
    }
    return { kind: 'assign', op, key, value, start: key.start, end: value.end };
  }

  #expression(): Expression {
    const first = this.#operand();
    const operands: Operand[] = [first];
    while (this.#peek().kind === 'plus') {
      this.#next();
      operands.push(this.#operand());
    }
    return { kind: 'expr', operands, start: first.start, end: (operands[operands.length - 1] as Operand).end };
  }

  #operand(): Operand {
    const t = this.#peek();
    switch (t.kind) {
      case 'string':
        this.#next();
        return { kind: 'string', value: t.value, start: t.start, end: t.end };
      case 'integer':
        this.#next();
        return { kind: 'integer', text: t.text, start: t.start, end: t.end };
      case 'key':
        this.#next();
        return { kind: 'ref', name: t.value, start: t.start, end: t.end };
      case 'lparen':
        return this.#array();
      default:
        this.#syntax(t, 'a value (a string, an integer, a variable or an array)', 'give a value, quoted if it is text');
        throw new SyntaxAbort(t);
    }
  }

  #array(): ArrayLiteral {
    const open = this.#next();
    if (this.#depth >= MAX_NESTING) {
      this.#tooDeep(open);
      this.#skipToCloseParen();
      throw new SyntaxAbort(this.#peek());
    }
    this.#depth++;
    try {
      return this.#arrayBody(open);
    } finally {
      this.#depth--;
    }
  }

  #arrayBody(open: Token): ArrayLiteral {
    const elements: ArrayElement[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'rparen') {
        this.#next();
        return { kind: 'array', elements, start: open.start, end: t.end };
      }
      if (t.kind === 'eof') {
        this.#syntax(open, 'a ")" closing this "("', 'close the array', 'the end of the file');
        throw new SyntaxAbort(t);
      }
      const first = this.#expression();
      let element: ArrayElement;
      if (this.#peek().kind === 'arrow') {
        this.#next();
        const value = this.#expression();
        element = { key: first, value, start: first.start, end: value.end };
      } else {
        element = { key: null, value: first, start: first.start, end: first.end };
      }
      elements.push(element);
      const sep = this.#peek();
      if (sep.kind === 'comma') {
        this.#next();
        continue;
      }
      if (sep.kind !== 'rparen') {
        this.#syntax(sep, '"," or ")" in the array', 'separate elements with commas');
        this.#skipToCloseParen();
        throw new SyntaxAbort(this.#peek());
      }
    }
  }

  #skipToCloseParen(): void {
    let depth = 1;
    for (;;) {
      const t = this.#peek();
      if (t.kind === 'eof') return;
      this.#next();
      if (t.kind === 'lparen') depth++;
      else if (t.kind === 'rparen' && --depth === 0) return;
    }
  }

  #condition(): Condition {
    const dollar = this.#expect('dollar', '"$"');
    const object = this.#expect('name', 'a condition name after $ (HTTP, SERVER or REQUEST_HEADER)');
    this.#expect('lbracket', `"[" after $${object.text}`);
    const field = this.#expect('string', 'a quoted field name, as in $HTTP["url"]');
    this.#expect('rbracket', '"]"');
    const opToken = this.#expect('condop', 'a condition operator (== != =~ !~ =^ =$)');
    const pattern = this.#expression();
    const brace = this.#expect('lbrace', '"{" to open the condition block');
    const body = this.#statements(brace);
    const close = this.#expect('rbrace', '"}"');
    return {
      kind: 'condition',
      object,
      field,
      op: opToken.text as CondOp,
      opToken,
      pattern,
      bodyStart: brace.start,
      body,
      start: dollar.start,
      end: close.end,
    };
  }

  #chain(): ConditionChain {
    const first = this.#condition();
    const branches: (Condition | ElseBlock)[] = [first];
    let catchAll: ElseBlock | null = null;
    for (;;) {
      // blank and comment lines between } and else fold into one end-of-line
      const skip = this.#peek().kind === 'eol' ? 1 : 0;
      if (this.#peek(skip).kind !== 'else') break;
      this.#pos += skip;
      const elseTok = this.#next();
      let next = this.#peek();
      if (next.kind === 'key' && IF_WORDS.has(next.value.toLowerCase())) {
        this.#error(next, 'TH_ERR_LIGHTTPD_IF_KEYWORD', `else ${next.value}`, 'it becomes a plain else', '"else $HTTP[...]"');
        this.#next();
        next = this.#peek();
      }
      let branch: Condition | ElseBlock;
      if (next.kind === 'dollar') {
        branch = this.#condition();
        branch = { ...branch, start: elseTok.start };
      } else if (next.kind === 'lbrace') {
        const open = this.#next();
        const body = this.#statements(open);
        const close = this.#expect('rbrace', '"}"');
        branch = { kind: 'else', body, start: elseTok.start, end: close.end };
      } else {
        this.#syntax(next, 'a condition or "{" after else', 'write else $HTTP[...] { ... } or else { ... }');
        throw new SyntaxAbort(next);
      }
      if (catchAll) {
        this.#error(branch, 'TH_ERR_LIGHTTPD_UNREACHABLE_ELSE');
        continue;
      }
      if (branch.kind === 'else') catchAll = branch;
      branches.push(branch);
    }
    const last = branches[branches.length - 1] as Condition | ElseBlock;
    return { kind: 'chain', branches, start: first.start, end: last.end };
  }

  #global(): GlobalBlock {
    const kw = this.#next();
    const open = this.#expect('lbrace', '"{" after global');
    const body = this.#statements(open);
    const close = this.#expect('rbrace', '"}"');
    return { kind: 'global', body, start: kw.start, end: close.end };
  }

  #include(): Include {
    const kw = this.#next();
    const path = this.#expression();
    return { kind: kw.kind === 'include' ? 'include' : 'include_shell', path, start: kw.start, end: path.end };
  }
}
