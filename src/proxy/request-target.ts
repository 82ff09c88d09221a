// The request target and the Host a request is for, read the same way on every lane (RFC 9112
// 3.2). An origin-form target (`/tool/x`) is routed and forwarded as it is. An absolute-form
// target (`http://host/tool/x`), which a server MUST accept, is routed by its path, and its
// authority replaces the Host header, as RFC 9112 3.2.2 requires of a server that receives one.

/** a valid Host value: reg-name or IPv4, or a bracketed IP literal, then an optional port */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/;
const ABSOLUTE = /^https?:\/\/([^/?#]*)([^#]*)$/i;

export function isValidHost(value: string): boolean {
  return HOST_VALUE.test(value);
}

export interface EffectiveTarget {
  /** origin-form: what is routed and what the backend receives */
  readonly path: string;
  /** the authority of an absolute-form target, which replaces Host; null for origin-form */
  readonly authority: string | null;
}

/**
 * The routed target of a request line, or null when the target is neither origin-form nor a
 * usable absolute-form (asterisk-form, authority-form, user info, an empty or invalid host).
 */
export function effectiveTarget(raw: string): EffectiveTarget | null {
  if (raw.charCodeAt(0) === 47 /* / */) return { path: raw, authority: null };
  const m = ABSOLUTE.exec(raw);
  if (!m) return null;
  const authority = m[1] as string;
  if (authority === '' || authority.includes('@') || !isValidHost(authority)) return null;
  const rest = m[2] as string;
  return { path: rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest, authority };
}
