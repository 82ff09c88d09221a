// Rotating one log file: its generations renamed down (log-generations.ts), the file itself last.
// Renames act on names, never through them: a link a tool planted at FILE.1 is replaced, its
// target never opened. Only a regular file is rotated; a link or a device at the log's name is
// the maintainer's choice of where the log goes (`ln -s /dev/null ~/access.log`) and is left as it
// is. This runs in the tool's own processes (its supervisor, a job's runner), as the tool.
import { closeSync, fstatSync, lstatSync, openSync, renameSync, writeSync, constants, type Stats } from 'node:fs';
import { rotationMoves } from '../log-generations.js';
import type { LogCap } from './log-policy.js';

/** the log's name holds a regular file (not a link, a device or a FIFO) that toolhost may rotate */
export function rotatable(file: string): Stats | null {
  try {
    const st = lstatSync(file);
    return st.isFile() ? st : null;
  } catch {
    return null;
  }
}

/** FILE -> FILE.1 -> … -> FILE.keep; generations that do not exist are skipped */
export function rotateNow(file: string, keep: number): void {
  for (const [from, to] of rotationMoves(file, keep)) {
    try {
      renameSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;

/**
 * Append text (whole lines) to a log that other processes may append to as well (~/service.log,
 * toolhost's lines in ~/error.log): the file is rotated first when the text would take it past
 * its cap. Throws what the file system says (the caller decides whether a full disk matters).
 */
export function appendCapped(file: string, text: string, cap: LogCap | null): void {
  let fd = openSync(file, APPEND, 0o640);
  try {
    if (cap) {
      const size = fstatSync(fd).size;
      const here = rotatable(file);
      // the name still holds this very file (not a link, not rotated by someone else meanwhile)
      if (size > 0 && size + Buffer.byteLength(text) > cap.maxBytes && here && here.ino === fstatSync(fd).ino) {
        closeSync(fd);
        fd = -1;
        rotateNow(file, cap.keep);
        fd = openSync(file, APPEND, 0o640);
      }
    }
    writeSync(fd, text);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
