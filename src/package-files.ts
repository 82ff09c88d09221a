// Where toolhost's own shipped files (templates/, conf/) are, whether it runs from the
// compiled .build/ or from src/ under a TypeScript loader: both sit one level below the root.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function templatePath(name: string): string {
  return path.join(PACKAGE_ROOT, 'templates', name);
}
