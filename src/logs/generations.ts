// The generations of a rotated log that are on disk, for the commands that read logs
// (`webservice logs`, `jobs logs`): FILE.N … FILE.1, oldest first, then FILE itself.
import { existsSync } from 'node:fs';
import { generationName } from '../log-generations.js';
import { MAX_LOG_KEEP } from './log-policy.js';

/** the older generations of file that exist, oldest first (a gap ends the list) */
export function olderGenerations(file: string): string[] {
  const out: string[] = [];
  for (let n = 1; n <= MAX_LOG_KEEP && existsSync(generationName(file, n)); n++) out.unshift(generationName(file, n));
  return out;
}
