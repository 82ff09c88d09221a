// Mail out over SMTP, with nodemailer, to the relay the operator names (TOOLHOST_SMTP_URL, the
// monitor's --smtp, or "smtp" in the settings file): smtp://host:port, smtps:// for TLS from the
// first byte, user:password@ in the URL when the relay wants a login.
import type { Transporter } from 'nodemailer';
import { onFirstUse } from '../on-first-use.js';
import type { MailText } from './message.js';

export interface Mailer {
  send(to: readonly string[], mail: MailText): Promise<void>;
  close(): void;
}

/** a short description of the relay for logs: never its password */
export function relayName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'an unreadable SMTP URL';
  }
}

/** nodemailer loads when a relay is configured, not for every command that reads a notice's record */
const nodemailer = onFirstUse<typeof import('nodemailer')>('nodemailer');

export function smtpMailer(url: string, from: string): Mailer {
  const transport: Transporter = nodemailer().createTransport(url);
  return {
    async send(to, mail) {
      await transport.sendMail({ from, to: [...to], subject: mail.subject, text: mail.text, headers: { 'Auto-Submitted': 'auto-generated' } });
    },
    close() {
      transport.close();
    },
  };
}
