// A tool's lighttpd configuration: toolhost's template filled for the tool, merged with its
// ~/.lighttpd.conf, evaluated in the tool's environment (env.HOME is the tool's home).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { fillTemplate, makeSource, mergeConfig, nodeHost, type LighttpdMessage, type MergeResult } from '../lighttpd/index.js';
import { templatePath } from '../package-files.js';
import type { Tool } from '../accounts/index.js';

export type LighttpdType = 'lighttpd' | 'lighttpd-plain';

export const PHP_CGI = '/usr/bin/php-cgi';
export const USER_CONFIG_NAME = '.lighttpd.conf';

export interface LighttpdConfigOptions {
  readonly tool: Tool;
  readonly type: LighttpdType;
  readonly port: number;
  readonly bind: string;
  readonly runtimeDir: string;
  /** run as the tool's unix account (only when started as root and the account exists) */
  readonly asAccount: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** defaults to the template shipped in templates/ */
  readonly templateText?: string;
}

export interface ToolLighttpdConfig extends MergeResult {
  /** the maintainer's file, when there is one */
  readonly userFile: string | null;
  /** the environment lighttpd must run with for the config to mean the same */
  readonly env: Record<string, string | undefined>;
}

export function toolEnvironment(tool: Tool, base: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base, HOME: tool.home, TOOLHOST_TOOL: tool.name };
  if (tool.account) {
    env.USER = tool.account.user;
    env.LOGNAME = tool.account.user;
  }
  return env;
}

export function buildLighttpdConfig(o: LighttpdConfigOptions): ToolLighttpdConfig {
  const file = templatePath('lighttpd.conf');
  let templateText = o.templateText;
  if (templateText === undefined) {
    try {
      templateText = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ToolhostError('TH_ERR_FILE_UNREADABLE', file, (err as Error).message);
    }
  }
  const flags = new Set<string>();
  if (o.type === 'lighttpd' && existsSync(PHP_CGI)) flags.add('php');
  if (o.asAccount && o.tool.account) flags.add('account');
  const filled = fillTemplate(
    templateText,
    {
      PORT: o.port,
      BIND: o.bind,
      HOME: o.tool.home,
      RUNTIME: o.runtimeDir,
      TOOL: o.tool.name,
      USER: o.tool.account?.user ?? '',
      GROUP: o.tool.account?.group ?? '',
    },
    flags,
  );
  const userFile = path.join(o.tool.home, USER_CONFIG_NAME);
  let userText: string | null = null;
  if (existsSync(userFile)) {
    try {
      userText = readFileSync(userFile, 'utf8');
    } catch (err) {
      throw new ToolhostError('TH_ERR_FILE_UNREADABLE', userFile, (err as Error).message);
    }
  }
  const env = toolEnvironment(o.tool, o.env);
  const result = mergeConfig({
    template: makeSource('toolhost template', filled.text, { origin: 'template' }),
    afterUserOffset: filled.afterUserOffset,
    user: userText === null ? null : makeSource(`~/${USER_CONFIG_NAME}`, userText, { path: userFile }),
    host: nodeHost({ env, cwd: o.tool.home }),
    basedir: o.tool.home,
  });
  return { ...result, userFile: userText === null ? null : userFile, env };
}

/** lighttpd -tt's message prefixed with the place in the maintainer's file (or the template) it points at */
export function placeInConfig(m: LighttpdMessage): string {
  return m.origin ? `${m.origin.origin === 'user' ? m.origin.file : 'toolhost template'}:${m.origin.line}: ` : '';
}
