// How big the hashes proxies read may be: a tool's route hash, and its tool directory entry. A
// registrar writes a few short fields per backend, an administrator a list of maintainers and a
// line of description; a hash past these limits is a mistake or an attack (one 300 MB description
// once took a proxy from 71 MB to 1 GB resident). Writers refuse to write past them and readers
// refuse to load past them: the size is checked inside Redis, so an oversized hash never crosses
// the network.
export interface HashLimits {
  /** fields in one hash */
  readonly maxFields: number;
  /** bytes of one field name */
  readonly maxFieldBytes: number;
  /** bytes of one value */
  readonly maxValueBytes: number;
  /** the hash as Redis counts it (MEMORY USAGE ... SAMPLES 0) */
  readonly maxHashBytes: number;
}

export const ROUTE_LIMITS = {
  /** fields in one prefix:<tool> hash (a backend takes two or three) */
  maxFields: 64,
  maxFieldBytes: 128,
  /** a URL, a lease, a description */
  maxValueBytes: 1024,
  maxHashBytes: 32 * 1024,
  /** characters of a description (a one-line summary) */
  maxDescriptionChars: 300,
} as const satisfies HashLimits & { maxDescriptionChars: number };

/** a toolhost:tool:<tool> hash: two fields today, room for a few more */
export const DIRECTORY_LIMITS = {
  maxFields: 8,
  maxFieldBytes: 64,
  /** 100 maintainers of 32 characters and their separators fit */
  maxValueBytes: 4096,
  maxHashBytes: 8 * 1024,
  /** names in the maintainers field */
  maxMaintainers: 100,
} as const satisfies HashLimits & { maxMaintainers: number };

/** why a hash is refused, or null when it is within the limits */
export function hashProblem(hash: Readonly<Record<string, string>>, limits: HashLimits): string | null {
  const fields = Object.keys(hash);
  if (fields.length > limits.maxFields) return `${fields.length} fields (at most ${limits.maxFields})`;
  for (const f of fields) {
    if (Buffer.byteLength(f) > limits.maxFieldBytes) return `a field name of ${Buffer.byteLength(f)} bytes (at most ${limits.maxFieldBytes})`;
    const v = hash[f] as string;
    if (Buffer.byteLength(v) > limits.maxValueBytes) return `field ${f.slice(0, 40)} holds ${Buffer.byteLength(v)} bytes (at most ${limits.maxValueBytes})`;
  }
  return null;
}

/** why a route hash is refused, or null when it is within the limits */
export function routeHashProblem(hash: Readonly<Record<string, string>>): string | null {
  return hashProblem(hash, ROUTE_LIMITS);
}

const NOT_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g;

/**
 * a description as written: its first line, control characters (terminal sequences, a carriage
 * return over the line, text reordering) made spaces, trimmed and cut to the limit
 */
export function normalizeDescription(text: string | null | undefined): string | null {
  const line = text?.split('\n')[0]?.replace(NOT_TEXT, ' ').trim();
  return line ? line.slice(0, ROUTE_LIMITS.maxDescriptionChars) : null;
}
