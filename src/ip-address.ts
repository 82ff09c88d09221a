// One spelling for every IP address, so that checks compare addresses and not text: IPv4
// dotted, IPv6 compressed lower-case, an IPv4-mapped IPv6 address (::ffff:127.0.0.1) as the
// IPv4 address it is. Used wherever an address decides something (the proxy's backend policy,
// the registrar's view of listening sockets). Imports nothing of ours.
import net from 'node:net';
import os from 'node:os';

/** the canonical form of an IP address, or null when it is not one */
export function canonicalIp(text: string): string | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const family = net.isIP(bare);
  if (family === 0) return null;
  const address = new net.SocketAddress({ address: bare, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

export function isLoopbackIp(ip: string): boolean {
  return ip === '::1' || (net.isIPv4(ip) && ip.startsWith('127.'));
}

/** 0.0.0.0 and ::: an address to listen on, never one to connect to */
export function isUnspecifiedIp(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** every address of this host (its interfaces), canonical */
export function hostAddresses(): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const c = canonicalIp(a.address.split('%')[0] as string);
      if (c) out.add(c);
    }
  }
  return out;
}
