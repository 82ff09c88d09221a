// The real lighttpd as the last word on a configuration: `lighttpd -tt` (the same checks a
// start makes, modules loaded) and `lighttpd -p`. Its error lines name the merged file; a line
// map from the renderer turns them back into the maintainer's file and line, and a module it
// cannot load becomes the module, its Debian package and the line asking for it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { missingModule, missingModuleText, moduleOfDlopenFailure, type MissingModule, type ModuleCause } from './lighttpd-modules.js';
import type { LineOrigin } from './render.js';

export const LIGHTTPD_CANDIDATES = ['/usr/sbin/lighttpd', '/usr/local/sbin/lighttpd', '/usr/bin/lighttpd'];

export function findLighttpd(env: Readonly<Record<string, string | undefined>> = process.env): string | null {
  if (env.TOOLHOST_LIGHTTPD) return existsSync(env.TOOLHOST_LIGHTTPD) ? env.TOOLHOST_LIGHTTPD : null;
  return LIGHTTPD_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export interface LighttpdMessage {
  /** the message without lighttpd's timestamp and (file.c.N) prefix */
  readonly text: string;
  /** where it points in the checked file, when lighttpd says */
  readonly line: number | null;
  /** the same place in the file it came from, when a line map knows */
  readonly origin: LineOrigin | null;
  readonly fatal: boolean;
  /** a module lighttpd could not load (the text says which, and which package provides it) */
  readonly missingModule: MissingModule | null;
}

export interface LighttpdCheck {
  readonly ok: boolean;
  readonly status: number | null;
  readonly messages: readonly LighttpdMessage[];
}

const PREFIX = /^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: )?(?:\([\w.-]+\.c\.\d+\) )?/;
const SOURCE_LINE = /source: (.+?) line: (\d+) pos: (\d+)/;
const KEY_IN_MESSAGE = /(?:for key:|config-key:|variable:)\s*([\w.-]+)/;
/** follows the dlopen() failure of the module lighttpd cannot do without, and says no more */
const PLUGINS_FAILED = 'loading plugins finally failed';

function keyLine(mergedText: string, key: string): number | null {
  const lines = mergedText.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = (lines[i] as string).trimStart();
    if (l.toLowerCase().startsWith(key.toLowerCase()) && /^\S+\s*(=|\+=|:=)/.test(l)) return i + 1;
  }
  return null;
}

export function runLighttpdCheck(
  binary: string,
  file: string,
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    lineMap?: readonly (LineOrigin | null)[];
    mergedText?: string;
    /** the statements that make lighttpd load each module (moduleCauses), to point at a missing one */
    moduleCauses?: readonly ModuleCause[];
  } = {},
): LighttpdCheck {
  const r = spawnSync(binary, ['-tt', '-f', file], {
    encoding: 'utf8',
    env: options.env ?? process.env,
    cwd: options.cwd,
    timeout: 30_000,
  });
  const out = `${r.stderr ?? ''}${r.stdout ?? ''}`;
  const texts = out
    .split('\n')
    .map((raw) => raw.replace(PREFIX, '').trim())
    .filter((text) => text && text !== 'Syntax OK');
  const messages: LighttpdMessage[] = [];
  texts.forEach((text, i) => {
    if (text === PLUGINS_FAILED && i > 0 && moduleOfDlopenFailure(texts[i - 1] as string)) return;
    const module = moduleOfDlopenFailure(text);
    if (module) {
      // lighttpd stops at the first module it cannot do without; it skips the others (mod_deflate)
      const missing = missingModule(module, options.moduleCauses ?? [], r.status !== 0 && texts[i + 1] === PLUGINS_FAILED);
      messages.push({ text: missingModuleText(missing), line: null, origin: missing.cause?.at ?? null, fatal: missing.fatal, missingModule: missing });
      return;
    }
    let line: number | null = null;
    const m = SOURCE_LINE.exec(text);
    if (m) line = Number(m[2]);
    else if (options.mergedText) {
      const k = KEY_IN_MESSAGE.exec(text);
      if (k) line = keyLine(options.mergedText, k[1] as string);
    }
    const origin = line !== null && options.lineMap ? nearestOrigin(options.lineMap, line) : null;
    const fatal = r.status !== 0 && !/^WARNING|^Warning|DEPRECATED/.test(text);
    messages.push({ text, line, origin, fatal, missingModule: null });
  });
  return { ok: r.status === 0, status: r.status, messages };
}

/**
 * lighttpd reports a statement's error at the first token after it (one token of look-ahead),
 * often the next line: walk back to the nearest line that has an origin.
 */
function nearestOrigin(map: readonly (LineOrigin | null)[], line: number): LineOrigin | null {
  for (let i = Math.min(line, map.length) - 1; i >= 0; i--) {
    const o = map[i];
    if (o) return o;
  }
  return null;
}
