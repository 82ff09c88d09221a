// Where the proxy may send requests: only into the configured backend networks (default: the
// loopback networks), never to the proxy's own listeners or to its Redis, and only to IP
// addresses (the proxy resolves no names, so a route cannot be pointed anywhere by DNS).
// Addresses are compared in one canonical spelling (src/ip-address.ts): 127.1, 0x7f.1,
// 2130706433, [::ffff:127.0.0.1] and 127.0.0.1 are one address; a listener on 0.0.0.0 or :: is
// every address of this host; 0.0.0.0 and :: are never destinations.
import net from 'node:net';
import { DEFAULT_SETTINGS } from '../defaults.js';
import { canonicalIp, hostAddresses, isLoopbackIp, isUnspecifiedIp } from '../ip-address.js';
import type { BackendPolicy } from '../routes/index.js';

export const DEFAULT_BACKEND_NETWORKS = DEFAULT_SETTINGS.backendNetworks;

/** a listener the proxy must never forward to: its own, or its Redis */
export interface Forbidden {
  readonly host: string;
  readonly port: number;
}

export function backendPolicy(networks: readonly string[], forbidden: readonly Forbidden[]): BackendPolicy {
  const allowed = new net.BlockList();
  for (const cidr of networks) {
    const [addr, bits] = cidr.split('/');
    const ip = canonicalIp(addr ?? '') ?? '';
    const type = net.isIPv6(ip) ? 'ipv6' : 'ipv4';
    allowed.addSubnet(ip, Number(bits ?? (type === 'ipv6' ? 128 : 32)), type);
  }
  const self = hostAddresses();
  /** whether a forbidden listener accepts connections made to ip */
  const reaches = (f: Forbidden, ip: string): boolean => {
    const listener = f.host === 'localhost' ? '127.0.0.1' : canonicalIp(f.host);
    // a name we cannot compare (a Redis host name): any address of this host may be it
    if (listener === null) return self.has(ip) || isLoopbackIp(ip);
    if (isUnspecifiedIp(listener)) return self.has(ip) || isLoopbackIp(ip);
    if (isLoopbackIp(listener)) return isLoopbackIp(ip);
    return listener === ip;
  };
  return (host, port) => {
    const ip = host === 'localhost' ? '127.0.0.1' : canonicalIp(host);
    if (ip === null) return `${host} is not an IP address: the proxy resolves no names; register http://IP:PORT`;
    if (isUnspecifiedIp(ip)) return `${host} is not a destination (it means "any address")`;
    if (!allowed.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4')) return `${host} is outside the backend networks (${networks.join(', ')})`;
    for (const f of forbidden) {
      if (f.port === port && reaches(f, ip)) return `${host}:${port} is the proxy itself or its Redis, never a backend`;
    }
    return null;
  };
}
