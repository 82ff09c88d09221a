// The lighttpd 1.4 tokenizer: text -> tokens that keep their source text and offsets.
// Follows configfile.c config_tokenizer(): newlines, blank lines and comments outside
// parentheses fold into one EOL token; inside parentheses they are whitespace; a `}` followed
// by more text on its line ends the statement (so `} else {` works); the only string escape
// is \". Unlike lighttpd it goes on after an error, so one run reports every problem.
import { DiagnosticList } from './diagnostics.js';
import type { SourceFile } from './source.js';

export type TokenKind =
  | 'eol'
  | 'key'
  | 'string'
  | 'integer'
  | 'assign' // =
  | 'append' // +=
  | 'force' // :=
  | 'plus' // +
  | 'comma'
  | 'arrow' // =>
  | 'lparen'
  | 'rparen'
  | 'lbrace'
  | 'rbrace'
  | 'lbracket'
  | 'rbracket'
  | 'dollar'
  | 'name' // the object after $: HTTP, SERVER, REQUEST_HEADER
  | 'condop' // == != =~ !~ =^ =$
  | 'include'
  | 'include_shell'
  | 'global'
  | 'else'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly start: number;
  readonly end: number;
  /** the source text exactly as written */
  readonly text: string;
  /** strings: the content with \" unescaped; others: same as text */
  readonly value: string;
}

const KEYWORDS: Readonly<Record<string, TokenKind>> = {
  include: 'include',
  include_shell: 'include_shell',
  global: 'global',
  else: 'else',
};

function isKeyStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '.' || c === '-';
}

function isKeyChar(c: string): boolean {
  return isKeyStart(c) || (c >= '0' && c <= '9');
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\u00a0' || c === '\f' || c === '\v';
}

export interface LexResult {
  readonly tokens: Token[];
  readonly diagnostics: DiagnosticList;
}

export function lex(source: SourceFile, diagnostics = new DiagnosticList()): LexResult {
  const text = source.text;
  const n = text.length;
  const tokens: Token[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let parenDepth = 0;
  // inside $NAME[ ... ]: only a quoted field name may appear
  let inCondition = false;
  // right after the ] of a condition: the next token is its operator
  let expectCondOp = false;

  const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
    const t = text.slice(start, end);
    tokens.push({ kind, start, end, text: t, value: value ?? t });
  };
  // TH_ERR_LIGHTTPD_INVALID_CHARACTER: WHICH, then why and what to write instead
  const invalid = (start: number, end: number, which: string, why: string): void => {
    diagnostics.error('TH_ERR_LIGHTTPD_INVALID_CHARACTER', source, start, end, which, why);
  };
  // TH_ERR_LIGHTTPD_SYNTAX: expected WHAT, found FOUND; what to do
  const syntax = (start: number, end: number, what: string, found: string, todo: string): void => {
    diagnostics.error('TH_ERR_LIGHTTPD_SYNTAX', source, start, end, what, found, todo);
  };
  const pushEol = (start: number, end: number): void => {
    const last = tokens[tokens.length - 1];
    if (last === undefined || last.kind === 'eol') return;
    tokens.push({ kind: 'eol', start, end, text: text.slice(start, end), value: '(EOL)' });
  };

  while (i < n) {
    const c = text[i] as string;
    if (isBlank(c)) {
      i++;
      continue;
    }
    if (c === '\n' || c === '\r' || c === '#') {
      // a run of line breaks, blank lines, indentation and comments
      const start = i;
      while (i < n) {
        const d = text[i] as string;
        if (d === '\n' || d === '\r' || isBlank(d)) i++;
        else if (d === '#') {
          while (i < n && text[i] !== '\n' && text[i] !== '\r') i++;
        } else break;
      }
      if (parenDepth === 0 && !inCondition) pushEol(start, i);
      continue;
    }
    if (expectCondOp) {
      expectCondOp = false;
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '=~' || two === '!~' || two === '=^' || two === '=$') {
        push('condop', i, i + 2);
        i += 2;
        continue;
      }
      const todo =
        c === '=' ? 'only == =~ =^ =$ are allowed in the condition' : c === '!' ? 'only !~ and != are allowed in the condition' : 'compare the field with one of them';
      syntax(i, i + 1, 'a condition operator (== != =~ !~ =^ =$)', `"${c}"`, todo);
      continue;
    }
    if (inCondition) {
      if (c === '[') {
        push('lbracket', i, i + 1);
        i++;
        continue;
      }
      if (c === ']') {
        push('rbracket', i, i + 1);
        i++;
        inCondition = false;
        expectCondOp = true;
        continue;
      }
      if (c === '"') {
        i = lexString(i);
        continue;
      }
      if (/[A-Za-z_]/.test(c)) {
        const start = i;
        while (i < n && /[A-Za-z_]/.test(text[i] as string)) i++;
        push('name', start, i);
        continue;
      }
      invalid(i, i + 1, `"${c}" in a condition`, 'the field must be a quoted string, as in $HTTP["url"]');
      i++;
      continue;
    }
    switch (c) {
      case '"':
        i = lexString(i);
        continue;
      case '=': {
        const d = text[i + 1];
        if (d === '>') {
          push('arrow', i, i + 2);
          i += 2;
        } else if (d === '=' || d === '~' || d === '^') {
          // a condition operator outside a condition: let the parser say what is wrong
          push('condop', i, i + 2);
          i += 2;
        } else {
          if (parenDepth > 0) {
            syntax(i, i + 1, '"=>" between a key and its value in an array', '"="', 'use => for assignments in arrays');
            push('arrow', i, i + 1);
          } else push('assign', i, i + 1);
          i++;
        }
        continue;
      }
      case '+':
        if (text[i + 1] === '=') {
          push('append', i, i + 2);
          i += 2;
        } else {
          push('plus', i, i + 1);
          i++;
        }
        continue;
      case ':':
        if (text[i + 1] === '=') {
          push('force', i, i + 2);
          i += 2;
        } else {
          invalid(i, i + 1, '":"', 'did you mean := ?');
          i++;
        }
        continue;
      case '!':
        if (text[i + 1] === '=' || text[i + 1] === '~') {
          push('condop', i, i + 2);
          i += 2;
        } else {
          invalid(i, i + 1, '"!"', 'only != and !~ exist');
          i++;
        }
        continue;
      case ',':
        // lighttpd skips a comma outside parentheses (`var.a = "x",` is accepted)
        if (parenDepth > 0) push('comma', i, i + 1);
        i++;
        continue;
      case '(':
        parenDepth++;
        push('lparen', i, i + 1);
        i++;
        continue;
      case ')':
        if (parenDepth === 0) syntax(i, i + 1, 'a value', '")" without an opening "("', 'remove it or open the array');
        else parenDepth--;
        push('rparen', i, i + 1);
        i++;
        continue;
      case '{':
        push('lbrace', i, i + 1);
        i++;
        continue;
      case '}': {
        push('rbrace', i, i + 1);
        i++;
        // more text on the same line after } ends the statement there
        let j = i;
        while (j < n && isBlank(text[j] as string)) j++;
        if (j < n && text[j] !== '\n' && text[j] !== '\r' && text[j] !== '#' && parenDepth === 0) pushEol(i, i);
        continue;
      }
      case '[':
        push('lbracket', i, i + 1);
        i++;
        continue;
      case ']':
        push('rbracket', i, i + 1);
        i++;
        continue;
      case '$':
        push('dollar', i, i + 1);
        i++;
        inCondition = true;
        continue;
      default:
        break;
    }
    if (isDigit(c)) {
      const start = i;
      while (i < n && isDigit(text[i] as string)) i++;
      push('integer', start, i);
      continue;
    }
    if (isKeyStart(c)) {
      const start = i;
      while (i < n && isKeyChar(text[i] as string)) i++;
      const word = text.slice(start, i);
      push(KEYWORDS[word] ?? 'key', start, i);
      continue;
    }
    const cp = text.codePointAt(i) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    const shown = cp < 32 || cp === 127 ? `\\x${cp.toString(16).padStart(2, '0')}` : text.slice(i, i + width);
    invalid(i, i + width, `"${shown}"`, 'keys use letters, digits, ".", "_" and "-"');
    i += width;
  }
  if (parenDepth === 0) pushEol(n, n);
  tokens.push({ kind: 'eof', start: n, end: n, text: '', value: '(EOF)' });
  return { tokens, diagnostics };

  function lexString(start: number): number {
    let j = start + 1;
    let value = '';
    let chunk = j;
    while (j < n) {
      const d = text[j];
      if (d === '\\' && text[j + 1] === '"') {
        value += text.slice(chunk, j) + '"';
        j += 2;
        chunk = j;
        continue;
      }
      if (d === '"') {
        value += text.slice(chunk, j);
        push('string', start, j + 1, value);
        return j + 1;
      }
      if (d === '\0') {
        invalid(j, j + 1, 'NUL in a string', 'a string may not contain a NUL byte; remove it');
      }
      j++;
    }
    diagnostics.error('TH_ERR_LIGHTTPD_UNTERMINATED_STRING', source, start, start + 1);
    return n;
  }
}
