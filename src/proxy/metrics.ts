// Prometheus metrics of the proxy, served on the admin listener only.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface MetricSources {
  openClientSockets(): number;
  openUpstreamSockets(): number;
  routes(): number;
  /** how often a route's routing changed (a lease renewal is not a change) */
  routeRebuilds(): number;
  /** seconds since the route table last heard Redis (0 while it does) */
  routeTableStaleSeconds(): number;
  redisUp(): boolean;
  /** the access log's state, or null when there is none */
  accessLog(): { readonly writable: boolean; readonly linesLost: number } | null;
  /** bytes of request bodies the proxy holds now (memory and temp files) */
  bufferedBodyBytes(): number;
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface MetricValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/**
 * Requests by tool and status class, and their durations: counted in plain typed arrays on the
 * request path and turned into Prometheus values only when scraped. prom-client's own
 * Counter/Histogram hash and validate their labels on every call; in the fast lane that cost a
 * third of the requests per second (measured with wrk, metrics on vs off).
 */
class RequestStats {
  readonly #byTool = new Map<string, Float64Array>();
  /** per status class: one slot per bucket, then +Inf */
  readonly #buckets = CLASSES.map(() => new Float64Array(BUCKETS.length + 1));
  readonly #sums = new Float64Array(CLASSES.length);
  readonly #counts = new Float64Array(CLASSES.length);

  /** a tool left the route table: its series go with it, so their number stays bounded */
  forget(tool: string): void {
    this.#byTool.delete(tool);
  }

  observe(tool: string, status: number, seconds: number): void {
    const cls = status >= 500 ? 4 : status >= 400 ? 3 : status >= 300 ? 2 : status >= 200 ? 1 : 0;
    let perClass = this.#byTool.get(tool);
    if (!perClass) {
      perClass = new Float64Array(CLASSES.length);
      this.#byTool.set(tool, perClass);
    }
    perClass[cls] = (perClass[cls] as number) + 1;
    let b = 0;
    while (b < BUCKETS.length && seconds > (BUCKETS[b] as number)) b++;
    const buckets = this.#buckets[cls] as Float64Array;
    buckets[b] = (buckets[b] as number) + 1;
    this.#sums[cls] = (this.#sums[cls] as number) + seconds;
    this.#counts[cls] = (this.#counts[cls] as number) + 1;
  }

  requestValues(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const [tool, perClass] of this.#byTool) {
      CLASSES.forEach((c, i) => {
        if ((perClass[i] as number) > 0) out.push({ value: perClass[i] as number, labels: { tool, status_class: c } });
      });
    }
    return out;
  }

  durationValues(name: string): MetricValue[] {
    const out: MetricValue[] = [];
    CLASSES.forEach((c, i) => {
      const count = this.#counts[i] as number;
      if (count === 0) return;
      const buckets = this.#buckets[i] as Float64Array;
      let cumulative = 0;
      BUCKETS.forEach((le, b) => {
        cumulative += buckets[b] as number;
        out.push({ value: cumulative, labels: { le, status_class: c }, metricName: `${name}_bucket` });
      });
      out.push({ value: count, labels: { le: '+Inf', status_class: c }, metricName: `${name}_bucket` });
      out.push({ value: this.#sums[i] as number, labels: { status_class: c }, metricName: `${name}_sum` });
      out.push({ value: count, labels: { status_class: c }, metricName: `${name}_count` });
    });
    return out;
  }
}

/** a metric prom-client's registry reads like its own, with values computed at scrape time */
function scrapedMetric(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => MetricValue[]): Parameters<Registry['registerMetric']>[0] {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {},
  };
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly retries: Counter;
  readonly routeProblems: Counter;
  readonly #stats = new RequestStats();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'toolhost_proxy_process_' });
    this.registry.registerMetric(
      scrapedMetric('toolhost_proxy_requests_total', 'Requests answered, by tool (only tools in the route table; "" for every other name) and status class (1xx to 5xx)', 'counter', () => this.#stats.requestValues()),
    );
    const duration = 'toolhost_proxy_request_duration_seconds';
    this.registry.registerMetric(scrapedMetric(duration, 'Time from request to the end of the response', 'histogram', () => this.#stats.durationValues(duration)));
    this.retries = new Counter({ name: 'toolhost_proxy_retries_total', help: 'Idempotent requests retried on another backend', registers });
    this.routeProblems = new Counter({ name: 'toolhost_proxy_route_problems_total', help: 'Route entries skipped as invalid', registers });
    new Gauge({ name: 'toolhost_proxy_open_client_sockets', help: 'Open client connections', registers, collect() { this.set(sources.openClientSockets()); } });
    new Gauge({ name: 'toolhost_proxy_open_upstream_sockets', help: 'Open connections to backends (pooled, active and websocket)', registers, collect() { this.set(sources.openUpstreamSockets()); } });
    new Gauge({ name: 'toolhost_proxy_routes', help: 'Tools in the in-memory route table', registers, collect() { this.set(sources.routes()); } });
    new Gauge({ name: 'toolhost_proxy_redis_up', help: '1 when the route table is connected to Redis', registers, collect() { this.set(sources.redisUp() ? 1 : 0); } });
    this.registry.registerMetric(
      scrapedMetric('toolhost_proxy_route_rebuilds_total', 'Routes rebuilt because where requests go (or a description) changed; lease renewals rebuild nothing', 'counter', () => [{ value: sources.routeRebuilds(), labels: {} }]),
    );
    new Gauge({ name: 'toolhost_proxy_route_table_stale_seconds', help: 'Seconds since the route table last heard Redis (0 while it does); the table is served as it was', registers, collect() { this.set(sources.routeTableStaleSeconds()); } });
    new Gauge({ name: 'toolhost_proxy_request_body_buffered_bytes', help: 'Request body bytes held by the proxy before forwarding (memory and temp files)', registers, collect() { this.set(sources.bufferedBodyBytes()); } });
    this.registry.registerMetric(
      scrapedMetric('toolhost_proxy_access_log_writable', '1 while the access log is written, 0 while writes fail (absent without an access log)', 'gauge', () => {
        const s = sources.accessLog();
        return s ? [{ value: s.writable ? 1 : 0, labels: {} }] : [];
      }),
    );
    this.registry.registerMetric(
      scrapedMetric('toolhost_proxy_access_log_lines_lost_total', 'Access-log lines dropped (failed writes, or a queue full because the disk is slower than the requests)', 'counter', () => {
        const s = sources.accessLog();
        return s ? [{ value: s.linesLost, labels: {} }] : [];
      }),
    );
  }

  /** tool: a tool in the route table, or '' (none, or a name nobody routes) */
  observe(tool: string, status: number, seconds: number): void {
    this.#stats.observe(tool, status, seconds);
  }

  /** a tool left the route table */
  forgetTool(tool: string): void {
    this.#stats.forget(tool);
  }
}
