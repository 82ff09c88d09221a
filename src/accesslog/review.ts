// A maintainer's review of their tool's access log: requests per hour (as a terminal chart),
// status classes, top paths, top user agents, bytes. Built from parsed entries, which hold no
// client address, so nothing here can print one.
import type { AccessEntry } from './parse.js';

export interface Review {
  readonly requests: number;
  readonly bytes: number;
  readonly from: string | null;
  readonly to: string | null;
  readonly perHour: readonly { readonly hour: string; readonly requests: number }[];
  readonly statusClasses: Readonly<Record<string, number>>;
  readonly topPaths: readonly { readonly path: string; readonly requests: number }[];
  readonly topUserAgents: readonly { readonly userAgent: string; readonly requests: number }[];
  readonly unparsedLines: number;
}

function top<K>(counts: Map<K, number>, n: number): [K, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).slice(0, n);
}

export function review(entries: Iterable<AccessEntry>, unparsedLines: number, topN = 10): Review {
  let requests = 0;
  let bytes = 0;
  let first: Date | null = null;
  let last: Date | null = null;
  const hours = new Map<string, number>();
  const classes: Record<string, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  const paths = new Map<string, number>();
  const agents = new Map<string, number>();
  for (const e of entries) {
    requests++;
    bytes += e.bytes;
    if (!first || e.time < first) first = e.time;
    if (!last || e.time > last) last = e.time;
    const hour = `${e.time.toISOString().slice(0, 13)}:00Z`;
    hours.set(hour, (hours.get(hour) ?? 0) + 1);
    const cls = `${Math.floor(e.status / 100)}xx`;
    classes[cls] = (classes[cls] ?? 0) + 1;
    paths.set(e.path, (paths.get(e.path) ?? 0) + 1);
    const ua = e.userAgent ?? '(none)';
    agents.set(ua, (agents.get(ua) ?? 0) + 1);
  }
  return {
    requests,
    bytes,
    from: first?.toISOString() ?? null,
    to: last?.toISOString() ?? null,
    perHour: [...hours].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([hour, n]) => ({ hour, requests: n })),
    statusClasses: classes,
    topPaths: top(paths, topN).map(([path, n]) => ({ path, requests: n })),
    topUserAgents: top(agents, topN).map(([userAgent, n]) => ({ userAgent, requests: n })),
    unparsedLines,
  };
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u ? 1 : 0)} ${units[u]}`;
}

/** the review as terminal text, with a bar chart of requests per hour */
export function renderReview(r: Review, width = 50): string {
  const out: string[] = [];
  out.push(`${r.requests} requests, ${human(r.bytes)}${r.from ? `, ${r.from} to ${r.to}` : ''}`);
  if (r.unparsedLines) out.push(`(${r.unparsedLines} lines not in combined format were skipped)`);
  out.push('', 'Requests per hour (UTC)');
  const max = Math.max(1, ...r.perHour.map((h) => h.requests));
  for (const h of r.perHour.slice(-48)) {
    const bar = '█'.repeat(Math.max(h.requests ? 1 : 0, Math.round((h.requests / max) * width)));
    out.push(`  ${h.hour.replace('T', ' ').slice(0, 16)}  ${bar} ${h.requests}`);
  }
  out.push('', 'Status');
  for (const [cls, n] of Object.entries(r.statusClasses)) out.push(`  ${cls}  ${n}`);
  out.push('', 'Top paths');
  for (const p of r.topPaths) out.push(`  ${String(p.requests).padStart(7)}  ${p.path}`);
  out.push('', 'Top user agents');
  for (const a of r.topUserAgents) out.push(`  ${String(a.requests).padStart(7)}  ${a.userAgent.length > 100 ? `${a.userAgent.slice(0, 97)}...` : a.userAgent}`);
  return `${out.join('\n')}\n`;
}
