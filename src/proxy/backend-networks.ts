// Where the proxy may send requests: only into the configured backend networks (default: the
// loopback networks), never to the proxy's own ports or to Redis, and only to IP addresses
// (the proxy resolves no names, so a route cannot be pointed anywhere by DNS).
import net from 'node:net';
import type { BackendPolicy } from '../routes/index.js';

export const DEFAULT_BACKEND_NETWORKS = ['127.0.0.0/8', '::1/128'];

export function backendPolicy(networks: readonly string[], forbidden: readonly { host: string; port: number }[]): BackendPolicy {
  const allowed = new net.BlockList();
  for (const cidr of networks) {
    const [addr, bits] = cidr.split('/');
    const type = net.isIPv6(addr ?? '') ? 'ipv6' : 'ipv4';
    allowed.addSubnet(addr as string, Number(bits ?? (type === 'ipv6' ? 128 : 32)), type);
  }
  const isLoopback = (h: string): boolean => h === 'localhost' || h.startsWith('127.') || h === '::1';
  return (host, port) => {
    const ip = host === 'localhost' ? '127.0.0.1' : host;
    const family = net.isIP(ip);
    if (family === 0) return `${host} is not an IP address: the proxy resolves no names; register http://IP:PORT`;
    if (!allowed.check(ip, family === 6 ? 'ipv6' : 'ipv4')) return `${host} is outside the backend networks (${networks.join(', ')})`;
    for (const f of forbidden) {
      if (f.port === port && (f.host === ip || (isLoopback(ip) && (isLoopback(f.host) || f.host === '0.0.0.0' || f.host === '::')))) {
        return `${host}:${port} is the proxy itself or its Redis, never a backend`;
      }
    }
    return null;
  };
}
