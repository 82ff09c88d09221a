// The lighttpd configuration engine: lexer -> parser -> evaluate -> merge -> render.
export type * from './ast.js';
export { lex, type Token, type TokenKind } from './lexer.js';
export { parse } from './parser.js';
export { evaluate, type Context, type Evaluated, type EvaluateOptions } from './evaluate.js';
export { printConfig, printValue, printString } from './print.js';
export { nodeHost, type EvalHost } from './host.js';
export { makeSource, positionOf, type SourceFile } from './source.js';
export { DiagnosticList, formatDiagnostic, hasErrors, locationOf, type Diagnostic } from './diagnostics.js';
export type { ConfigValue, ArrayValue, ArrayEntry } from './values.js';
export { mergeConfig, unionModules, type MergeInput, type MergeResult, type Override } from './merge.js';
export type { LineOrigin } from './render.js';
export { fillTemplate, type FilledTemplate } from './template.js';
export { findLighttpd, runLighttpdCheck, type LighttpdCheck, type LighttpdMessage } from './lighttpd-binary.js';
export { PLATFORM_KEYS } from './merge.js';
export { debianPackageOf, missingModuleError, moduleCauses, placeOf, type MissingModule, type ModuleCause } from './lighttpd-modules.js';
export { checkError, firstFailure, type CheckOutcome } from './check-verdict.js';
