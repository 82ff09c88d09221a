// Toolforge's proxy, behind HTTPS, rewrote a tool's `Location: http://<public host>/...` to
// https: tools that build absolute URLs from the Host header and a scheme they cannot see
// (they are reached over plain HTTP) would otherwise send every visitor through the proxy's
// HTTP-to-HTTPS redirect, one more hop that also turns a POST into a GET. Only a Location that
// points at the host the client asked for (on no port, 80, the plain listener's port or the
// port in its Host header) is rewritten; any other is passed on as the tool sent it.
import { hostName } from './router.js';

export class LocationRewriter {
  readonly #httpsOrigin: (host: string) => string;
  readonly #plainPorts: ReadonlySet<string>;

  /** httpsOrigin: `https://host[:port]` for a host name; plainPort: the plain HTTP listener's port */
  constructor(httpsOrigin: (host: string) => string, plainPort: number) {
    this.#httpsOrigin = httpsOrigin;
    this.#plainPorts = new Set(['', '80', String(plainPort)]);
  }

  /** a Location value for a response to a request for `requestHost` */
  value(location: string, requestHost: string): string {
    if (location.length < 8 || location.slice(0, 7).toLowerCase() !== 'http://') return location;
    const end = location.slice(7).search(/[/?#]/);
    const authority = end < 0 ? location.slice(7) : location.slice(7, 7 + end);
    const colon = authority.lastIndexOf(':');
    const hasPort = colon >= 0 && !authority.endsWith(']') && /^\d*$/.test(authority.slice(colon + 1));
    const name = (hasPort ? authority.slice(0, colon) : authority).toLowerCase();
    const port = hasPort ? authority.slice(colon + 1) : '';
    const host = hostName(requestHost);
    if (name === '' || name !== host) return location;
    const askedPort = requestHost.startsWith('[') ? (/\]:(\d+)$/.exec(requestHost)?.[1] ?? '') : (/:(\d+)$/.exec(requestHost)?.[1] ?? '');
    if (!this.#plainPorts.has(port) && port !== askedPort) return location;
    return this.#httpsOrigin(host) + (end < 0 ? '' : location.slice(7 + end));
  }

  /** raw response header lines (each ending in CRLF), their Location rewritten */
  lines(lines: string, requestHost: string): string {
    const at = lines.search(/(?:^|\r\n)location:/i);
    if (at < 0) return lines;
    const start = at === 0 && !lines.startsWith('\r\n') ? 0 : at + 2;
    const colon = lines.indexOf(':', start);
    const end = lines.indexOf('\r\n', colon);
    const value = lines.slice(colon + 1, end).trim();
    const rewritten = this.value(value, requestHost);
    return rewritten === value ? lines : `${lines.slice(0, colon + 1)} ${rewritten}${lines.slice(end)}`;
  }
}
