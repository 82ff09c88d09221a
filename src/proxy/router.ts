// Which tool a request is for, from memory and the request line alone. Path routing: the first
// path segment, taken raw (never percent-decoded), so `/%2e%2e/`, `/a%2fb`, `//` and `/./` can
// only fail to name a tool; the path is forwarded unchanged. Host routing: `<tool>.<domain>`,
// host lower-cased and port ignored. Both may be on at once.
import { isToolName } from '../tool-name.js';

export type RouteDecision =
  | { readonly kind: 'health' }
  | { readonly kind: 'home' }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'tool'; readonly tool: string; readonly via: 'path' | 'host' }
  | { readonly kind: 'unknown'; readonly name: string }
  | { readonly kind: 'bad-request' };

export interface RouterOptions {
  /** host routing for <tool>.<domain>; null: off */
  readonly domain: string | null;
  readonly pathRouting: boolean;
}

export const HEALTH_PATH = '/.well-known/healthz';

/** lower-cased host name without port, or '' */
export function hostName(host: string | undefined): string {
  if (!host) return '';
  let h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function decide(url: string, host: string | undefined, o: RouterOptions): RouteDecision {
  if (url.charCodeAt(0) !== 47 /* / */) return { kind: 'bad-request' };
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === HEALTH_PATH) return { kind: 'health' };
  if (o.domain !== null) {
    const name = hostName(host);
    const suffix = `.${o.domain}`;
    if (name.length > suffix.length && name.endsWith(suffix)) {
      const label = name.slice(0, name.length - suffix.length);
      if (!label.includes('.') && isToolName(label)) return { kind: 'tool', tool: label, via: 'host' };
      return { kind: 'unknown', name: label };
    }
  }
  if (!o.pathRouting) return path === '/' ? { kind: 'home' } : { kind: 'unknown', name: '' };
  if (path === '/') return { kind: 'home' };
  const slash = path.indexOf('/', 1);
  const segment = slash < 0 ? path.slice(1) : path.slice(1, slash);
  if (!isToolName(segment)) return { kind: 'unknown', name: segment.length <= 64 ? segment : '' };
  if (slash < 0) return { kind: 'redirect', location: `/${segment}/${q < 0 ? '' : url.slice(q)}` };
  return { kind: 'tool', tool: segment, via: 'path' };
}
