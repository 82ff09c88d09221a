// More handles on one listening socket. libuv 1.46 (Node 20) accepts a single connection per
// event-loop turn and per handle (strace: accept4 alternates with epoll_pwait and never runs to
// EAGAIN), so a busy proxy took seconds to accept a burst of 512 clients in some benchmark runs.
// Each extra handle on the same socket accepts one more connection per turn. Node 20 has no
// SO_REUSEPORT and no dup(), so the handles come back from a short-lived helper process the
// listening handle is sent to and returned from (Node duplicates a handle on each pass); the
// helper closes its own copies and exits at once. It serves nothing.
import { fork } from 'node:child_process';
import type net from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../package-files.js';

/** how net.Server sets up the sockets it accepts (public fields, not in @types/node) */
interface ServerSocketSettings {
  allowHalfOpen: boolean;
  noDelay: boolean;
  keepAlive: boolean;
}

/** always the compiled helper: a plain .js file needs no TypeScript loader in the child */
const HELPER = path.join(PACKAGE_ROOT, '.build', 'proxy', 'listen-handles-helper.js');

/**
 * `copies` more handles on the socket `server` listens on; fewer (or none) if the helper fails.
 * onSocket gets any connection the helper happened to accept meanwhile.
 */
export function duplicateListenHandles(server: net.Server, copies: number, onSocket: (socket: net.Socket) => void, timeoutMs = 3000): Promise<net.Server[]> {
  if (copies <= 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    // its parent's pid: a proxy killed while the helper was still starting is noticed at once
    const helper = fork(HELPER, [String(process.pid)], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [], env });
    const got: net.Server[] = [];
    const finish = (): void => {
      clearTimeout(timer);
      if (helper.connected) helper.disconnect();
      resolve(got);
    };
    const timer = setTimeout(() => {
      helper.kill('SIGKILL');
      finish();
    }, timeoutMs);
    helper.on('message', (message: unknown, handle: unknown) => {
      if (message === 'socket' && handle) {
        onSocket(handle as net.Socket);
        return;
      }
      if (handle && typeof (handle as net.Server).address === 'function') {
        // the copy accepts sockets as the original would: same half-open and Nagle settings
        const copy = handle as net.Server & ServerSocketSettings;
        const original = server as net.Server & ServerSocketSettings;
        copy.allowHalfOpen = original.allowHalfOpen;
        copy.noDelay = original.noDelay;
        copy.keepAlive = original.keepAlive;
        got.push(copy);
      }
      if (got.length === copies) finish();
    });
    helper.on('error', finish);
    helper.on('exit', finish);
    for (let i = 0; i < copies; i++) helper.send('handle', server);
  });
}
