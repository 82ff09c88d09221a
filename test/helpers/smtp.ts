// A real SMTP server (the smtp-server package) on a free port, keeping every message it received.
import { SMTPServer } from 'smtp-server';
import type { Test } from 'tap';
import { freePort } from './index.js';

export interface ReceivedMail {
  readonly to: readonly string[];
  readonly from: string;
  readonly raw: string;
  readonly subject: string;
  readonly receivedAt: number;
}

export interface Smtp {
  readonly url: string;
  readonly mails: ReceivedMail[];
}

export async function startSmtp(t: Test): Promise<Smtp> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        // a message's header lines may be folded: unfolded before the subject is read
        const raw = Buffer.concat(chunks).toString('utf8');
        const head = (raw.split(/\r?\n\r?\n/)[0] ?? '').replace(/\r?\n[ \t]+/g, ' ');
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          raw: raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='),
          subject: /^Subject: (.*)$/m.exec(head)?.[1] ?? '',
          receivedAt: Date.now(),
        });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `smtp://127.0.0.1:${port}`, mails };
}
