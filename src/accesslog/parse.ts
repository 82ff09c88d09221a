// Lines of a lighttpd (or proxy) access log in combined format, parsed without ever keeping
// the client address field.
export interface AccessEntry {
  readonly time: Date;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  readonly referer: string | null;
  readonly userAgent: string | null;
}

// %h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" (lighttpd's default), or the
// proxy's "- - - [..]" form: the first fields are skipped, whatever they hold
const LINE = /^\S+ \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?/;
const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** [21/Nov/2026:13:49:55 +0000] -> Date */
export function parseClfTime(s: string): Date | null {
  const m = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const month = MONTHS[m[2] as string];
  if (month === undefined) return null;
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '-' ? -1 : 1);
  return new Date(utc - offset);
}

function unquote(s: string | undefined): string | null {
  if (s === undefined || s === '-' || s === '') return null;
  return s.replace(/\\(.)/g, '$1');
}

export function parseAccessLine(line: string): AccessEntry | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const time = parseClfTime(m[1] as string);
  if (!time) return null;
  const request = (m[2] as string).split(' ');
  return {
    time,
    method: request[0] ?? '-',
    path: (request[1] ?? '-').split('?')[0] as string,
    status: Number(m[3]),
    bytes: m[4] === '-' ? 0 : Number(m[4]),
    referer: unquote(m[5]),
    userAgent: unquote(m[6]),
  };
}
