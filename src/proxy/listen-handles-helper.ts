// The helper of listen-handles.ts: returns each listening handle it is sent and closes its own
// copy. A connection its copy accepted in the instant before closing is sent back too, so none
// is lost; it exits when the proxy disconnects.
import type net from 'node:net';

process.on('message', (message: unknown, handle: unknown) => {
  const server = handle as net.Server | undefined;
  if (!server) return;
  server.on('connection', (socket: net.Socket) => process.send?.('socket', socket));
  process.send?.(message, server, () => server.close());
});
process.on('disconnect', () => process.exit(0));
// 'disconnect' waits for handle sends the proxy acknowledges, and never comes to a helper whose
// proxy died while it was starting; a helper left holding copies of the listening socket keeps
// the port from a restarted proxy. Its work takes milliseconds: it goes as soon as its proxy
// (whose pid it is given) is not its parent any more, and after 10 s in any case.
const parent = Number(process.argv[2]);
const orphaned = (): void => {
  if (process.ppid !== parent) process.exit(0);
};
orphaned();
setInterval(orphaned, 100).unref();
setTimeout(() => process.exit(0), 10_000);
