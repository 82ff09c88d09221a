// The fast lane's reading of a backend's response head: the status, the header lines to pass on
// (hop-by-hop ones and those the Connection header names stay behind), and how the body is
// framed (RFC 9112 6.3), which is all the proxy needs to relay the body bytes unchanged and know
// where the response ends. A head that is not well-formed is "invalid": the client gets a 502.

import { HOP_BY_HOP as SHARED_HOP_BY_HOP } from '../header-policy.js';

export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** the body runs until the backend closes the connection */
  | { readonly kind: 'close' };

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** header lines for the client, each ending in CRLF */
  readonly forwardLines: string;
  readonly framing: BodyFraming;
  /** the backend connection can carry another request afterwards */
  readonly reusable: boolean;
  /** the backend sent a Date header (the proxy adds one when it did not, RFC 9110 6.6.1) */
  readonly hasDate: boolean;
  /** bytes of the head, blank line included */
  readonly size: number;
}

export type ResponseHeadResult = ResponseHead | 'incomplete' | 'invalid';

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;

/** Transfer-Encoding is the one hop-by-hop header passed on: the body is relayed as it is framed */
const HOP_BY_HOP = new Set([...SHARED_HOP_BY_HOP].filter((h) => h !== 'transfer-encoding'));
/** every header line well-formed: token, colon, no control characters but HTAB */
const VALID_LINES = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*(?:\r\n|$))*$/;
/** a header that needs more than passing the line on (looked for in the lower-cased head) */
const SPECIAL = new RegExp(`\\r\\n(?:${[...SHARED_HOP_BY_HOP].join('|')}):`);

/**
 * headRequest: the request was HEAD, so no body follows whatever the headers say.
 * Transfer-Encoding is passed on (the body is relayed as framed); with a Content-Length beside
 * it the head is invalid.
 */
export function parseResponseHead(buf: Buffer, headRequest: boolean, maxHeadBytes: number): ResponseHeadResult {
  const endAt = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (endAt < 0) return buf.length > maxHeadBytes ? 'invalid' : 'incomplete';
  if (endAt + 4 > maxHeadBytes) return 'invalid';
  const head = buf.toString('latin1', 0, endAt);
  let lineEnd = head.indexOf('\r\n');
  const m = STATUS_LINE.exec(lineEnd < 0 ? head : head.slice(0, lineEnd));
  if (!m) return 'invalid';
  const http10 = m[1] === '0';
  const status = Number(m[2]);
  if (status < 100) return 'invalid';
  const common = lineEnd < 0 ? commonHead(status, m[3] ?? '', '', headRequest, http10, endAt + 4) : commonHead(status, m[3] ?? '', head.slice(lineEnd + 2), headRequest, http10, endAt + 4);
  if (common !== null) return common;

  const lines: [string, string][] = [];
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let keepAlive = !http10;
  let named: string[] | null = null;
  let hasDate = false;
  while (lineEnd >= 0) {
    const start = lineEnd + 2;
    lineEnd = head.indexOf('\r\n', start);
    const line = lineEnd < 0 ? head.slice(start) : head.slice(start, lineEnd);
    const colon = line.indexOf(':');
    if (colon <= 0) return 'invalid';
    const rawName = line.slice(0, colon);
    if (!TOKEN.test(rawName) || CTL.test(line)) return 'invalid';
    const name = rawName.toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'date') hasDate = true;
    if (name === 'content-length') {
      // one length, one value: RFC 9110 8.6 lets a recipient take equal repeats, but a proxy
      // passing them on would hand its clients what llhttp (and so Node and undici) refuses
      if (contentLength >= 0 || !DIGITS.test(value)) return 'invalid';
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
    } else if (name === 'connection') {
      for (const token of value.split(',')) {
        const t = token.trim().toLowerCase();
        if (t === 'close') keepAlive = false;
        else if (t === 'keep-alive') keepAlive = keepAlive || http10;
        else if (t) (named ??= []).push(t);
      }
      continue;
    }
    if (!HOP_BY_HOP.has(name)) lines.push([name, line]);
  }

  // RFC 9112 6.3 lets Transfer-Encoding override Content-Length, but calls the pair a likely
  // smuggling attempt; llhttp (Node's client, undici) refuses it, and so does the fast lane
  if (transferEncoding !== null && contentLength >= 0) return 'invalid';
  // RFC 9112 6.1: Transfer-Encoding on HTTP/1.0 means the framing is faulty
  if (transferEncoding !== null && http10) return 'invalid';
  let framing: BodyFraming;
  if (headRequest || status < 200 || status === 204 || status === 304) framing = { kind: 'none' };
  else if (transferEncoding !== null) {
    const codings = transferEncoding.toLowerCase().split(',');
    framing = codings[codings.length - 1]?.trim() === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  } else if (contentLength >= 0) framing = { kind: 'length', length: contentLength };
  else framing = { kind: 'close' };

  let forwardLines = '';
  for (const [name, line] of lines) {
    if (named !== null && named.includes(name)) continue;
    if (name === 'content-length' && framing.kind === 'close') continue;
    forwardLines += `${line}\r\n`;
  }
  return {
    status,
    reason: m[3] ?? '',
    forwardLines,
    framing,
    reusable: keepAlive && framing.kind !== 'close',
    hasDate,
    size: endAt + 4,
  };
}

/**
 * The usual response: well-formed lines, no hop-by-hop header, at most one Content-Length. Its
 * header lines pass on as one string; null sends anything else through the line-by-line reading.
 */
function commonHead(status: number, reason: string, lines: string, headRequest: boolean, http10: boolean, size: number): ResponseHead | 'invalid' | null {
  if (http10) return null;
  if (!VALID_LINES.test(lines)) return 'invalid';
  const lower = `\r\n${lines.toLowerCase()}`;
  if (SPECIAL.test(lower)) return null;
  const at = lower.indexOf('\r\ncontent-length:');
  let length = -1;
  if (at >= 0) {
    if (lower.indexOf('\r\ncontent-length:', at + 2) >= 0) return 'invalid';
    const end = lower.indexOf('\r\n', at + 2);
    const value = lower.slice(at + 17, end < 0 ? undefined : end).trim();
    if (!DIGITS.test(value)) return 'invalid';
    length = Number(value);
  }
  const none = headRequest || status < 200 || status === 204 || status === 304;
  const framing: BodyFraming = none ? { kind: 'none' } : length >= 0 ? { kind: 'length', length } : { kind: 'close' };
  const hasDate = lower.indexOf('\r\ndate:') >= 0;
  return { status, reason, forwardLines: lines.length > 0 ? `${lines}\r\n` : '', framing, reusable: framing.kind !== 'close', hasDate, size };
}
