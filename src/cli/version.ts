// What `--version` prints, the same for every executable: toolhost's version, from package.json.
import { packageVersion } from '../package-files.js';

export const VERSION_FLAG = '--version';

/** `toolhost 0.1.0`; the other executables say whose they are: `webservice (toolhost) 0.1.0` */
export function versionLine(program: string): string {
  return program === 'toolhost' ? `toolhost ${packageVersion()}` : `${program} (toolhost) ${packageVersion()}`;
}
