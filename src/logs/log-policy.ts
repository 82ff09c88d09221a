// How big the logs toolhost keeps for a tool may grow, and how many older generations are kept:
// conf/toolhost.json's `toolLogs` holds the defaults (equal to src/defaults.ts, a test says so), its
// `toolLogs.tools.<tool>` entries raise or lower them for one tool, and TOOLHOST_LOG_MAX_BYTES /
// TOOLHOST_LOG_KEEP set them for every tool of a process (the monitor's unit file, a test).
//
// Two kinds of logs: the files in a tool's home (~/error.log, ~/access.log, ~/service.log, the
// jobs' ~/NAME.out and ~/NAME.err), and a job's internal log in the runtime directory, which lives
// in memory (/run is a tmpfs) and so has a cap of its own and keeps one older generation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SETTINGS } from '../defaults.js';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';

export interface LogCap {
  /** a file is rotated before it would grow past this */
  readonly maxBytes: number;
  /** older generations kept (FILE.1 … FILE.keep) */
  readonly keep: number;
}

export interface ToolLogPolicy {
  /** the logs in the tool's home */
  readonly files: LogCap;
  /** a job's internal log in the runtime directory (--no-filelog) */
  readonly internal: LogCap;
}

/** the smallest cap accepted: a few lines */
export const MIN_LOG_BYTES = 4096;
/** the most generations accepted */
export const MAX_LOG_KEEP = 100;
export const LOG_CONFIG_FILE = path.join(PACKAGE_ROOT, 'conf', 'toolhost.json');

interface CapSettings {
  maxBytes?: unknown;
  keep?: unknown;
  internalMaxBytes?: unknown;
}

interface ToolLogsSettings extends CapSettings {
  tools?: Record<string, CapSettings>;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** bytes, as a number or a string with a binary unit: 65536, "64K", "32M", "1G" (KiB, MiB, GiB) */
export function parseLogBytes(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = /^\s*(\d+)\s*([KMG]?)(?:i?B)?\s*$/i.exec(value);
  if (!m) return null;
  const n = Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  return Number.isSafeInteger(n) ? n : null;
}

function bytesSetting(value: unknown, where: string, what: string): number {
  const n = parseLogBytes(value);
  if (n === null || n < MIN_LOG_BYTES) throw new ToolhostError('TH_ERR_CONFIG_INVALID', where, `${what} must be a size of at least ${MIN_LOG_BYTES} bytes (65536, "64K", "32M"), not ${JSON.stringify(value)}`);
  return n;
}

function keepSetting(value: unknown, where: string, what: string): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_LOG_KEEP) throw new ToolhostError('TH_ERR_CONFIG_INVALID', where, `${what} must be a whole number from 1 to ${MAX_LOG_KEEP}, not ${JSON.stringify(value)}`);
  return n;
}

const loaded = new Map<string, ToolLogsSettings>();

function readToolLogs(file: string): ToolLogsSettings {
  const known = loaded.get(file);
  if (known) return known;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  const settings = (parsed as { toolLogs?: unknown } | null)?.toolLogs;
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) throw new ToolhostError('TH_ERR_CONFIG_INVALID', file, 'toolLogs must be an object with maxBytes, keep and internalMaxBytes');
  loaded.set(file, settings);
  return settings;
}

/**
 * The caps of a tool's logs; TH_ERR_CONFIG_INVALID naming the file (or variable) and the value
 * when one is wrong. The configuration file is read once per process.
 */
export function toolLogPolicy(tool: string, env: Readonly<Record<string, string | undefined>>, file = LOG_CONFIG_FILE): ToolLogPolicy {
  const base = readToolLogs(file);
  const own = base.tools?.[tool] ?? {};
  const pick = (key: keyof CapSettings): unknown => own[key] ?? base[key] ?? DEFAULT_SETTINGS.toolLogs[key];
  const prefix = (key: keyof CapSettings): string => (own[key] !== undefined ? `toolLogs.tools.${tool}.${key}` : `toolLogs.${key}`);
  let maxBytes = bytesSetting(pick('maxBytes'), file, prefix('maxBytes'));
  let keep = keepSetting(pick('keep'), file, prefix('keep'));
  const internalMax = bytesSetting(pick('internalMaxBytes'), file, prefix('internalMaxBytes'));
  if (env.TOOLHOST_LOG_MAX_BYTES !== undefined) maxBytes = bytesSetting(env.TOOLHOST_LOG_MAX_BYTES, 'TOOLHOST_LOG_MAX_BYTES', 'TOOLHOST_LOG_MAX_BYTES');
  if (env.TOOLHOST_LOG_KEEP !== undefined) keep = keepSetting(env.TOOLHOST_LOG_KEEP, 'TOOLHOST_LOG_KEEP', 'TOOLHOST_LOG_KEEP');
  return { files: { maxBytes, keep }, internal: { maxBytes: Math.min(internalMax, maxBytes), keep: 1 } };
}

/** the tool's log of toolhost's events for it (its supervisor's, its runs'), in its home */
export const SERVICE_LOG = 'service.log';
