// One record per request, built in one place for every path (the fast lane, Node's server,
// upgrades, refused heads): the access-log line and the metrics. Metrics are labelled only with
// tools the route table has, so a stranger asking for a thousand made-up names adds no series:
// those are counted under tool="".
import type { AccessLog, AccessRecord } from './access-log.js';
import { proxyStatus, type ProxyErrorCode } from './error-pages.js';
import type { ProxyMetrics } from './metrics.js';

export interface ExchangeRecord {
  /** '-' for a head refused before it could be read */
  readonly method: string;
  /** the target as the client sent it */
  readonly target: string;
  readonly httpVersion: string;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
  /** the tool asked for ('' when none) */
  readonly tool: string;
  readonly status: number;
  /** body bytes sent to the client */
  readonly bytes: number;
  readonly durationMs: number;
  /** the TH_ERR_PROXY_* code when the proxy answered with one of its error pages */
  readonly error?: string | undefined;
}

export function accessRecord(r: ExchangeRecord, time: Date): AccessRecord {
  return {
    time,
    method: r.method,
    url: r.target,
    httpVersion: r.httpVersion,
    status: r.status,
    bytes: r.bytes,
    referer: r.referer,
    userAgent: r.userAgent,
    tool: r.tool,
    durationMs: r.durationMs,
    error: r.error,
  };
}

export class RequestRecorder {
  readonly #metrics: ProxyMetrics;
  readonly #log: AccessLog | null;
  readonly #isRouted: (tool: string) => boolean;

  constructor(metrics: ProxyMetrics, log: AccessLog | null, isRouted: (tool: string) => boolean) {
    this.#metrics = metrics;
    this.#log = log;
    this.#isRouted = isRouted;
  }

  record(r: ExchangeRecord): void {
    this.#metrics.observe(r.tool !== '' && this.#isRouted(r.tool) ? r.tool : '', r.status, r.durationMs / 1000);
    this.#log?.write(accessRecord(r, new Date()));
  }

  /** a head answered before it could be read as a request (400, 408, 431) */
  refused(code: ProxyErrorCode): void {
    this.record({ method: '-', target: '', httpVersion: '', referer: undefined, userAgent: undefined, tool: '', status: proxyStatus(code), bytes: 0, durationMs: 0, error: code });
  }
}
