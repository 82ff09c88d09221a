// The one reader of request heads. Every connection starts in the fast lane, and a connection
// handed to Node's server carries only the request whose head this reader has read, so every
// request head the proxy acts on has been judged here, once: how its body is framed, which
// headers stay on this hop, and whether it is refused. Anything ambiguous is refused (400), never
// passed to a slower parser to decide: a `Connection` header naming a framing header, two Host
// headers, a request line that is not exactly `METHOD SP target SP HTTP/1.x`, obs-fold, bare CR
// or LF, control characters, Transfer-Encoding on HTTP/1.0 or beside Content-Length, any
// Transfer-Encoding but `chunked`. Valid requests the fast lane does not relay (HTTP/1.0, chunked
// bodies, Expect, Upgrade) are answered "delegate".

import { METHODS } from 'node:http';
import { CLIENT_IDENTITY, HOP_BY_HOP } from '../header-policy.js';
import { effectiveTarget, isValidHost } from '../request-target.js';

export interface RequestHead {
  readonly method: string;
  /** the target as the request line has it (the access log shows it) */
  readonly rawTarget: string;
  /** origin-form target, routed and forwarded (an absolute-form target's path and query) */
  readonly target: string;
  /** header lines as received, without the ones the proxy drops or sets itself */
  readonly forwardLines: string;
  /** the Host (or the authority of an absolute-form target) */
  readonly host: string;
  /** -1: no body */
  readonly contentLength: number;
  /** the client asked to close the connection after this exchange */
  readonly close: boolean;
  readonly userAgent: string | undefined;
  readonly referer: string | undefined;
  /** for the home page, which also answers in JSON */
  readonly accept: string | undefined;
  /** bytes of the head, blank line (and any empty lines before the request line) included */
  readonly size: number;
}

/** a head that is answered with `status` and a closed connection, never forwarded */
export interface HeadRefusal {
  readonly refuse: 400 | 431;
  /** for tests and the proxy's own diagnostics */
  readonly reason: string;
}

export type RequestHeadResult = RequestHead | HeadRefusal | 'incomplete' | 'delegate';

export function isRefusal(r: RequestHeadResult): r is HeadRefusal {
  return typeof r === 'object' && 'refuse' in r;
}

/** the methods Node's parser (llhttp) knows, so both lanes accept the same ones; CONNECT has no target to route */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS.filter((m) => m !== 'CONNECT'));
const LONGEST_METHOD = Math.max(...[...KNOWN_METHODS].map((m) => m.length));
/** a request target: visible ASCII, at least one character */
const TARGET = /^[!-~]+$/;
const DIGITS = /^\d{1,15}$/;
const MAX_HEADERS = 1000;
/** RFC 9112 2.2: empty lines before a request line are ignored (a few of them) */
const MAX_LEADING_EMPTY_LINES = 4;
/** headers whose removal would change how the request is framed or routed: never named by Connection */
const NOT_HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'host']);

/** headers that never reach a backend: the same rules as the Node lane's (header-policy.ts) */
export const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...CLIENT_IDENTITY, 'expect']);

function refusal(refuse: HeadRefusal['refuse'], reason: string): HeadRefusal {
  return Object.freeze({ refuse, reason });
}

const R = {
  tooLarge: refusal(431, 'the head is larger than the limit'),
  tooManyHeaders: refusal(431, 'too many header lines'),
  requestLine: refusal(400, 'the request line is not METHOD SP target SP HTTP/1.0 or HTTP/1.1'),
  method: refusal(400, 'unknown method'),
  target: refusal(400, 'the target is neither a path nor an http(s) URL'),
  lines: refusal(400, 'a header line is malformed (obs-fold, bare CR or LF, control character, bad name)'),
  noHost: refusal(400, 'an HTTP/1.1 request without Host'),
  twoHosts: refusal(400, 'more than one Host header'),
  badHost: refusal(400, 'an invalid Host value'),
  length: refusal(400, 'an invalid or repeated Content-Length'),
  lengthAndChunked: refusal(400, 'Content-Length and Transfer-Encoding together'),
  coding: refusal(400, 'a Transfer-Encoding other than chunked'),
  http10Coding: refusal(400, 'Transfer-Encoding on an HTTP/1.0 request'),
  framingNamed: refusal(400, 'Connection names a header that frames or routes the request'),
  notHttp: refusal(400, 'these bytes cannot start an HTTP/1.x request'),
} as const;

/** the end of the head (index after CRLFCRLF), or -1 */
export function headEnd(buf: Buffer, from = 0): number {
  const i = buf.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return i < 0 ? -1 : i + 4;
}

/** every header line well-formed: token, colon, no control characters but HTAB (so no bare CR or LF, no obs-fold) */
const VALID_LINES = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*(?:\r\n|$))*$/;
/** header names the head reader acts on, at the start of a line of the lower-cased head */
const INTERESTING = new RegExp(`\\r\\n(host|content-length|user-agent|referer|accept|${[...DROPPED_REQUEST_HEADERS].join('|')}):`, 'g');

/** RFC 9110 5.6.2 tchar, by byte */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/**
 * Whether the bytes so far (no complete head yet) can still become a request line. Answering as
 * soon as they cannot (a TLS ClientHello on the plain port, binary garbage) is what nginx and
 * Node's parser do, instead of holding the connection until the head timeout.
 */
function impossibleStart(buf: Buffer, start: number): boolean {
  const HTTP = 'HTTP/1.';
  let i = start;
  const n = buf.length;
  // method: a prefix of a known method
  let method = '';
  for (; i < n && buf[i] !== 0x20; i++) {
    const c = buf[i] as number;
    if (c >= 128 || TCHAR[c] === 0 || method.length >= LONGEST_METHOD) return true;
    method += String.fromCharCode(c);
  }
  if (i === n) {
    for (const m of KNOWN_METHODS) if (m.startsWith(method)) return false;
    return true;
  }
  if (!KNOWN_METHODS.has(method)) return true;
  i++;
  // target: visible characters, at least one
  const targetStart = i;
  for (; i < n && buf[i] !== 0x20; i++) {
    const c = buf[i] as number;
    if (c < 0x21 || c > 0x7e) return true;
  }
  if (i === n) return false;
  if (i === targetStart) return true;
  i++;
  // version: HTTP/1.0 or HTTP/1.1, then CRLF
  for (let k = 0; i < n; i++, k++) {
    const c = buf[i] as number;
    if (k < HTTP.length) {
      if (c !== HTTP.charCodeAt(k)) return true;
    } else if (k === HTTP.length) {
      if (c !== 0x30 && c !== 0x31) return true;
    } else if (k === HTTP.length + 1) {
      if (c !== 0x0d) return true;
    } else if (k === HTTP.length + 2) {
      return c !== 0x0a;
    }
  }
  return false;
}

export function parseRequestHead(buf: Buffer, maxHeadBytes: number): RequestHeadResult {
  let start = 0;
  while (buf[start] === 0x0d && buf[start + 1] === 0x0a && start < 2 * MAX_LEADING_EMPTY_LINES) start += 2;
  const end = headEnd(buf, start);
  if (end < 0) {
    if (buf.length - start > maxHeadBytes) return R.tooLarge;
    return impossibleStart(buf, start) ? R.notHttp : 'incomplete';
  }
  if (end - start > maxHeadBytes) return R.tooLarge;
  const head = buf.toString('latin1', start, end - 4);
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  // METHOD SP target SP version, one space each; read with indexOf, no match array per request
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0) return R.requestLine;
  const version = requestLine.slice(sp2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return R.requestLine;
  const method = requestLine.slice(0, sp1);
  if (!KNOWN_METHODS.has(method)) return method === '' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method) ? R.requestLine : R.method;
  const rawTarget = requestLine.slice(sp1 + 1, sp2);
  if (!TARGET.test(rawTarget)) return R.requestLine;
  const http10 = version === 'HTTP/1.0';
  // an origin-form target is routed as it is; only another form needs reading
  const routed = rawTarget.charCodeAt(0) === 47 /* / */ ? null : effectiveTarget(rawTarget);
  if (routed === null && rawTarget.charCodeAt(0) !== 47) return R.target;
  const lines = lineEnd < 0 ? '' : head.slice(lineEnd + 2);
  if (!VALID_LINES.test(lines)) return R.lines;
  // the same offsets in both strings: lower-casing latin1 never changes a length
  const lower = `\r\n${lines.toLowerCase()}`;
  let count = lines.length === 0 ? 0 : 1;
  for (let i = lower.indexOf('\r\n', 2); i >= 0; i = lower.indexOf('\r\n', i + 2)) count++;
  if (count > MAX_HEADERS) return R.tooManyHeaders;

  let host: string | undefined;
  let hostLine = -1;
  let contentLength = -1;
  let chunked = false;
  let close = false;
  let delegate = http10;
  let userAgent: string | undefined;
  let referer: string | undefined;
  let accept: string | undefined;
  let connectionNamed: string[] | null = null;
  /** [start, end) of lines in `lower` that stay behind */
  let cut: number[] | null = null;
  INTERESTING.lastIndex = 0;
  for (let hit = INTERESTING.exec(lower); hit !== null; hit = INTERESTING.exec(lower)) {
    const name = hit[1] as string;
    const lineStart = hit.index;
    const valueEnd = lower.indexOf('\r\n', lineStart + 2);
    const value = lines.slice(lineStart + name.length + 1, valueEnd < 0 ? undefined : valueEnd - 2).trim();
    switch (name) {
      case 'host':
        if (host !== undefined) return R.twoHosts;
        if (!isValidHost(value)) return R.badHost;
        host = value;
        hostLine = lineStart;
        break;
      case 'content-length':
        if (contentLength >= 0 || !DIGITS.test(value)) return R.length;
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        if (http10) return R.http10Coding;
        if (chunked || value.toLowerCase() !== 'chunked') return R.coding;
        chunked = true;
        delegate = true;
        break;
      case 'upgrade':
      case 'expect':
        delegate = true;
        break;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') close = true;
          else if (t === 'upgrade') delegate = true;
          else if (NOT_HOP_BY_HOP.has(t)) return R.framingNamed;
          else if (t && t !== 'keep-alive') (connectionNamed ??= []).push(t);
        }
        break;
      case 'user-agent':
        userAgent = value;
        break;
      case 'referer':
        referer = value;
        break;
      case 'accept':
        accept = value;
        break;
    }
    if (DROPPED_REQUEST_HEADERS.has(name)) (cut ??= []).push(lineStart, valueEnd < 0 ? lower.length : valueEnd);
    INTERESTING.lastIndex = valueEnd < 0 ? lower.length : valueEnd;
  }
  if (chunked && contentLength >= 0) return R.lengthAndChunked;
  if (host === undefined && !http10) return R.noHost;
  if (delegate) return 'delegate';
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
  let forwardLines: string;
  let effectiveHost = host as string;
  if (routed !== null && routed.authority !== null) {
    // RFC 9112 3.2.2: the target's authority replaces the Host header
    const e = lower.indexOf('\r\n', hostLine + 2);
    (cut ??= []).push(hostLine, e < 0 ? lower.length : e);
    effectiveHost = routed.authority;
    forwardLines = `Host: ${effectiveHost}\r\n${keptLines(lines, cut)}`;
  } else forwardLines = keptLines(lines, cut);
  return { method, rawTarget, target: routed === null ? rawTarget : routed.path, forwardLines, host: effectiveHost, contentLength, close, userAgent, referer, accept, size: end };
}

/** `lines` without the cut ranges (offsets in the CRLF-prefixed copy), each line ending in CRLF */
function keptLines(lines: string, cut: number[] | null): string {
  if (cut === null) return lines.length === 0 ? '' : `${lines}\r\n`;
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
