// What evaluation needs from the outside world (files, globs, include_shell, environment),
// behind one interface so evaluate.ts stays a pure function of its inputs.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ShellResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly error?: string;
}

export interface EvalHost {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** lighttpd's working directory: var.CWD, and the base of ./ and ../ includes */
  readonly cwd: string;
  readonly pid: number;
  readFile(file: string): string;
  isFile(file: string): boolean;
  /** names in a directory, or [] when it cannot be read */
  listDir(dir: string): string[];
  runShell(command: string, cwd: string): ShellResult;
}

const MAX_SHELL_OUTPUT = 4 * 1024 * 1024;

export function nodeHost(options: { env?: Record<string, string | undefined>; cwd?: string; pid?: number } = {}): EvalHost {
  const env = options.env ?? process.env;
  return {
    env,
    cwd: options.cwd ?? process.cwd(),
    pid: options.pid ?? process.pid,
    readFile: (file) => readFileSync(file, 'utf8'),
    isFile: (file) => {
      try {
        return statSync(file).isFile();
      } catch {
        return false;
      }
    },
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    },
    runShell: (command, cwd) => {
      const shell = env.SHELL && path.isAbsolute(env.SHELL) ? env.SHELL : '/bin/sh';
      try {
        const stdout = execFileSync(shell, ['-c', command], {
          cwd,
          env: env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          maxBuffer: MAX_SHELL_OUTPUT,
          timeout: 30_000,
        });
        return { status: 0, stdout };
      } catch (err) {
        const e = err as { status?: number | null; stdout?: string; message?: string };
        return { status: e.status ?? null, stdout: e.stdout ?? '', error: e.message ?? String(err) };
      }
    },
  };
}
