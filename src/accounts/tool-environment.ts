// The environment every process of a tool starts with (supervisor, servers, jobs), whoever
// starts it: built from nothing, never inherited, so root's variables (its Redis URL, tokens,
// SSH agent) never reach a tool, and a tool runs the same whether its maintainer or root's
// monitor started it. Only the variables listed here pass from the caller.
import path from 'node:path';
import type { Tool } from './tool-account.js';

/** toolhost settings a tool's processes honour; nothing else of the caller's passes */
export const PASSED_VARIABLES = [
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TOOLHOST_RUNTIME_DIR',
  'TOOLHOST_REGISTRAR_DIR',
  'TOOLHOST_STATE_DIR',
  'TOOLHOST_START_TIMEOUT',
  'TOOLHOST_LIVENESS_MS',
  'TOOLHOST_LIGHTTPD',
  'TOOLHOST_UWSGI',
  'TOOLHOST_NPM',
  'TOOLHOST_LOG_MAX_BYTES',
  'TOOLHOST_LOG_KEEP',
  // the operator's Slurm settings file (issue 15): a tool submits its Slurm jobs itself
  'TOOLHOST_SLURM_SETTINGS',
] as const;

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function toolProcessEnvironment(tool: Tool, caller: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const nodeDir = path.dirname(process.execPath);
  const env: Record<string, string> = {
    PATH: (SYSTEM_PATH.includes(nodeDir) ? SYSTEM_PATH : [nodeDir, ...SYSTEM_PATH]).join(':'),
    HOME: tool.home,
    USER: tool.account?.user ?? tool.name,
    LOGNAME: tool.account?.user ?? tool.name,
    SHELL: '/bin/sh',
    TOOLHOST_TOOL: tool.name,
    TOOLHOST_HOME: tool.home,
  };
  for (const name of PASSED_VARIABLES) {
    const v = caller[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}
