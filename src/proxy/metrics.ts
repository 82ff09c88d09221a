// Prometheus metrics of the proxy, served on the admin listener only.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface MetricSources {
  openClientSockets(): number;
  openUpstreamSockets(): number;
  routes(): number;
  redisUp(): boolean;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'tool' | 'status_class'>;
  readonly duration: Histogram<'status_class'>;
  readonly retries: Counter;
  readonly routeProblems: Counter;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'toolhost_proxy_process_' });
    this.requests = new Counter({
      name: 'toolhost_proxy_requests_total',
      help: 'Requests answered, by tool ("" for none) and status class (2xx, 3xx, 4xx, 5xx)',
      labelNames: ['tool', 'status_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'toolhost_proxy_request_duration_seconds',
      help: 'Time from request to the end of the response',
      labelNames: ['status_class'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.retries = new Counter({ name: 'toolhost_proxy_retries_total', help: 'Idempotent requests retried on another backend', registers });
    this.routeProblems = new Counter({ name: 'toolhost_proxy_route_problems_total', help: 'Route entries skipped as invalid', registers });
    new Gauge({ name: 'toolhost_proxy_open_client_sockets', help: 'Open client connections', registers, collect() { this.set(sources.openClientSockets()); } });
    new Gauge({ name: 'toolhost_proxy_open_upstream_sockets', help: 'Open connections to backends (pooled, active and websocket)', registers, collect() { this.set(sources.openUpstreamSockets()); } });
    new Gauge({ name: 'toolhost_proxy_routes', help: 'Tools in the in-memory route table', registers, collect() { this.set(sources.routes()); } });
    new Gauge({ name: 'toolhost_proxy_redis_up', help: '1 when the route table is connected to Redis', registers, collect() { this.set(sources.redisUp() ? 1 : 0); } });
  }

  /**
   * Label children per tool and status class, looked up once: prom-client hashes a label
   * object on every inc(), which showed in the proxy's CPU profile under load.
   */
  readonly #byTool = new Map<string, Counter.Internal[]>();
  #durationByClass: Histogram.Internal<'status_class'>[] | null = null;

  observe(tool: string, status: number, seconds: number): void {
    const cls = status >= 500 ? 4 : status >= 400 ? 3 : status >= 300 ? 2 : status >= 200 ? 1 : 0;
    let counters = this.#byTool.get(tool);
    if (!counters) {
      counters = CLASSES.map((c) => this.requests.labels(tool, c));
      this.#byTool.set(tool, counters);
    }
    (counters[cls] as Counter.Internal).inc();
    this.#durationByClass ??= CLASSES.map((c) => this.duration.labels(c));
    (this.#durationByClass[cls] as Histogram.Internal<'status_class'>).observe(seconds);
  }
}
