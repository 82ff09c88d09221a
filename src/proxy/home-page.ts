// The home page at /: every tool that exists — routed or only in the tool directory — with its
// maintainers, its description, a link and whether it is up; also as JSON. Rendered when the
// route table or the directory changes, served from memory. Every name and description is
// escaped: descriptions come from tools' ~/.description and from administrators, and even the
// directory's maintainers could be written by hand.
import type { Route, ToolEntry } from '../routes/index.js';
import { escapeHtml, type PageTemplate } from './html.js';

export interface ToolListing {
  readonly name: string;
  /** the tool's own (~/.description, while it is routed), else the administrator's */
  readonly description: string | null;
  readonly maintainers: readonly string[];
  readonly url: string;
  readonly up: boolean;
  readonly backends: number;
}

export interface HomePageSources {
  readonly routes: () => Iterable<Route>;
  readonly tools: () => Iterable<ToolEntry>;
}

export class HomePage {
  readonly #template: PageTemplate;
  readonly #title: string;
  readonly #linkFor: (tool: string) => string;
  readonly #sources: HomePageSources;
  #html: string | null = null;
  #json: string | null = null;

  constructor(options: { template: PageTemplate; title: string; linkFor: (tool: string) => string } & HomePageSources) {
    this.#template = options.template;
    this.#title = options.title;
    this.#linkFor = options.linkFor;
    this.#sources = { routes: options.routes, tools: options.tools };
  }

  /** the route table or the directory changed: render again on the next request */
  invalidate(): void {
    this.#html = null;
    this.#json = null;
  }

  listing(): ToolListing[] {
    const routes = new Map<string, Route>();
    for (const r of this.#sources.routes()) routes.set(r.tool, r);
    const entries = new Map<string, ToolEntry>();
    for (const e of this.#sources.tools()) entries.set(e.tool, e);
    const names = [...new Set([...routes.keys(), ...entries.keys()])].sort();
    return names.map((name) => {
      const route = routes.get(name);
      const entry = entries.get(name);
      const backends = route?.backends.length ?? 0;
      return {
        name,
        description: route?.description ?? entry?.description ?? null,
        maintainers: entry?.maintainers ?? [],
        url: this.#linkFor(name),
        up: backends > 0,
        backends,
      };
    });
  }

  html(): string {
    if (this.#html !== null) return this.#html;
    const tools = this.listing();
    const up = tools.filter((t) => t.up).length;
    const rows = tools.map((t) => {
      const desc = t.description ? escapeHtml(t.description) : '<span class="none">no description</span>';
      const people = t.maintainers.length ? t.maintainers.map((m) => `<span class="maintainer">${escapeHtml(m)}</span>`).join(', ') : '<span class="none">none</span>';
      const status = t.up ? '<span class="up">up</span>' : '<span class="down">down</span>';
      return `<tr data-tool="${escapeHtml(t.name)}"><td><a href="${escapeHtml(t.url)}">${escapeHtml(t.name)}</a></td><td>${people}</td><td>${desc}</td><td>${status}</td></tr>`;
    });
    this.#html = this.#template.fill({
      title: escapeHtml(this.#title),
      summary: `${tools.length} tool${tools.length === 1 ? '' : 's'}, ${up} up.`,
      rows: rows.length ? rows.join('\n') : '<tr><td colspan="4" class="none">No tools yet.</td></tr>',
    });
    return this.#html;
  }

  json(): string {
    this.#json ??= `${JSON.stringify({ tools: this.listing() })}\n`;
    return this.#json;
  }
}
