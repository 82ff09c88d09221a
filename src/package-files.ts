// Where toolhost's own shipped files (templates/, conf/) are, whether it runs from the
// compiled .build/ or from src/ under a TypeScript loader: both sit one level below the root.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function templatePath(name: string): string {
  return path.join(PACKAGE_ROOT, 'templates', name);
}

/** toolhost's version: package.json's, the one place it is written */
export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new Error(`${path.join(PACKAGE_ROOT, 'package.json')} has no version`);
  return version;
}
