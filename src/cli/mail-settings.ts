// Where the monitor's notifier sends mail, and how much: the option, then the environment
// (TOOLHOST_SMTP_URL, TOOLHOST_MAIL_FROM), then the "mail" section of the settings file
// (--config or TOOLHOST_CONFIG over conf/toolhost.json, which holds the defaults).
import { DEFAULT_SETTINGS } from '../defaults.js';
import os from 'node:os';
import { ToolhostError } from '../errors.js';
import { isAddress } from '../notify/index.js';
import { layeredSettings } from './proxy-settings.js';

export interface MailCliOptions {
  readonly config?: string | undefined;
  readonly smtp?: string | undefined;
  readonly mailFrom?: string | undefined;
  readonly mailDigest?: string | undefined;
  readonly mailHourlyCap?: string | undefined;
}

export interface MailSettings {
  /** null: no relay; notices are recorded as not mailed */
  readonly smtpUrl: string | null;
  readonly from: string;
  readonly digestMs: number;
  readonly hourlyCap: number;
}

interface FileMail {
  mail?: { smtp?: string | null; from?: string | null; digestSeconds?: number; hourlyCap?: number };
}

function smtpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ToolhostError('TH_ERR_SMTP_URL_INVALID', JSON.stringify(raw));
  }
  if ((u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || !u.hostname) throw new ToolhostError('TH_ERR_SMTP_URL_INVALID', `${u.protocol}//${u.host}`);
  return raw;
}

function positive(v: string | number | undefined, fallback: number, what: string, where: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ToolhostError('TH_ERR_CONFIG_INVALID', where, `${what} must be a positive number, not ${JSON.stringify(v)}`);
  return n;
}

export function resolveMailSettings(cli: MailCliOptions, env: Readonly<Record<string, string | undefined>>, cwd: string): MailSettings {
  const { settings, where } = layeredSettings<FileMail>(cli.config ?? env.TOOLHOST_CONFIG, cwd);
  const m = settings.mail ?? {};
  const rawUrl = cli.smtp ?? (env.TOOLHOST_SMTP_URL || undefined) ?? m.smtp ?? null;
  const from = cli.mailFrom ?? (env.TOOLHOST_MAIL_FROM || undefined) ?? m.from ?? `toolhost@${os.hostname()}`;
  if (!isAddress(from)) throw new ToolhostError('TH_ERR_EMAIL_INVALID', JSON.stringify(from));
  return {
    smtpUrl: rawUrl === null ? null : smtpUrl(rawUrl),
    from,
    digestMs: positive(cli.mailDigest ?? m.digestSeconds, DEFAULT_SETTINGS.mail.digestSeconds, 'mail.digestSeconds', where) * 1000,
    hourlyCap: Math.floor(positive(cli.mailHourlyCap ?? m.hourlyCap, DEFAULT_SETTINGS.mail.hourlyCap, 'mail.hourlyCap', where)),
  };
}
