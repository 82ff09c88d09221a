// The one naming rule for a log rotated by size, whoever rotates it (the proxy its access log,
// a tool's supervisor the tool's logs): FILE is written, FILE.1 is the newest older generation,
// FILE.<keep> the oldest; a rotation moves each one down, the oldest falls off. Imports nothing.

/** FILE.n */
export function generationName(file: string, n: number): string {
  return `${file}.${n}`;
}

/**
 * The renames of one rotation, in order: oldest first, so that each rename only replaces the
 * generation that falls off; FILE -> FILE.1 last. A generation that does not exist is skipped.
 * At least one older generation is kept: a rotation never discards what was just written.
 */
export function rotationMoves(file: string, keep: number): [from: string, to: string][] {
  const moves: [string, string][] = [];
  for (let i = Math.max(1, keep) - 1; i >= 1; i--) moves.push([generationName(file, i), generationName(file, i + 1)]);
  moves.push([file, generationName(file, 1)]);
  return moves;
}
