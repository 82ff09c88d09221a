// The admin listener: /metrics (Prometheus), /routes (the in-memory table as JSON) and the health
// check, for operators only; never on the public listeners.
import http from 'node:http';
import type { RouteTable } from '../routes/index.js';
import type { ProxyMetrics } from './metrics.js';

export interface AdminSources {
  readonly metrics: ProxyMetrics;
  readonly table: RouteTable;
  /** the health check's body (the same text as on the public listener) */
  health(): string;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
  res.end(body);
}

export function createAdminServer(sources: AdminSources): http.Server {
  return http.createServer((req, res) => {
    void answer(sources, req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'metrics failed\n');
      else res.destroy();
    });
  });
}

async function answer(sources: AdminSources, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/metrics') {
    const registry = sources.metrics.registry;
    send(res, 200, registry.contentType, await registry.metrics());
    return;
  }
  if (path === '/routes') {
    const routes = [...sources.table.routes()].map((r) => ({ tool: r.tool, backends: r.backends.map((b) => ({ id: b.id, url: b.url, leaseUntil: b.leaseUntil })), description: r.description }));
    send(res, 200, 'application/json', `${JSON.stringify({ redis: sources.table.state, routes })}\n`);
    return;
  }
  if (path === '/.well-known/healthz') {
    send(res, 200, 'text/plain; charset=utf-8', sources.health());
    return;
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /routes\n');
}
