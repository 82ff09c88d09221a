// Who listens where, as the kernel says: the LISTEN sockets of /proc/net/tcp and tcp6 with the
// uid that created each one. This is how the registrar knows that a port belongs to a tool —
// no identd, no pid files, nothing a tool can forge. It sees the network namespace it runs in,
// which is the node's.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { canonicalIp } from '../ip-address.js';

export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
  readonly uid: number;
  readonly inode: number;
}

const LISTEN = '0A';

/** /proc/net's address: IPv4 as one little-endian word, IPv6 as four */
function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    const n = Number.parseInt(hex, 16);
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
  }
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const bytes = [word.slice(6, 8), word.slice(4, 6), word.slice(2, 4), word.slice(0, 2)].join('');
    groups.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  return canonicalIp(groups.join(':')) ?? groups.join(':');
}

export function parseProcNet(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = (lines[i] as string).trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [addr, port] = (f[1] as string).split(':');
    if (!addr || !port) continue;
    out.push({ address: decodeAddress(addr), port: Number.parseInt(port, 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

export async function listeningSockets(procNet = '/proc/net'): Promise<ListeningSocket[]> {
  const read = (name: string): Promise<string> => readFile(`${procNet}/${name}`, 'utf8').catch(() => '');
  const [v4, v6] = await Promise.all([read('tcp'), read('tcp6')]);
  return [...parseProcNet(v4), ...parseProcNet(v6)];
}

/**
 * Whether connections made to `target` surely reach a socket listening on `listening`. A socket
 * on :: takes IPv4 connections only if it is not IPV6_V6ONLY, which /proc does not show: for an
 * IPv4 target it does not count (a tool's server listens on the node's address or 0.0.0.0).
 */
export function listensOn(listening: string, target: string): boolean {
  if (listening === target) return true;
  if (listening === '0.0.0.0') return net.isIPv4(target);
  return listening === '::' && net.isIPv6(target);
}

/** whether connections made to `target` might reach it (a :: socket might take IPv4 too) */
export function mayListenOn(listening: string, target: string): boolean {
  return listensOn(listening, target) || listening === '::';
}
