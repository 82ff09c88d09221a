// How big a tool's route hash may be. A registrar writes a few short fields per backend; a
// hash past these limits is a mistake or an attack (one 300 MB description once took a proxy
// from 71 MB to 1 GB resident). Writers refuse to write past them and readers refuse to load
// past them: the size is checked inside Redis, so an oversized hash never crosses the network.
export const ROUTE_LIMITS = {
  /** fields in one prefix:<tool> hash (a backend takes two or three) */
  maxFields: 64,
  /** bytes of one field name */
  maxFieldBytes: 128,
  /** bytes of one value (a URL, a lease, a description) */
  maxValueBytes: 1024,
  /** the hash as Redis counts it (MEMORY USAGE ... SAMPLES 0) */
  maxHashBytes: 32 * 1024,
  /** characters of a description (a one-line summary) */
  maxDescriptionChars: 300,
} as const;

/** why a hash is refused, or null when it is within the limits */
export function routeHashProblem(hash: Readonly<Record<string, string>>): string | null {
  const fields = Object.keys(hash);
  if (fields.length > ROUTE_LIMITS.maxFields) return `${fields.length} fields (at most ${ROUTE_LIMITS.maxFields})`;
  for (const f of fields) {
    if (Buffer.byteLength(f) > ROUTE_LIMITS.maxFieldBytes) return `a field name of ${Buffer.byteLength(f)} bytes (at most ${ROUTE_LIMITS.maxFieldBytes})`;
    const v = hash[f] as string;
    if (Buffer.byteLength(v) > ROUTE_LIMITS.maxValueBytes) return `field ${f.slice(0, 40)} holds ${Buffer.byteLength(v)} bytes (at most ${ROUTE_LIMITS.maxValueBytes})`;
  }
  return null;
}

/** a description as written: its first line, trimmed and cut to the limit */
export function normalizeDescription(text: string | null | undefined): string | null {
  const line = text?.split('\n')[0]?.trim();
  return line ? line.slice(0, ROUTE_LIMITS.maxDescriptionChars) : null;
}
