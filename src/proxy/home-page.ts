// The home page at /: every tool with its description, a link and whether it is up; also as
// JSON. Rendered when the route table changes, served from memory.
import type { Route } from '../routes/index.js';
import { escapeHtml, type PageTemplate } from './html.js';

export interface ToolListing {
  readonly name: string;
  readonly description: string | null;
  readonly url: string;
  readonly up: boolean;
  readonly backends: number;
}

export class HomePage {
  readonly #template: PageTemplate;
  readonly #title: string;
  readonly #linkFor: (tool: string) => string;
  readonly #source: () => Iterable<Route>;
  #html: string | null = null;
  #json: string | null = null;

  constructor(options: { template: PageTemplate; title: string; linkFor: (tool: string) => string; routes: () => Iterable<Route> }) {
    this.#template = options.template;
    this.#title = options.title;
    this.#linkFor = options.linkFor;
    this.#source = options.routes;
  }

  /** the route table changed: render again on the next request */
  invalidate(): void {
    this.#html = null;
    this.#json = null;
  }

  listing(): ToolListing[] {
    const out: ToolListing[] = [];
    for (const r of this.#source()) {
      out.push({ name: r.tool, description: r.description, url: this.#linkFor(r.tool), up: r.backends.length > 0, backends: r.backends.length });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  html(): string {
    if (this.#html !== null) return this.#html;
    const tools = this.listing();
    const up = tools.filter((t) => t.up).length;
    const rows = tools.map((t) => {
      const desc = t.description ? escapeHtml(t.description) : '<span class="none">no description</span>';
      const status = t.up ? '<span class="up">up</span>' : '<span class="down">down</span>';
      return `<tr data-tool="${escapeHtml(t.name)}"><td><a href="${escapeHtml(t.url)}">${escapeHtml(t.name)}</a></td><td>${desc}</td><td>${status}</td></tr>`;
    });
    this.#html = this.#template.fill({
      title: escapeHtml(this.#title),
      summary: `${tools.length} tool${tools.length === 1 ? '' : 's'}, ${up} up.`,
      rows: rows.length ? rows.join('\n') : '<tr><td colspan="3" class="none">No tools yet.</td></tr>',
    });
    return this.#html;
  }

  json(): string {
    this.#json ??= `${JSON.stringify({ tools: this.listing() })}\n`;
    return this.#json;
  }
}
