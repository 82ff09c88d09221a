// `toolhost lighttpd compat DIR`: how a directory of real maintainers' .lighttpd.conf files
// fares with toolhost's merge. For each file, the real lighttpd -tt decides three things:
// the file alone (-t), Toolforge's way (template text + file text), and toolhost's merge.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { fillTemplate, findLighttpd, formatDiagnostic, runLighttpdCheck } from '../lighttpd/index.js';
import { templatePath } from '../package-files.js';
import { buildLighttpdConfig } from '../webservice/lighttpd-config.js';
import type { CliIo } from './io.js';

const TOOL = 'compat-tool';

/**
 * Files that some real configs include from the tool's home (a per-account part of a config
 * kept in a repository). They are created in every temporary home so those configs can load.
 */
const HOME_FIXTURES: Readonly<Record<string, string>> = {
  '.lighttpd.tool.conf': `var.tool-dirname = "${TOOL}"\n`,
};

interface FileResult {
  readonly file: string;
  readonly alone: boolean;
  readonly concatenated: boolean;
  readonly merged: boolean;
  readonly messages: string[];
}

function unprivileged(argv: string[]): string[] {
  // as root lighttpd also checks server.username/groupname against this host's accounts;
  // a maintainer's check runs as the tool, so run it as nobody
  return process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
}

function lighttpdAccepts(binary: string, flag: '-t' | '-tt', file: string, env: NodeJS.ProcessEnv, cwd: string): { ok: boolean; text: string } {
  const [cmd, ...args] = unprivileged([binary, flag, '-f', file]);
  const r = spawnSync(cmd as string, args, { env, cwd, encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, text: `${r.stderr}${r.stdout}`.trim() };
}

export function runCompat(dir: string, io: CliIo, options: { json: boolean; verbose: boolean }): number {
  const binary = findLighttpd(io.env);
  if (!binary) throw new ToolhostError('TH_ERR_LIGHTTPD_NOT_INSTALLED', 'compat compares with the real lighttpd');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.conf')).sort();
  } catch (err) {
    throw new ToolhostError('TH_ERR_FILE_UNREADABLE', dir, (err as Error).message);
  }
  const templateText = readFileSync(templatePath('lighttpd.conf'), 'utf8');
  const results: FileResult[] = [];
  for (const name of files) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'toolhost-compat-'));
    try {
      chmodSync(work, 0o755);
      const home = path.join(work, 'home');
      const runtimeDir = path.join(work, 'run');
      mkdirSync(path.join(home, 'public_html'), { recursive: true });
      mkdirSync(runtimeDir);
      for (const [f, text] of Object.entries(HOME_FIXTURES)) writeFileSync(path.join(home, f), text);
      const userText = readFileSync(path.join(dir, name), 'utf8');
      writeFileSync(path.join(home, '.lighttpd.conf'), userText);
      const env = { ...(io.env as NodeJS.ProcessEnv), HOME: home };
      const messages: string[] = [];

      // a file alone is a fragment (no document-root of its own): -t checks its syntax and semantics
      const alone = lighttpdAccepts(binary, '-t', path.join(home, '.lighttpd.conf'), env, home);
      if (!alone.ok) messages.push(`alone: ${alone.text.split('\n').slice(-2).join(' | ')}`);

      const filled = fillTemplate(templateText, { PORT: 8000, BIND: '127.0.0.1', HOME: home, RUNTIME: runtimeDir, TOOL, USER: '', GROUP: '' }, new Set());
      const concatFile = path.join(work, 'concatenated.conf');
      writeFileSync(concatFile, `${filled.text}\n${userText}`);
      const concatenated = lighttpdAccepts(binary, '-tt', concatFile, env, home);

      const built = buildLighttpdConfig({
        tool: { name: TOOL, home, account: null },
        type: 'lighttpd-plain',
        port: 8000,
        bind: '127.0.0.1',
        runtimeDir,
        asAccount: false,
        env,
      });
      let merged = false;
      if (!built.ok) {
        for (const d of built.diagnostics) if (d.severity === 'error') messages.push(formatDiagnostic(d, { snippet: false }));
      } else {
        const mergedFile = path.join(work, 'merged.conf');
        writeFileSync(mergedFile, built.text);
        const check = runLighttpdCheck(binary, mergedFile, { env, cwd: home, lineMap: built.lineMap, mergedText: built.text });
        merged = check.ok;
        if (!check.ok) {
          for (const m of check.messages) {
            const at = m.origin ? `${m.origin.file}:${m.origin.line}: ` : '';
            messages.push(`merged: ${at}${m.text}`);
          }
        }
      }
      results.push({ file: name, alone: alone.ok, concatenated: concatenated.ok, merged, messages });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  const aloneOk = results.filter((r) => r.alone);
  const mergedOfAlone = aloneOk.filter((r) => r.merged).length;
  const concatOk = results.filter((r) => r.concatenated).length;
  const mergedOk = results.filter((r) => r.merged).length;
  for (const r of results) {
    if (options.json) {
      io.out(`${JSON.stringify(r)}\n`);
      continue;
    }
    const verdict = `${r.alone ? 'alone ok ' : 'alone BAD'}  ${r.concatenated ? 'concat ok ' : 'concat BAD'}  ${r.merged ? 'merged ok ' : 'merged BAD'}`;
    io.out(`${verdict}  ${r.file}\n`);
    const show = options.verbose || (r.alone && !r.merged) || (!r.alone && r.merged === false);
    if (show) for (const m of r.messages) io.out(`    ${m.replace(/\n/g, '\n    ')}\n`);
  }
  const summary = {
    files: results.length,
    acceptedAlone: aloneOk.length,
    acceptedConcatenated: concatOk,
    acceptedMerged: mergedOk,
    mergedOfAcceptedAlone: mergedOfAlone,
  };
  if (options.json) io.out(`${JSON.stringify({ summary })}\n`);
  else {
    io.out(
      `\n${results.length} files: lighttpd accepts ${aloneOk.length} alone; ` +
        `template+file concatenated (Toolforge's way): ${concatOk}; toolhost merge: ${mergedOk} ` +
        `(${mergedOfAlone} of the ${aloneOk.length} accepted alone)\n`,
    );
  }
  return mergedOfAlone === aloneOk.length ? 0 : 1;
}
