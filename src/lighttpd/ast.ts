// The syntax tree of one lighttpd configuration file. Every node keeps its source and the
// offsets of its first and last character, so diagnostics and the renderer can quote it.
import type { Token } from './lexer.js';
import type { SourceFile } from './source.js';

export interface Range {
  readonly start: number;
  readonly end: number;
}

export type AssignOp = '=' | ':=' | '+=';
export type CondOp = '==' | '!=' | '=~' | '!~' | '=^' | '=$';

export interface StringLiteral extends Range {
  readonly kind: 'string';
  readonly value: string;
}
export interface IntegerLiteral extends Range {
  readonly kind: 'integer';
  readonly text: string;
}
export interface Reference extends Range {
  readonly kind: 'ref';
  readonly name: string;
}
export interface ArrayElement extends Range {
  readonly key: Expression | null;
  readonly value: Expression;
}
export interface ArrayLiteral extends Range {
  readonly kind: 'array';
  readonly elements: ArrayElement[];
}
export type Operand = StringLiteral | IntegerLiteral | Reference | ArrayLiteral;

/** operands joined by `+`, evaluated left to right */
export interface Expression extends Range {
  readonly kind: 'expr';
  readonly operands: Operand[];
}

export interface Assignment extends Range {
  readonly kind: 'assign';
  readonly op: AssignOp;
  readonly key: Token;
  readonly value: Expression;
}

export interface Condition extends Range {
  readonly kind: 'condition';
  /** HTTP, SERVER or REQUEST_HEADER */
  readonly object: Token;
  /** the field in brackets, e.g. "url" */
  readonly field: Token;
  readonly op: CondOp;
  readonly opToken: Token;
  readonly pattern: Expression;
  /** offset of the `{` */
  readonly bodyStart: number;
  readonly body: Statement[];
}

export interface ElseBlock extends Range {
  readonly kind: 'else';
  readonly body: Statement[];
}

/** `cond { } else cond { } else { }` */
export interface ConditionChain extends Range {
  readonly kind: 'chain';
  readonly branches: (Condition | ElseBlock)[];
}

export interface GlobalBlock extends Range {
  readonly kind: 'global';
  readonly body: Statement[];
}

export interface Include extends Range {
  readonly kind: 'include' | 'include_shell';
  readonly path: Expression;
}

export type Statement = Assignment | ConditionChain | GlobalBlock | Include;

export interface ConfigFile {
  readonly source: SourceFile;
  readonly statements: Statement[];
}
