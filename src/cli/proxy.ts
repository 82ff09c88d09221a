// `toolhost proxy`: run the front proxy until SIGTERM/SIGINT (graceful close), reopening its
// access log on SIGHUP.
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import type { CliIo } from './io.js';
import { addRedisOptions } from './redis-options.js';
import type { ProxyCliOptions } from './proxy-settings.js';

export function registerProxyCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  addRedisOptions(
    program
      .command('proxy')
      .description('run the front proxy: /<tool>/ and <tool>.<domain> to each tool\'s backend')
      .option('--config <file>', 'settings file (JSON, like conf/toolhost.json; or TOOLHOST_CONFIG)')
      .option('--listen <host:port>', 'public HTTP listener (default 0.0.0.0:8080)')
      .option('--admin-listen <host:port>', 'admin listener for /metrics and /routes, or "none" (default 127.0.0.1:9090)'),
    'the route table (the proxy user of toolhost tool proxy-user)',
  )
    .option('--domain <domain>', 'also route <tool>.<domain> by host')
    .option('--no-path-routing', 'route by host only')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS, redirect HTTP to it, send HSTS')
    .option('--tls-key <file>', 'PEM key for --tls-cert')
    .option('--https-listen <host:port>', 'HTTPS listener (default 0.0.0.0:8443)')
    .option('--https-public-port <port>', 'the HTTPS port clients see, for redirects (default: that of --https-listen)')
    .option('--access-log <file>', 'anonymized access log (no client addresses), rotated by size')
    .option('--response-timeout <seconds>', 'time a backend has to start its response before 504 (default 120)')
    .option('--resync-interval <seconds>', 'full route-table resync period (default 30)')
    .option('--redis-wait <seconds>', 'how long to wait for Redis at start before listening anyway (default 10)')
    .option('--title <text>', 'home page title')
    .option('--rate-limit <per-second>', 'requests per second per client address, burst the same unless --rate-burst; 0: off (default 100)')
    .option('--rate-burst <requests>', 'requests a client address may send at once before the rate applies (default: the rate)')
    .option('--max-body-mb <mb>', 'largest request body (default 128); larger: 413')
    .option('--buffer-body-mb <mb>', 'request bodies up to this size are held by the proxy before the tool is connected; larger ones stream (default 16; 0: all stream)')
    .option('--connect-timeout <seconds>', 'time a backend has to accept a connection before 504, after which it is skipped for 5 s (default 5)')
    .option('--no-rewrite-location', 'with TLS, pass a tool\'s Location: http://<this host>/... on unchanged (default: rewritten to https)')
    .option('--allow-trace', 'pass TRACE requests on to tools (default: 405)')
    .option('--max-connections-per-ip <n>', 'open connections per client address; 0: no limit (default 256)')
    .option('--empty-user-agent <allow|deny>', 'deny: requests without User-Agent get 403 (default allow)')
    .option('--backend-networks <cidrs>', 'comma-separated CIDRs backends may be in (default 127.0.0.0/8,::1/128)')
    .action(async (opts: ProxyCliOptions) => {
      // the proxy loads when it runs, not for `toolhost proxy --help` (#14)
      const [{ ProxyServer }, { describeRedis }, { resolveProxySettings }] = await Promise.all([import('../proxy/index.js'), import('../routes/index.js'), import('./proxy-settings.js')]);
      const { options, redisWaitMs } = resolveProxySettings(opts, io.env, io.cwd);
      const proxy = new ProxyServer({ ...options, log: (line) => io.err(`toolhost proxy: ${line}\n`) });
      try {
        await proxy.start(redisWaitMs);
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
        proxy.destroy();
        if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
          throw new ToolhostError('TH_ERR_LISTEN_FAILED', `${e.address ?? '?'}:${e.port ?? '?'}`, e.code);
        }
        throw err;
      }
      const a = proxy.addresses();
      io.err(
        `toolhost proxy: listening on http://${a.http.address}:${a.http.port}` +
          (a.https ? `, https://${a.https.address}:${a.https.port}` : '') +
          (a.admin ? `; admin http://${a.admin.address}:${a.admin.port}/metrics` : '') +
          `; routes from ${describeRedis(options.redis)} (${proxy.routeTable.size} tools)\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGHUP', hup);
          resolve();
        };
        const hup = (): void => proxy.reopenLogs();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        process.on('SIGHUP', hup);
      });
      await proxy.close();
      setExit(0);
    });
}
