// The webservice types toolhost runs, and the names maintainers know them by from Toolforge:
// `webservice python3.11 start`, `webservice node18 start`, `webservice php8.2 start`, and the
// grid's `uwsgi-python` and `nodejs`. One lookup serves the command line and ~/service.manifest,
// so a manifest Toolforge wrote (`web: python3.11`) means the same here.
import { uwsgiPythonVersion } from './python-server.js';

export type WebserviceType = 'lighttpd' | 'lighttpd-plain' | 'generic' | 'python' | 'node';
export const WEBSERVICE_TYPES: readonly WebserviceType[] = ['lighttpd', 'lighttpd-plain', 'generic', 'python', 'node'];

export interface TypeWord {
  readonly type: WebserviceType;
  /** the language version a Toolforge name asked for ("3.11", "18"), or null */
  readonly version: string | null;
}

const ALIASES: readonly { readonly pattern: RegExp; readonly type: WebserviceType }[] = [
  { pattern: /^python(3(?:\.\d+)?)$/, type: 'python' },
  { pattern: /^uwsgi-python()$/, type: 'python' },
  { pattern: /^node(?:js)?(\d*)$/, type: 'node' },
  { pattern: /^php(\d+\.\d+)$/, type: 'lighttpd' },
];

/** the type a word names (a toolhost type or a Toolforge name), or null */
export function webserviceType(word: string): TypeWord | null {
  if ((WEBSERVICE_TYPES as readonly string[]).includes(word)) return { type: word as WebserviceType, version: null };
  for (const a of ALIASES) {
    const m = a.pattern.exec(word);
    if (m) return { type: a.type, version: m[1] || null };
  }
  return null;
}

/** what `--help` and usage errors list */
export const TYPE_WORDS_HELP = `${WEBSERVICE_TYPES.join(', ')} (Toolforge's names too: python3.11, node20, php8.2, ...)`;

/**
 * A note when a Toolforge name asks for a language version this host does not run (toolhost has
 * one Python, the one Debian's uWSGI embeds, and one Node, its own): the type starts with the
 * host's version, and the maintainer is told which.
 */
export function versionNote(word: string, t: TypeWord): string | null {
  if (t.version === null) return null;
  const host = t.type === 'python' ? uwsgiPythonVersion() : t.type === 'node' ? (process.versions.node.split('.')[0] ?? null) : null;
  if (host === null || t.version === host || (t.type === 'python' && t.version === '3' && host.startsWith('3.'))) return null;
  const language = t.type === 'python' ? 'Python' : 'Node.js';
  return `"${word}" asks for ${language} ${t.version}; this host runs ${language} ${host}, so the ${t.type} webservice uses ${host}`;
}
