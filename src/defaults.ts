// Every default of toolhost's settings, written down once (#14). conf/toolhost.json is the same
// values as a file operators read and copy (a test keeps the two equal); the proxy, the monitor's
// mail, the tool log caps and the Redis address read their fallbacks from here and nowhere else.
// Units are the settings file's (seconds, bytes); code that wants milliseconds converts.
// This module imports nothing of ours, so every layer may depend on it.

export interface DefaultSettings {
  readonly listen: string;
  readonly adminListen: string;
  readonly redis: string;
  readonly redisSentinels: null;
  readonly redisMaster: null;
  readonly domain: null;
  readonly pathRouting: boolean;
  readonly tls: null;
  readonly accessLog: null;
  readonly responseTimeoutSeconds: number;
  readonly connectTimeoutSeconds: number;
  readonly websocketIdleTimeoutSeconds: number;
  readonly rewriteLocation: boolean;
  readonly allowTrace: boolean;
  readonly bodyTempDir: null;
  readonly resyncIntervalSeconds: number;
  readonly redisWaitSeconds: number;
  readonly title: string;
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxHeaderBytes: number;
    readonly maxConnectionsPerIp: number;
    readonly ratePerSecond: number;
    readonly burst: number;
    readonly emptyUserAgent: 'allow' | 'deny';
    readonly headersTimeoutSeconds: number;
    readonly requestTimeoutSeconds: number;
    readonly bufferBodyBytes: number;
    readonly bufferTotalBytes: number;
  };
  readonly toolLogs: {
    readonly maxBytes: number;
    readonly keep: number;
    readonly internalMaxBytes: number;
    readonly tools: Readonly<Record<string, never>>;
  };
  readonly backendNetworks: readonly string[];
  readonly mail: {
    readonly smtp: null;
    readonly from: null;
    readonly digestSeconds: number;
    readonly hourlyCap: number;
  };
}

const MiB = 1024 * 1024;

export const DEFAULT_SETTINGS: DefaultSettings = {
  listen: '0.0.0.0:8080',
  adminListen: '127.0.0.1:9090',
  redis: 'redis://127.0.0.1:6379',
  redisSentinels: null,
  redisMaster: null,
  domain: null,
  pathRouting: true,
  tls: null,
  accessLog: null,
  responseTimeoutSeconds: 120,
  connectTimeoutSeconds: 5,
  websocketIdleTimeoutSeconds: 3600,
  rewriteLocation: true,
  allowTrace: false,
  bodyTempDir: null,
  resyncIntervalSeconds: 30,
  redisWaitSeconds: 10,
  title: 'Tools',
  limits: {
    maxBodyBytes: 128 * MiB,
    maxHeaderBytes: 16 * 1024,
    maxConnectionsPerIp: 256,
    ratePerSecond: 100,
    burst: 100,
    emptyUserAgent: 'allow',
    headersTimeoutSeconds: 20,
    requestTimeoutSeconds: 300,
    bufferBodyBytes: 16 * MiB,
    bufferTotalBytes: 1024 * MiB,
  },
  toolLogs: {
    maxBytes: 32 * MiB,
    keep: 3,
    internalMaxBytes: 4 * MiB,
    tools: {},
  },
  backendNetworks: ['127.0.0.0/8', '::1/128'],
  mail: {
    smtp: null,
    from: null,
    digestSeconds: 600,
    hourlyCap: 6,
  },
};

/** the route table's Redis when no option, variable or settings file names one */
export const DEFAULT_REDIS_URL = DEFAULT_SETTINGS.redis;
/** the HTTPS listener when TLS is on and no address is given (not in the file: tls is null there) */
export const DEFAULT_HTTPS_LISTEN = '0.0.0.0:8443';
