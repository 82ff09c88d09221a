// The proxy's own short answers on a raw connection: the status line, and the empty answer
// after which a connection is closed (header overflow, timeouts, refused upgrades).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`;
}

/** an empty answer that tells the client the connection closes */
export function closingAnswer(status: number): string {
  return `${statusLine(status)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}

/** answer with an empty `status` and close the connection */
export function refuse(socket: Duplex, status: number): void {
  if (socket.writable) socket.end(closingAnswer(status));
  socket.destroy();
}
