// lighttpd's loadable modules and the Debian packages that ship them, so that a configuration
// naming a module this host lacks is answered with the module, the package to install and the
// maintainer's line that asked for it, never with lighttpd's dlopen() line (#14).
import { formatMessage, ToolhostError } from '../errors.js';
import type { Evaluated } from './evaluate.js';
import type { LineOrigin } from './render.js';
import { positionOf } from './source.js';
import { foldKey } from './values.js';

/**
 * Debian 12's lighttpd 1.4.69: the package of each module it ships apart from the lighttpd
 * package (each declares `Provides: lighttpd-mod-NAME`; `apt-cache show` lists them). bin/setup
 * installs the two that Debian recommends with lighttpd, lighttpd-mod-deflate and
 * lighttpd-mod-openssl (docs/reference/lighttpd-config.md).
 */
const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  mod_authn_gssapi: 'lighttpd-mod-authn-gssapi',
  mod_authn_pam: 'lighttpd-mod-authn-pam',
  mod_authn_sasl: 'lighttpd-mod-authn-sasl',
  mod_deflate: 'lighttpd-mod-deflate',
  mod_gnutls: 'lighttpd-mod-gnutls',
  mod_maxminddb: 'lighttpd-mod-maxminddb',
  mod_mbedtls: 'lighttpd-mod-mbedtls',
  mod_nss: 'lighttpd-mod-nss',
  mod_openssl: 'lighttpd-mod-openssl',
  mod_vhostdb_pgsql: 'lighttpd-mod-vhostdb-pgsql',
  mod_webdav: 'lighttpd-mod-webdav',
  mod_wolfssl: 'lighttpd-mod-wolfssl',
  mod_authn_dbi: 'lighttpd-modules-dbi',
  mod_vhostdb_dbi: 'lighttpd-modules-dbi',
  mod_authn_ldap: 'lighttpd-modules-ldap',
  mod_vhostdb_ldap: 'lighttpd-modules-ldap',
  mod_magnet: 'lighttpd-modules-lua',
  mod_vhostdb_mysql: 'lighttpd-modules-mysql',
};

/** the modules the lighttpd package itself ships in /usr/lib/lighttpd (the others are built in) */
const IN_LIGHTTPD_PACKAGE: ReadonlySet<string> = new Set([
  'mod_accesslog',
  'mod_ajp13',
  'mod_auth',
  'mod_authn_file',
  'mod_cgi',
  'mod_dirlisting',
  'mod_extforward',
  'mod_proxy',
  'mod_rrdtool',
  'mod_sockproxy',
  'mod_ssi',
  'mod_status',
  'mod_userdir',
  'mod_vhostdb',
  'mod_wstunnel',
]);

/** the Debian package that ships MODULE, or null when none does */
export function debianPackageOf(module: string): string | null {
  if (IN_LIGHTTPD_PACKAGE.has(module)) return 'lighttpd';
  return DEBIAN_PACKAGES[module] ?? null;
}

/** what makes lighttpd load a module: an entry of server.modules, or a key of a module lighttpd loads by itself */
export interface ModuleCause {
  readonly module: string;
  /** `server.modules`, or the key (`ssl.read-ahead`) */
  readonly by: string;
  readonly at: LineOrigin;
}

/**
 * Keys that make lighttpd load a module nobody listed: any ssl.* loads mod_openssl (with a
 * warning), and mod_compress is mod_deflate under its old name.
 */
const LOADED_BY_KEY: readonly (readonly [prefix: string, module: string])[] = [
  ['ssl.', 'mod_openssl'],
  ['deflate.', 'mod_deflate'],
  ['compress.', 'mod_deflate'],
];
const RENAMED: Readonly<Record<string, string>> = { mod_compress: 'mod_deflate' };

/** every statement of an evaluated file (its includes too) that makes lighttpd load a module, in order */
export function moduleCauses(evaluated: Evaluated): ModuleCause[] {
  const causes: ModuleCause[] = [];
  for (const [stmt, applied] of evaluated.assignments) {
    const at: LineOrigin = { file: applied.source.name, line: positionOf(applied.source, stmt.start).line, origin: applied.source.origin };
    const key = foldKey(applied.key);
    if (key === 'server.modules' && applied.value.type === 'array') {
      for (const e of applied.value.entries) {
        if (e.value.type !== 'string') continue;
        causes.push({ module: e.value.value, by: 'server.modules', at });
        const renamed = RENAMED[e.value.value];
        if (renamed) causes.push({ module: renamed, by: `server.modules ("${e.value.value}")`, at });
      }
      continue;
    }
    const loaded = LOADED_BY_KEY.find(([prefix]) => key.startsWith(prefix));
    if (loaded) causes.push({ module: loaded[1], by: applied.key, at });
  }
  return causes;
}

/** a module lighttpd could not load, and where the configuration asks for it */
export interface MissingModule {
  readonly module: string;
  readonly debianPackage: string | null;
  /** the maintainer's statement that asks for it (their file's first), else the template's; null if none is known */
  readonly cause: ModuleCause | null;
  /** lighttpd refused to start without it (false: it runs without it, e.g. mod_deflate) */
  readonly fatal: boolean;
}

const DLOPEN_FAILED = /^dlopen\(\) failed for: \S*?\/?(mod_\w+)\.so\b/;

/** the module of lighttpd's `dlopen() failed for: /usr/lib/lighttpd/mod_X.so …` line, else null */
export function moduleOfDlopenFailure(text: string): string | null {
  return DLOPEN_FAILED.exec(text)?.[1] ?? null;
}

export function missingModule(module: string, causes: readonly ModuleCause[], fatal: boolean): MissingModule {
  const mine = causes.filter((c) => c.module === module);
  const cause = mine.find((c) => c.at.origin === 'user') ?? mine[0] ?? null;
  return { module, debianPackage: debianPackageOf(module), cause, fatal };
}

function remedy(m: MissingModule): string {
  if (m.debianPackage === 'lighttpd') return `Debian's lighttpd package ships it: an administrator reinstalls it with "apt-get install --reinstall lighttpd"`;
  if (m.debianPackage) return `Debian's package ${m.debianPackage} provides it: an administrator installs it with "apt-get install ${m.debianPackage}"`;
  return `no Debian package of lighttpd provides ${m.module}: check its name`;
}

/** `file:line: ` of the statement that asks for the module, or '' */
export function placeOf(m: MissingModule): string {
  return m.cause ? `${m.cause.at.file}:${m.cause.at.line}: ` : '';
}

function messageArgs(m: MissingModule, place: string): [place: string, by: string, module: string, remedy: string] {
  return [place, m.cause?.by ?? 'the configuration', m.module, remedy(m)];
}

/**
 * the one line saying so, without its place (lighttpd's messages carry theirs apart); a warning
 * ends with its code, as diagnostics do (an error gets its code where it is thrown)
 */
export function missingModuleText(m: MissingModule): string {
  if (m.fatal) return formatMessage('TH_ERR_LIGHTTPD_MODULE_MISSING', messageArgs(m, ''));
  return `${formatMessage('TH_WARN_LIGHTTPD_MODULE_MISSING', messageArgs(m, ''))} [TH_WARN_LIGHTTPD_MODULE_MISSING]`;
}

/** TH_ERR_LIGHTTPD_MODULE_MISSING at PLACE (`file:line: `; by default the statement asking for the module) */
export function missingModuleError(m: MissingModule, place = placeOf(m)): ToolhostError {
  return new ToolhostError('TH_ERR_LIGHTTPD_MODULE_MISSING', ...messageArgs(m, place));
}
