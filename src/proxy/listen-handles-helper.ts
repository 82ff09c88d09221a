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
