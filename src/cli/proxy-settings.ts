// `toolhost proxy` settings: command-line options over environment over the configuration file
// (--config or TOOLHOST_CONFIG) over conf/toolhost.json over src/defaults.ts (which the shipped
// conf/toolhost.json equals). Validated once, here, into the typed options the proxy takes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_HTTPS_LISTEN, DEFAULT_SETTINGS } from '../defaults.js';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';
import type { ListenAddress, ProxyOptions } from '../proxy/index.js';
import { redisConnectionFrom } from '../routes/index.js';

export interface ProxyCliOptions {
  config?: string;
  listen?: string;
  adminListen?: string;
  redis?: string;
  redisFile?: string;
  redisSentinels?: string;
  redisMaster?: string;
  domain?: string;
  pathRouting?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  httpsListen?: string;
  httpsPublicPort?: string;
  accessLog?: string;
  responseTimeout?: string;
  resyncInterval?: string;
  redisWait?: string;
  title?: string;
  rateLimit?: string;
  rateBurst?: string;
  maxBodyMb?: string;
  bufferBodyMb?: string;
  connectTimeout?: string;
  rewriteLocation?: boolean;
  allowTrace?: boolean;
  maxConnectionsPerIp?: string;
  emptyUserAgent?: string;
  backendNetworks?: string;
}

interface FileSettings {
  listen?: string;
  adminListen?: string | null;
  redis?: string;
  /** sentinels as "HOST:PORT,…" or a list; with redisMaster, the master they name */
  redisSentinels?: string | string[] | null;
  redisMaster?: string | null;
  domain?: string | null;
  pathRouting?: boolean;
  tls?: { cert: string; key: string; listen: string; publicPort?: number } | null;
  accessLog?: { file: string; maxBytes?: number; keep?: number } | string | null;
  responseTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  websocketIdleTimeoutSeconds?: number;
  rewriteLocation?: boolean;
  allowTrace?: boolean;
  bodyTempDir?: string | null;
  resyncIntervalSeconds?: number;
  redisWaitSeconds?: number;
  title?: string;
  limits?: {
    maxBodyBytes?: number;
    maxHeaderBytes?: number;
    maxConnectionsPerIp?: number;
    ratePerSecond?: number;
    burst?: number;
    emptyUserAgent?: 'allow' | 'deny';
    headersTimeoutSeconds?: number;
    requestTimeoutSeconds?: number;
    bufferBodyBytes?: number;
    bufferTotalBytes?: number;
  };
  backendNetworks?: string[];
}

export function parseListen(value: string, option: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ToolhostError('TH_ERR_LISTEN_ADDRESS_INVALID', value, option);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** src/defaults.ts, under conf/toolhost.json, under the operator's settings file (--config or TOOLHOST_CONFIG) when there is one */
export function layeredSettings<T extends object>(configFile: string | undefined, cwd: string): { settings: T; where: string } {
  const installed = readSettings(path.join(PACKAGE_ROOT, 'conf', 'toolhost.json'), cwd);
  const file = configFile ? readSettings(configFile, cwd) : {};
  return { settings: { ...DEFAULT_SETTINGS, ...installed, ...file } as T, where: configFile ?? 'conf/toolhost.json' };
}

function readSettings(file: string, cwd: string): object {
  const full = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, (err as Error).message);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, 'the top level must be an object');
  return parsed;
}

function seconds(value: string | number | undefined, fallback: number, what: string, file: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, `${what} must be a number of seconds, not ${JSON.stringify(value)}`);
  return n * 1000;
}

export interface ResolvedProxySettings {
  readonly options: ProxyOptions;
  readonly redisWaitMs: number;
}

export function resolveProxySettings(
  cli: ProxyCliOptions,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): ResolvedProxySettings {
  const { settings: s, where } = layeredSettings<FileSettings>(cli.config ?? env.TOOLHOST_CONFIG, cwd);

  const listen = parseListen(cli.listen ?? s.listen ?? DEFAULT_SETTINGS.listen, '--listen');
  const adminRaw = cli.adminListen ?? s.adminListen ?? null;
  const adminListen = adminRaw === null || adminRaw === 'none' ? null : parseListen(adminRaw, '--admin-listen');
  // the option (never with a password: every user reads a command line) or a secret file, the
  // environment, then the settings file (a redis:// or redis-sentinel:// URL)
  const redis = redisConnectionFrom(cli, env, {
    redis: s.redis,
    redisSentinels: Array.isArray(s.redisSentinels) ? s.redisSentinels.join(',') : (s.redisSentinels ?? undefined),
    redisMaster: s.redisMaster ?? undefined,
  });
  const domainRaw = cli.domain ?? s.domain ?? null;
  const domain = domainRaw ? domainRaw.toLowerCase().replace(/^\.+|\.+$/g, '') : null;

  let tls: ProxyOptions['tls'] = null;
  const cert = cli.tlsCert ?? s.tls?.cert;
  const key = cli.tlsKey ?? s.tls?.key;
  if (cert || key) {
    if (!cert || !key) throw new ToolhostError('TH_ERR_USAGE', 'HTTPS needs both --tls-cert and --tls-key');
    for (const [kind, f] of [['certificate', cert], ['key', key]] as const) {
      try {
        readFileSync(path.resolve(cwd, f));
      } catch (err) {
        throw new ToolhostError('TH_ERR_TLS_FILES', kind, f, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
    const httpsListen = parseListen(cli.httpsListen ?? s.tls?.listen ?? DEFAULT_HTTPS_LISTEN, '--https-listen');
    const publicPort = cli.httpsPublicPort !== undefined ? Number(cli.httpsPublicPort) : s.tls?.publicPort;
    tls = { certFile: path.resolve(cwd, cert), keyFile: path.resolve(cwd, key), listen: httpsListen, ...(publicPort !== undefined ? { publicPort } : {}) };
  }

  const logSetting = cli.accessLog ?? s.accessLog ?? null;
  const accessLog =
    logSetting === null || logSetting === 'none'
      ? null
      : typeof logSetting === 'string'
        ? { file: path.resolve(cwd, logSetting) }
        : { ...logSetting, file: path.resolve(cwd, logSetting.file) };

  const fl = s.limits ?? {};
  const num = (cliValue: string | undefined, fileValue: number | undefined, fallback: number, what: string): number => {
    const v = cliValue !== undefined ? Number(cliValue) : (fileValue ?? fallback);
    if (!Number.isFinite(v) || v < 0) throw new ToolhostError('TH_ERR_CONFIG_INVALID', where, `${what} must be a number ≥ 0, not ${JSON.stringify(cliValue ?? fileValue)}`);
    return v;
  };
  const ua = cli.emptyUserAgent ?? fl.emptyUserAgent ?? DEFAULT_SETTINGS.limits.emptyUserAgent;
  if (ua !== 'allow' && ua !== 'deny') throw new ToolhostError('TH_ERR_USAGE', `--empty-user-agent takes allow or deny, not "${ua}"`);
  const rate = num(cli.rateLimit, fl.ratePerSecond, DEFAULT_SETTINGS.limits.ratePerSecond, 'limits.ratePerSecond');
  // --rate-limit N means a burst of N too (its help says so), whatever the file's burst is
  const burst =
    cli.rateBurst !== undefined ? num(cli.rateBurst, undefined, 1, '--rate-burst') : cli.rateLimit !== undefined ? Math.max(1, rate) : num(undefined, fl.burst, Math.max(1, rate), 'limits.burst');
  const mb = (cliValue: string | undefined, fileValue: number | undefined, fallbackBytes: number, option: string, key: string): number =>
    cliValue !== undefined ? num(cliValue, undefined, 0, option) * 1024 * 1024 : num(undefined, fileValue, fallbackBytes, key);
  const limits = {
    maxBodyBytes: mb(cli.maxBodyMb, fl.maxBodyBytes, DEFAULT_SETTINGS.limits.maxBodyBytes, '--max-body-mb', 'limits.maxBodyBytes'),
    maxHeaderBytes: num(undefined, fl.maxHeaderBytes, DEFAULT_SETTINGS.limits.maxHeaderBytes, 'limits.maxHeaderBytes'),
    maxConnectionsPerIp: num(cli.maxConnectionsPerIp, fl.maxConnectionsPerIp, DEFAULT_SETTINGS.limits.maxConnectionsPerIp, 'limits.maxConnectionsPerIp'),
    ratePerSecond: rate,
    burst,
    emptyUserAgent: ua,
    headersTimeoutMs: seconds(fl.headersTimeoutSeconds, DEFAULT_SETTINGS.limits.headersTimeoutSeconds * 1000, 'limits.headersTimeoutSeconds', where),
    requestTimeoutMs: seconds(fl.requestTimeoutSeconds, DEFAULT_SETTINGS.limits.requestTimeoutSeconds * 1000, 'limits.requestTimeoutSeconds', where),
    bufferBodyBytes: mb(cli.bufferBodyMb, fl.bufferBodyBytes, DEFAULT_SETTINGS.limits.bufferBodyBytes, '--buffer-body-mb', 'limits.bufferBodyBytes'),
    bufferTotalBytes: num(undefined, fl.bufferTotalBytes, DEFAULT_SETTINGS.limits.bufferTotalBytes, 'limits.bufferTotalBytes'),
  } as const;
  const backendNetworks = cli.backendNetworks ? cli.backendNetworks.split(',').map((x) => x.trim()).filter(Boolean) : s.backendNetworks;
  for (const cidr of backendNetworks ?? []) {
    if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(cidr)) throw new ToolhostError('TH_ERR_CONFIG_INVALID', where, `backend network "${cidr}" is not a CIDR like 10.0.0.0/8`);
  }

  return {
    options: {
      limits,
      ...(backendNetworks ? { backendNetworks } : {}),
      listen,
      adminListen,
      redis,
      domain,
      pathRouting: cli.pathRouting === false ? false : (s.pathRouting ?? DEFAULT_SETTINGS.pathRouting),
      tls,
      accessLog,
      responseTimeoutMs: seconds(cli.responseTimeout ?? s.responseTimeoutSeconds, DEFAULT_SETTINGS.responseTimeoutSeconds * 1000, 'responseTimeoutSeconds', where),
      connectTimeoutMs: seconds(cli.connectTimeout ?? s.connectTimeoutSeconds, DEFAULT_SETTINGS.connectTimeoutSeconds * 1000, 'connectTimeoutSeconds', where),
      // commander sets a --no-X option to true when it is not given: only false says anything
      rewriteLocation: cli.rewriteLocation === false ? false : (s.rewriteLocation ?? DEFAULT_SETTINGS.rewriteLocation),
      allowTrace: cli.allowTrace === true ? true : (s.allowTrace ?? DEFAULT_SETTINGS.allowTrace),
      ...(s.bodyTempDir ? { bodyTempDir: path.resolve(cwd, s.bodyTempDir) } : {}),
      websocketIdleTimeoutMs: seconds(s.websocketIdleTimeoutSeconds, DEFAULT_SETTINGS.websocketIdleTimeoutSeconds * 1000, 'websocketIdleTimeoutSeconds', where),
      resyncIntervalMs: seconds(cli.resyncInterval ?? s.resyncIntervalSeconds, DEFAULT_SETTINGS.resyncIntervalSeconds * 1000, 'resyncIntervalSeconds', where),
      homeTitle: cli.title ?? s.title ?? DEFAULT_SETTINGS.title,
      templatesDir: path.join(PACKAGE_ROOT, 'templates'),
    },
    redisWaitMs: seconds(cli.redisWait ?? s.redisWaitSeconds, DEFAULT_SETTINGS.redisWaitSeconds * 1000, 'redisWaitSeconds', where),
  };
}
