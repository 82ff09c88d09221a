// Preloaded (NODE_OPTIONS=--import) into a node webservice and every Node process it starts:
// a listen() given a port and no host is bound to HOST, the node's address, instead of Node's
// default `::`, which the node registrar cannot prove takes IPv4 connections for the tool. A
// listen() naming a host, a unix socket path or a handle is left exactly as it was written.
// It runs inside the tool's own server: it imports nothing of toolhost's but its sibling.
import net from 'node:net';
import { withHost, type ListenArgs } from './node-listen-host.js';

const host = process.env.HOST;
if (host) {
  // the method itself, called below with the server it belongs to
  const listen = Reflect.get(net.Server.prototype, 'listen') as (this: net.Server, ...a: ListenArgs) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: ListenArgs) {
    return listen.apply(this, withHost(args, host));
  } as net.Server['listen'];
}
