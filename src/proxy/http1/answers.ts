// The proxy's own short answers on a raw connection: the status line, and the empty answer
// after which a connection is closed (a refused head, timeouts, refused upgrades).
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { proxyStatus, type ProxyErrorCode } from '../error-pages.js';
import { dateLine } from './http-date.js';

/**
 * How long a refused connection is read and discarded before it is cut. Destroying a socket
 * with unread input sends a reset, which can wipe the answer out of the client's buffers
 * before it reads it (nginx's lingering close exists for this).
 */
const LINGER_MS = 2000;

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`;
}

/** an empty answer with CODE's status and the code, that tells the client the connection closes */
export function closingAnswer(code: ProxyErrorCode): string {
  return `${statusLine(proxyStatus(code))}\r\n${dateLine()}x-toolhost-error: ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
}

/** write `bytes` as the last thing on this connection, then close it (lingering, see LINGER_MS) */
export function endWith(socket: Duplex, bytes: string | Buffer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(bytes);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', discard);
  socket.resume();
}

function discard(): void {
  // input after the last answer is read only so that closing does not reset the connection
}

/** answer with CODE's empty answer and close the connection */
export function refuse(socket: Duplex, code: ProxyErrorCode): void {
  endWith(socket, closingAnswer(code));
}
