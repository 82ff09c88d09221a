// `webservice [--tool NAME --home DIR] [TYPE] ACTION`: what a tool maintainer runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { findLighttpd, formatDiagnostic, runLighttpdCheck } from '../lighttpd/index.js';
import { buildLighttpdConfig, resolveTool, runtimeDirectory, type LighttpdType } from '../webservice/index.js';
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';

const TYPES: readonly LighttpdType[] = ['lighttpd', 'lighttpd-plain'];
const ACTIONS = ['config'] as const;
type Action = (typeof ACTIONS)[number];

interface GlobalOptions {
  tool?: string;
  home?: string;
  check?: boolean;
}

function parsePositionals(args: string[]): { type: LighttpdType; action: Action } {
  const [first, second, ...rest] = args;
  if (rest.length) throw new ToolhostError('TH_ERR_USAGE', `unexpected arguments: ${rest.join(' ')}; usage: webservice [TYPE] ACTION`);
  const typeWord = second === undefined ? undefined : first;
  const actionWord = second === undefined ? first : second;
  if (actionWord === undefined) throw new ToolhostError('TH_ERR_USAGE', `missing ACTION; usage: webservice [TYPE] ${ACTIONS.join('|')}`);
  if (!(ACTIONS as readonly string[]).includes(actionWord)) {
    throw new ToolhostError('TH_ERR_USAGE', `unknown action "${actionWord}"; this version knows: ${ACTIONS.join(', ')}`);
  }
  if (typeWord !== undefined && !(TYPES as readonly string[]).includes(typeWord)) {
    throw new ToolhostError('TH_ERR_USAGE', `unknown webservice type "${typeWord}"; choose one of: ${TYPES.join(', ')}`);
  }
  return { type: (typeWord as LighttpdType | undefined) ?? 'lighttpd', action: actionWord as Action };
}

function config(type: LighttpdType, opts: GlobalOptions, io: CliIo): number {
  const tool = resolveTool({ tool: opts.tool, home: opts.home, env: io.env, cwd: io.cwd });
  const runtimeDir = runtimeDirectory(tool, io.env);
  const asAccount = process.getuid?.() === 0 && tool.account !== null;
  const built = buildLighttpdConfig({ tool, type, port: 0, bind: '127.0.0.1', runtimeDir, asAccount, env: io.env });
  let errors = 0;
  for (const d of built.diagnostics) {
    io.err(`${formatDiagnostic(d)}\n`);
    if (d.severity === 'error') errors++;
  }
  if (!built.ok) throw new ToolhostError('TH_ERR_LIGHTTPD_CONFIG_INVALID', built.userFile ?? 'the configuration', errors);
  for (const o of built.overrides) {
    const what = o.arrayKey === null ? o.key : `${o.key} entry "${o.arrayKey}"`;
    const scope = o.scope === 'global' ? '' : ` in ${o.scope}`;
    io.err(`${o.user.file}:${o.user.line}: replaces the default ${what}${scope}\n`);
  }
  io.out(built.text);
  if (!opts.check) return 0;
  const binary = findLighttpd(io.env);
  if (!binary) throw new ToolhostError('TH_ERR_LIGHTTPD_NOT_INSTALLED', 'needed by --check');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'toolhost-check-'));
  try {
    const file = path.join(dir, 'lighttpd.conf');
    writeFileSync(file, built.text);
    const result = runLighttpdCheck(binary, file, {
      env: built.env as NodeJS.ProcessEnv,
      cwd: tool.home,
      lineMap: built.lineMap,
      mergedText: built.text,
    });
    for (const m of result.messages) {
      const at = m.origin ? `${m.origin.origin === 'user' ? m.origin.file : 'toolhost template'}:${m.origin.line}: ` : '';
      io.err(`${at}lighttpd: ${m.text}\n`);
    }
    if (!result.ok) {
      const first = result.messages.find((m) => m.fatal) ?? result.messages[0];
      const at = first?.origin ? `${first.origin.file}:${first.origin.line}: ` : '';
      throw new ToolhostError('TH_ERR_LIGHTTPD_REJECTED', `${at}${first?.text ?? `exit status ${result.status}`}`);
    }
    io.err('lighttpd -tt: Syntax OK\n');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function webservice(argv: readonly string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = newProgram('webservice', 'run and inspect your tool\'s web server', io);
  program
    .argument('[words...]', `[TYPE] ACTION; TYPE: ${TYPES.join(', ')}; ACTION: ${ACTIONS.join(', ')}`)
    .option('--tool <name>', 'the tool, when not run in its tool account (or TOOLHOST_TOOL)')
    .option('--home <dir>', 'the tool\'s home directory (or TOOLHOST_HOME)')
    .option('--check', 'config: also check the merged configuration with the real lighttpd -tt')
    .action((words: string[], opts: GlobalOptions) => {
      const { type, action } = parsePositionals(words);
      switch (action) {
        case 'config':
          exit = config(type, opts, io);
          break;
      }
    });
  const parsed = await runProgram(program, argv);
  return parsed ?? exit;
}
