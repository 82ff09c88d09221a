// The python webservice, in the layout Toolforge documents: the WSGI callable `app` of
// ~/www/python/src/app.py, served by Debian's uWSGI (the Python 3 plugin), with the virtualenv
// ~/www/python/venv when there is one and the maintainer's settings from ~/www/python/uwsgi.ini.
// Toolforge mounts the app at /<tool> with manage-script-name, so the app sees SCRIPT_NAME=/<tool>
// for /<tool>/... and the whole path for <tool>.<domain>; toolhost does the same.
//
// Everything here reads the tool's files as the tool: it runs in the tool's supervisor, or in
// `webservice` after root has dropped to the tool (src/cli/as-tool.ts). Root never gets here.
import { accessSync, constants, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';

export const PYTHON_DIR = 'www/python';
const UWSGI_CANDIDATES = ['/usr/bin/uwsgi', '/usr/local/bin/uwsgi'];
const PYTHON3_PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';
/** Toolforge's worker count; uwsgi.ini may set its own (`workers =` / `processes =`) */
const DEFAULT_WORKERS = 4;
/** the access log in the format lighttpd writes (combined), so `webservice logs --access` reads it */
const ACCESS_LOG_FORMAT = '%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(rsize) "%(referer)" "%(uagent)"';

/**
 * uwsgi.ini keys toolhost decides: sockets (every server gets a free port of its own, so a
 * replacement can start beside the running one), detaching (the supervisor must see its server
 * exit), and identity (the server runs as the tool already).
 */
const PLATFORM_KEYS = new Set([
  'socket',
  'uwsgi-socket',
  'http-socket',
  'http11-socket',
  'https-socket',
  'ssl-socket',
  'fastcgi-socket',
  'scgi-socket',
  'raw-socket',
  'shared-socket',
  'http',
  'https',
  'daemonize',
  'daemonize2',
  'uid',
  'gid',
  'chroot',
]);

export interface PythonPaths {
  readonly src: string;
  readonly app: string;
  readonly venv: string;
  readonly ini: string;
}

export function pythonPaths(home: string): PythonPaths {
  const dir = path.join(home, PYTHON_DIR);
  return { src: path.join(dir, 'src'), app: path.join(dir, 'src', 'app.py'), venv: path.join(dir, 'venv'), ini: path.join(dir, 'uwsgi.ini') };
}

export function findUwsgi(env: Readonly<Record<string, string | undefined>>): string | null {
  const candidates = env.TOOLHOST_UWSGI ? [env.TOOLHOST_UWSGI] : UWSGI_CANDIDATES;
  return candidates.find((p) => isExecutable(p)) ?? null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** the Python version Debian's uWSGI plugin embeds ("3.11"), from the plugin alternative's name */
export function uwsgiPythonVersion(plugin = PYTHON3_PLUGIN): string | null {
  try {
    const m = /python(\d)(\d+)_plugin\.so$/.exec(realpathSync(plugin));
    return m ? `${m[1]}.${m[2]}` : null;
  } catch {
    return null;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** the keys of uwsgi.ini's [uwsgi] section that toolhost decides, as "line N: key" */
export function platformKeysIn(text: string): string[] {
  const found: string[] = [];
  let section: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      section = (header[1] as string).trim();
      return;
    }
    if (section !== 'uwsgi') return;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().toLowerCase().replace(/_/g, '-');
    if (PLATFORM_KEYS.has(key)) found.push(`line ${i + 1}: ${key}`);
  });
  return found;
}

/** the virtualenv's problem, or null (also null when there is none: uWSGI's own Python serves) */
function venvProblem(venv: string, pluginVersion: string | null): ToolhostError | null {
  try {
    lstatSync(venv);
  } catch {
    return null;
  }
  let st;
  try {
    st = statSync(venv);
  } catch (err) {
    return new ToolhostError('TH_ERR_PYTHON_VENV_INVALID', `it cannot be opened (${errnoOf(err)})`);
  }
  if (!st.isDirectory()) return new ToolhostError('TH_ERR_PYTHON_VENV_INVALID', 'it is not a directory');
  let cfg: string;
  try {
    cfg = readFileSync(path.join(venv, 'pyvenv.cfg'), 'utf8');
  } catch (err) {
    // a virtualenv from before pyvenv.cfg (virtualenv < 20) still works with uWSGI's --venv
    if (errnoOf(err) === 'ENOENT') return null;
    return new ToolhostError('TH_ERR_PYTHON_VENV_INVALID', `cannot read its pyvenv.cfg (${errnoOf(err)})`);
  }
  const made = /^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)/m.exec(cfg);
  const version = made ? `${made[1]}.${made[2]}` : null;
  if (version && pluginVersion && version !== pluginVersion) {
    return new ToolhostError('TH_ERR_PYTHON_VENV_INVALID', `it was made with Python ${version}, and uWSGI here runs Python ${pluginVersion}`);
  }
  return null;
}

/** what keeps a python webservice from starting, or null */
export function pythonProblem(tool: Tool, env: Readonly<Record<string, string | undefined>>): ToolhostError | null {
  const p = pythonPaths(tool.home);
  const uwsgi = findUwsgi(env);
  if (!uwsgi) return new ToolhostError('TH_ERR_UWSGI_NOT_INSTALLED', env.TOOLHOST_UWSGI ? `no ${env.TOOLHOST_UWSGI}` : `no ${UWSGI_CANDIDATES.join(' or ')}`);
  if (!isFile(PYTHON3_PLUGIN)) return new ToolhostError('TH_ERR_UWSGI_NOT_INSTALLED', `no ${PYTHON3_PLUGIN}`);
  try {
    if (!statSync(p.app).isFile()) return new ToolhostError('TH_ERR_PYTHON_APP_MISSING', '~/www/python/src/app.py', 'it is not a file');
  } catch (err) {
    return new ToolhostError('TH_ERR_PYTHON_APP_MISSING', '~/www/python/src/app.py', errnoOf(err) === 'ENOENT' ? 'missing' : errnoOf(err));
  }
  const venv = venvProblem(p.venv, uwsgiPythonVersion());
  if (venv) return venv;
  let ini: string | null = null;
  try {
    ini = readFileSync(p.ini, 'utf8');
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') return new ToolhostError('TH_ERR_FILE_UNREADABLE', '~/www/python/uwsgi.ini', errnoOf(err));
  }
  const keys = ini === null ? [] : platformKeysIn(ini);
  if (keys.length) return new ToolhostError('TH_ERR_UWSGI_INI_PLATFORM_KEY', keys.join(', '));
  return null;
}

export interface PythonLaunch {
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
}

/** the uWSGI command line for this port (call pythonProblem first) */
export function pythonLaunch(tool: Tool, bind: string, port: number | string, env: Readonly<Record<string, string | undefined>>, accessLog: string): PythonLaunch {
  const p = pythonPaths(tool.home);
  const host = bind.includes(':') ? `[${bind}]` : bind;
  const args = [
    // Debian builds the Python 3 support and the file request logger (below) as plugins
    '--plugin',
    'python3,logfile',
    '--http-socket',
    `${host}:${port}`,
    '--chdir',
    p.src,
    '--callable',
    'app',
    '--manage-script-name',
    '--mount',
    `/${tool.name}=${p.app}`,
    '--master',
    '--workers',
    String(DEFAULT_WORKERS),
    // SIGTERM stops it (uWSGI's own default is a reload)
    '--die-on-term',
    // an unknown option in uwsgi.ini is an error, not silently nothing
    '--strict',
    // an app that does not import makes uWSGI exit: a replacement that fails keeps the old one serving
    '--need-app',
    '--req-logger',
    `file:${accessLog}`,
    '--log-format',
    ACCESS_LOG_FORMAT,
  ];
  if (exists(p.venv)) args.push('--venv', p.venv);
  // the maintainer's settings last, so they win over the defaults above (as on Toolforge)
  if (exists(p.ini)) args.push('--ini', p.ini);
  return { command: findUwsgi(env) ?? UWSGI_CANDIDATES[0] as string, args, cwd: p.src };
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
