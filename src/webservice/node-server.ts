// The node webservice, in the layout Toolforge documents: `npm start` in ~/www/js, with the port
// in PORT. Toolforge's example server calls `app.listen(process.env.PORT)`, which Node binds to
// `::`; the node registrar routes only a socket it can prove takes the node's address, so the
// server is started with a preloaded module (node-listen-preload.ts) that binds a listen() given
// a port and no host to HOST, the node's address. A server that names its host keeps it.
//
// Everything here reads the tool's files as the tool: it runs in the tool's supervisor, or in
// `webservice` after root has dropped to the tool (src/cli/as-tool.ts). Root never gets here.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Tool } from '../accounts/index.js';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';

export const NODE_DIR = 'www/js';
/** the compiled preload, whether this code runs compiled or from src/ */
const LISTEN_PRELOAD = path.join(PACKAGE_ROOT, '.build', 'webservice', 'node-listen-preload.js');

function npmCandidates(): string[] {
  // the npm of the Node that runs toolhost first: tools' PATH starts with its directory too
  return [...new Set([path.join(path.dirname(process.execPath), 'npm'), '/usr/local/bin/npm', '/usr/bin/npm'])];
}

export function findNpm(env: Readonly<Record<string, string | undefined>>): string | null {
  const candidates = env.TOOLHOST_NPM ? [env.TOOLHOST_NPM] : npmCandidates();
  return (
    candidates.find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }) ?? null
  );
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** what keeps a node webservice from starting, or null */
export function nodeProblem(tool: Tool, env: Readonly<Record<string, string | undefined>>): ToolhostError | null {
  if (!findNpm(env)) return new ToolhostError('TH_ERR_NPM_NOT_INSTALLED', env.TOOLHOST_NPM ?? npmCandidates().join(', '));
  const dir = path.join(tool.home, NODE_DIR);
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'package.json'), 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return new ToolhostError('TH_ERR_NODE_APP_MISSING', '~/www/js/package.json', 'missing');
    return new ToolhostError('TH_ERR_NODE_PACKAGE_INVALID', `cannot read it (${errnoOf(err)})`);
  }
  let pkg: unknown;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    return new ToolhostError('TH_ERR_NODE_PACKAGE_INVALID', `it is not JSON (${(err as Error).message})`);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) return new ToolhostError('TH_ERR_NODE_PACKAGE_INVALID', 'it is not a JSON object');
  const scripts = (pkg as { scripts?: unknown }).scripts;
  const start = typeof scripts === 'object' && scripts !== null ? (scripts as Record<string, unknown>).start : undefined;
  if (typeof start === 'string' && start.trim() !== '') return null;
  // npm's own default: with no start script, `npm start` runs `node server.js`
  try {
    if (statSync(path.join(dir, 'server.js')).isFile()) return null;
  } catch {
    // neither
  }
  return new ToolhostError('TH_ERR_NODE_PACKAGE_INVALID', 'it has no "start" script and there is no server.js; add "scripts": { "start": "node server.js" }');
}

export interface NodeLaunch {
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  /** added to the tool's environment */
  readonly env: Record<string, string>;
}

/** `npm start` in ~/www/js for this port (call nodeProblem first) */
export function nodeLaunch(tool: Tool, bind: string, port: number | string, env: Readonly<Record<string, string | undefined>>): NodeLaunch {
  return {
    command: findNpm(env) ?? 'npm',
    args: ['start'],
    cwd: path.join(tool.home, NODE_DIR),
    env: {
      PORT: String(port),
      HOST: bind,
      // a file URL has no spaces (they are %20), so NODE_OPTIONS needs no quoting
      NODE_OPTIONS: `--import=${pathToFileURL(LISTEN_PRELOAD).href}`,
      // a server start asks the npm registry nothing
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
  };
}
