// `toolhost monitor --home-root DIR`: bring back the supervisors of tools whose webservice
// should run (see HostMonitor), fire scheduled jobs, and mail the tools' notices (the notifier).
// Run by root, as a system service.
import { stateDirectory } from '../state-dir.js';
import type { Command as Commander } from 'commander';
import type { CliIo } from './io.js';
import type { MailCliOptions } from './mail-settings.js';

interface MonitorCliOptions extends MailCliOptions {
  homeRoot: string;
  interval: string;
  once?: boolean;
}

export function registerMonitorCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('monitor')
    .description('restart the supervisors of tools whose webservice or continuous jobs should run; fire scheduled jobs; mail maintainers')
    .option('--home-root <dir>', 'where tool homes are', '/data/project')
    .option('--interval <seconds>', 'time between scans', '10')
    .option('--once', 'one scan (and one pass of the notifier), then exit')
    .option('--config <file>', 'settings file, for its "mail" section (or TOOLHOST_CONFIG)')
    .option('--smtp <url>', 'the SMTP relay for maintainers\' mail: smtp://host:port (or TOOLHOST_SMTP_URL; none: notices are recorded, not mailed)')
    .option('--mail-from <address>', 'the sender of maintainers\' mail (or TOOLHOST_MAIL_FROM; default toolhost@HOSTNAME)')
    .option('--mail-digest <seconds>', 'after a mail, further notices of the tool wait this long and go in one digest (600)')
    .option('--mail-hourly-cap <n>', 'mails per tool per hour at most (6)')
    .action(async (opts: MonitorCliOptions) => {
      // the monitor loads when it runs, not for `toolhost monitor --help` (#14)
      const [{ registrarDir }, { HostMonitor }, { Notifier, relayName, smtpMailer }, { resolveMailSettings }] = await Promise.all([
        import('../registrar/index.js'),
        import('../webservice/index.js'),
        import('../notify/index.js'),
        import('./mail-settings.js'),
      ]);
      const mail = resolveMailSettings(opts, io.env, process.cwd());
      const stateDir = stateDirectory(io.env);
      const log = (line: string): void => io.err(`toolhost monitor: ${line}\n`);
      const mailer = mail.smtpUrl ? smtpMailer(mail.smtpUrl, mail.from) : null;
      log(mail.smtpUrl ? `notices: mailed through ${relayName(mail.smtpUrl)} from ${mail.from}` : 'notices: recorded, not mailed: no SMTP relay configured (TOOLHOST_SMTP_URL or --smtp)');
      const notifier = new Notifier({ stateDir, homeRoot: opts.homeRoot, mailer, digestMs: mail.digestMs, hourlyCap: mail.hourlyCap, log });
      const monitor = new HostMonitor({
        homeRoot: opts.homeRoot,
        registrarDir: registrarDir(io.env),
        stateDir,
        env: io.env,
        log,
      });
      const scan = (): void => {
        const result = monitor.scan();
        if (opts.once) for (const [tool, verdict] of result) io.out(`${tool}\t${verdict}\n`);
      };
      scan();
      if (opts.once) {
        await notifier.tick();
        mailer?.close();
        setExit(0);
        return;
      }
      const timer = setInterval(scan, Math.max(1, Number(opts.interval)) * 1000);
      // scheduled runs start within a second of their time; so does the first mail of a failure
      const ticker = setInterval(() => {
        monitor.tick();
        void notifier.tick();
      }, 1000);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      clearInterval(timer);
      clearInterval(ticker);
      await notifier.tick();
      mailer?.close();
      setExit(0);
    });
}
