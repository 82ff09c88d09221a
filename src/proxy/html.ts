// Page templates: read once at start, filled from memory per response.
import { readFileSync } from 'node:fs';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** a template split at its {{name}} placeholders once, so filling it is a join */
export class PageTemplate {
  readonly #parts: string[];
  readonly #names: string[];

  constructor(text: string) {
    this.#parts = [];
    this.#names = [];
    let last = 0;
    for (const m of text.matchAll(/\{\{(\w+)\}\}/g)) {
      this.#parts.push(text.slice(last, m.index));
      this.#names.push(m[1] as string);
      last = (m.index ?? 0) + m[0].length;
    }
    this.#parts.push(text.slice(last));
  }

  static load(file: string): PageTemplate {
    return new PageTemplate(readFileSync(file, 'utf8'));
  }

  /** values are inserted as given: escape user-controlled text with escapeHtml first */
  fill(values: Readonly<Record<string, string>>): string {
    let out = this.#parts[0] as string;
    for (let i = 0; i < this.#names.length; i++) out += (values[this.#names[i] as string] ?? '') + (this.#parts[i + 1] as string);
    return out;
  }
}
