// Which code a configuration check's outcome is reported under, decided here once, so that
// `toolhost lighttpd check`, `webservice config --check`, `webservice start`, restart and the
// supervisor's reload say the same thing of the same file (#14):
//   lighttpd is not there                  → TH_ERR_LIGHTTPD_NOT_INSTALLED
//   toolhost's own parser refused the file → TH_ERR_LIGHTTPD_CONFIG_INVALID (the diagnostics above it)
//   lighttpd -tt cannot load a module      → TH_ERR_LIGHTTPD_MODULE_MISSING
//   lighttpd -tt refused it otherwise      → TH_ERR_LIGHTTPD_REJECTED
// Every caller checks in that order: toolhost's checks first (they need no lighttpd), then the
// binary, then lighttpd -tt.
import { ToolhostError } from '../errors.js';
import type { Diagnostic } from './diagnostics.js';
import { LIGHTTPD_CANDIDATES, type LighttpdCheck, type LighttpdMessage } from './lighttpd-binary.js';
import { missingModuleError } from './lighttpd-modules.js';

export type CheckOutcome =
  /** toolhost's lexer, parser and evaluator on FILE (the name the maintainer knows it by) */
  | { readonly stage: 'toolhost'; readonly file: string; readonly diagnostics: readonly Diagnostic[] }
  /** findLighttpd's answer in this environment */
  | { readonly stage: 'binary'; readonly binary: string | null; readonly env: Readonly<Record<string, string | undefined>> }
  /** lighttpd -tt's answer; PLACE prefixes a message with where it points (`file:line: `) */
  | { readonly stage: 'lighttpd'; readonly result: LighttpdCheck; readonly place: (m: LighttpdMessage) => string };

/** the coded error this outcome is reported under, or null when the stage passed */
export function checkError(outcome: CheckOutcome): ToolhostError | null {
  switch (outcome.stage) {
    case 'toolhost': {
      const errors = outcome.diagnostics.filter((d) => d.severity === 'error');
      if (!errors.length) return null;
      // the diagnostics are the "positions above": each caller prints them where it reports
      return new ToolhostError('TH_ERR_LIGHTTPD_CONFIG_INVALID', outcome.file, errors.length);
    }
    case 'binary': {
      if (outcome.binary) return null;
      const chosen = outcome.env.TOOLHOST_LIGHTTPD;
      return new ToolhostError('TH_ERR_LIGHTTPD_NOT_INSTALLED', chosen ? `TOOLHOST_LIGHTTPD names ${chosen}, which does not exist` : `none of ${LIGHTTPD_CANDIDATES.join(', ')} exists`);
    }
    case 'lighttpd': {
      const { result, place } = outcome;
      if (result.ok) return null;
      const first = firstFailure(result);
      if (first?.missingModule) return missingModuleError(first.missingModule, place(first));
      return new ToolhostError('TH_ERR_LIGHTTPD_REJECTED', first ? `${place(first)}${first.text}` : `lighttpd -tt ended with exit status ${result.status ?? 'none (killed)'}`);
    }
  }
}

/** the message lighttpd refused the file for: its first fatal one */
export function firstFailure(result: LighttpdCheck): LighttpdMessage | undefined {
  return result.ok ? undefined : (result.messages.find((m) => m.fatal) ?? result.messages[0]);
}
