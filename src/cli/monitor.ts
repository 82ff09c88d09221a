// `toolhost monitor --home-root DIR`: bring back the supervisors of tools whose webservice
// should run (see HostMonitor). Run by root, as a system service.
import { stateDirectory } from '../state-dir.js';
import type { Command as Commander } from 'commander';
import { registrarDir } from '../registrar/index.js';
import { HostMonitor } from '../webservice/index.js';
import type { CliIo } from './io.js';

export function registerMonitorCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('monitor')
    .description('restart the supervisors of tools whose webservice or continuous jobs should run; fire scheduled jobs')
    .option('--home-root <dir>', 'where tool homes are', '/data/project')
    .option('--interval <seconds>', 'time between scans', '10')
    .option('--once', 'one scan, then exit')
    .action(async (opts: { homeRoot: string; interval: string; once?: boolean }) => {
      const monitor = new HostMonitor({
        homeRoot: opts.homeRoot,
        registrarDir: registrarDir(io.env),
        stateDir: stateDirectory(io.env),
        env: io.env,
        log: (line) => io.err(`toolhost monitor: ${line}\n`),
      });
      const scan = (): void => {
        const result = monitor.scan();
        if (opts.once) for (const [tool, verdict] of result) io.out(`${tool}\t${verdict}\n`);
      };
      scan();
      if (opts.once) {
        setExit(0);
        return;
      }
      const timer = setInterval(scan, Math.max(1, Number(opts.interval)) * 1000);
      // scheduled runs start within a second of their time
      const ticker = setInterval(() => monitor.tick(), 1000);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      clearInterval(timer);
      clearInterval(ticker);
      setExit(0);
    });
}
