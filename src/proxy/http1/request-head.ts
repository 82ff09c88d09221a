// The fast lane's request-head reader. It accepts only plain, unambiguous HTTP/1.1 heads and
// answers "delegate" for everything else, so that Node's own parser (llhttp, strict mode) and
// the slow path decide every unusual case: HTTP/1.0, chunked or conflicting bodies, Expect,
// Upgrade, obs-fold, bare CR or LF, control characters, duplicate Host or Content-Length,
// absolute-form targets, heads over the size limit. Being strict costs nothing here: what is
// refused is not rejected, only handed to the slower, complete implementation.

import { CLIENT_IDENTITY, HOP_BY_HOP } from '../header-policy.js';

export interface RequestHead {
  readonly method: string;
  /** origin-form target, forwarded unchanged */
  readonly target: string;
  /** header lines as received, without the ones the proxy drops or sets itself */
  readonly forwardLines: string;
  readonly host: string;
  /** -1: no body */
  readonly contentLength: number;
  /** the client asked to close the connection after this exchange */
  readonly close: boolean;
  readonly userAgent: string | undefined;
  readonly referer: string | undefined;
  /** bytes of the head, blank line included */
  readonly size: number;
}

export type RequestHeadResult = RequestHead | 'incomplete' | 'delegate';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
/** origin-form: starts with '/', visible ASCII only */
const TARGET = /^\/[!-~]*$/;
const DIGITS = /^\d{1,15}$/;
const MAX_HEADERS = 2000;

/** headers that never reach a backend: the same rules as the slow path's (header-policy.ts) */
export const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...CLIENT_IDENTITY, 'expect']);

/** the end of the head (index after CRLFCRLF), or -1 */
export function headEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return i < 0 ? -1 : i + 4;
}

/** every header line well-formed: token, colon, no control characters but HTAB (so no bare CR or LF, no obs-fold) */
const VALID_LINES = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*(?:\r\n|$))*$/;
/** header names the head reader acts on, at the start of a line of the lower-cased head */
const INTERESTING = new RegExp(`\\r\\n(host|content-length|user-agent|referer|${[...DROPPED_REQUEST_HEADERS].join('|')}):`, 'g');

export function parseRequestHead(buf: Buffer, maxHeadBytes: number): RequestHeadResult {
  const end = headEnd(buf);
  if (end < 0) return buf.length > maxHeadBytes ? 'delegate' : 'incomplete';
  if (end > maxHeadBytes) return 'delegate';
  const head = buf.toString('latin1', 0, end - 4);
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0) return 'delegate';
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  if (!METHODS.has(method) || requestLine.slice(sp2 + 1) !== 'HTTP/1.1' || !TARGET.test(target)) return 'delegate';
  if (lineEnd < 0) return 'delegate'; // no Host
  const lines = head.slice(lineEnd + 2);
  if (!VALID_LINES.test(lines)) return 'delegate';
  // the same offsets in both strings: lower-casing latin1 never changes a length
  const lower = `\r\n${lines.toLowerCase()}`;
  let count = 1;
  for (let i = lower.indexOf('\r\n', 2); i >= 0; i = lower.indexOf('\r\n', i + 2)) count++;
  if (count > MAX_HEADERS) return 'delegate';

  let host: string | undefined;
  let contentLength = -1;
  let close = false;
  let userAgent: string | undefined;
  let referer: string | undefined;
  let connectionNamed: string[] | null = null;
  /** [start, end) of lines in `lines` that stay behind */
  let cut: number[] | null = null;
  INTERESTING.lastIndex = 0;
  for (let m = INTERESTING.exec(lower); m !== null; m = INTERESTING.exec(lower)) {
    const name = m[1] as string;
    const lineStart = m.index; // in `lower`: 2 ahead of `lines`
    const valueEnd = lower.indexOf('\r\n', lineStart + 2);
    const value = lines.slice(lineStart + name.length + 1, valueEnd < 0 ? undefined : valueEnd - 2).trim();
    switch (name) {
      case 'host':
        if (host !== undefined) return 'delegate';
        host = value;
        break;
      case 'content-length':
        if (contentLength >= 0 || !DIGITS.test(value)) return 'delegate';
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return 'delegate';
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') close = true;
          else if (t === 'upgrade') return 'delegate';
          else if (t && t !== 'keep-alive') (connectionNamed ??= []).push(t);
        }
        break;
      case 'user-agent':
        userAgent = value;
        break;
      case 'referer':
        referer = value;
        break;
    }
    if (DROPPED_REQUEST_HEADERS.has(name)) (cut ??= []).push(lineStart, valueEnd < 0 ? lower.length : valueEnd);
    INTERESTING.lastIndex = valueEnd < 0 ? lower.length : valueEnd;
  }
  if (host === undefined) return 'delegate';
  if (connectionNamed !== null) {
    // headers the Connection header names stay on this hop too
    for (const name of connectionNamed) {
      const needle = `\r\n${name}:`;
      for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, i + 2)) {
        const e = lower.indexOf('\r\n', i + 2);
        (cut ??= []).push(i, e < 0 ? lower.length : e);
      }
    }
  }
  return { method, target, forwardLines: keptLines(lines, cut), host, contentLength, close, userAgent, referer, size: end };
}

/** `lines` without the cut ranges (offsets in the CRLF-prefixed copy), each line ending in CRLF */
function keptLines(lines: string, cut: number[] | null): string {
  if (cut === null) return `${lines}\r\n`;
  const full = `\r\n${lines}`;
  const ranges: [number, number][] = [];
  for (let i = 0; i < cut.length; i += 2) ranges.push([cut[i] as number, cut[i + 1] as number]);
  ranges.sort((a, b) => a[0] - b[0]);
  // every kept piece starts at the CRLF before its line
  let out = '';
  let at = 0;
  for (const [from, to] of ranges) {
    if (from > at) out += full.slice(at, from);
    at = Math.max(at, to);
  }
  out += full.slice(at);
  return out.length === 0 ? '' : `${out.slice(2)}\r\n`;
}
