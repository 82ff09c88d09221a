// How a process that may be root reads a file a tool controls (~/service.manifest, a pid file):
// opened without following a link at its last component, and trusted only if it is a regular
// file owned by the tool. A link, a FIFO or a hard link to someone else's file is refused, so a
// tool can never make root read (or block on) what is not the tool's own. Writes never happen
// here: root drops to the tool's uid before it writes anything a tool controls.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Owner } from './tool-account.js';

export type OwnedRead = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly missing: boolean; readonly reason: string };

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** the file's first maxBytes as UTF-8, if it is a regular file owned by owner.uid */
export function readOwnedFile(file: string, owner: Pick<Owner, 'uid'>, maxBytes = 64 * 1024): OwnedRead {
  return readOwned(file, owner, maxBytes, 'head');
}

/** the file's last maxBytes (a log's tail), under the same rules */
export function readOwnedTail(file: string, owner: Pick<Owner, 'uid'>, maxBytes = 64 * 1024): OwnedRead {
  return readOwned(file, owner, maxBytes, 'tail');
}

function readOwned(file: string, owner: Pick<Owner, 'uid'>, maxBytes: number, end: 'head' | 'tail'): OwnedRead {
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, reason: 'missing' };
    if (code === 'ELOOP') return { ok: false, missing: false, reason: 'it is a symbolic link' };
    return { ok: false, missing: false, reason: `cannot open it (${code ?? 'error'})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, missing: false, reason: 'it is not a regular file' };
    if (st.uid !== owner.uid) return { ok: false, missing: false, reason: `it is owned by uid ${st.uid}, not the tool (uid ${owner.uid})` };
    const buf = Buffer.alloc(Math.min(maxBytes, Math.max(0, st.size)));
    const from = end === 'tail' ? Math.max(0, st.size - buf.length) : 0;
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return { ok: true, text: buf.subarray(0, got).toString('utf8') };
  } finally {
    closeSync(fd);
  }
}
