// `toolhost registrar`: the node registrar (root, one per node; see src/registrar/). Runs until
// SIGTERM/SIGINT; its registrations stay routed across its own restart.
import os from 'node:os';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import net from 'node:net';
import type { CliIo } from './io.js';
import { addRedisOptions } from './redis-options.js';
import { DEFAULT_STATE_DIR, stateDirectory } from '../state-dir.js';

interface Options {
  redis?: string;
  redisFile?: string;
  redisSentinels?: string;
  redisMaster?: string;
  homeRoot: string;
  socketDir?: string;
  node?: string;
  address: string;
  lease: string;
  scanInterval: string;
  stateDir?: string;
  cgroupRoot?: string;
}

export function registerRegistrarCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  addRedisOptions(
    program.command('registrar').description('the node registrar: routes a tool to a port only after the kernel confirms a process of that tool listens on it'),
    'the route table (the registrar user of toolhost tool registrar-user)',
  )
    .option('--home-root <dir>', 'where tool homes are', '/data/project')
    .option('--socket-dir <dir>', 'root-owned directory for the tools\' sockets (or TOOLHOST_REGISTRAR_DIR; default /run/toolhost-registrar)')
    .option('--node <name>', 'this node\'s name in the route table (default: the host name)')
    .option('--address <ip>', 'where tools\' servers listen and proxies reach them', '127.0.0.1')
    .option('--lease <seconds>', 'how long this node\'s backends stay routed without a renewal', '15')
    .option('--scan-interval <seconds>', 'how often the home root is scanned for new and removed tools', '2')
    .option('--state-dir <dir>', `where administrators' quotas are (or TOOLHOST_STATE_DIR; default ${DEFAULT_STATE_DIR})`)
    .option('--cgroup-root <name>', 'toolhost\'s directory in the cgroup hierarchies', 'toolhost')
    .action(async (opts: Options) => {
      // the registrar and Redis's client load when it runs, not for `toolhost registrar --help` (#14)
      const [{ Registrar, registrarDir }, { describeRedis, redisConnectionFrom }] = await Promise.all([import('../registrar/index.js'), import('../routes/index.js')]);
      if (net.isIP(opts.address) === 0) throw new ToolhostError('TH_ERR_USAGE', `--address must be an IP address, not "${opts.address}" (proxies resolve no names)`);
      const leaseMs = Math.round(Number(opts.lease) * 1000);
      if (!Number.isFinite(leaseMs) || leaseMs < 300) throw new ToolhostError('TH_ERR_USAGE', `--lease must be at least 0.3 seconds, not "${opts.lease}"`);
      const redis = redisConnectionFrom(opts, io.env);
      // sockets and the state file are created closed; each socket is then given to its tool
      process.umask(0o077);
      const registrar = new Registrar({
        redis,
        socketDir: opts.socketDir ?? registrarDir(io.env),
        homeRoot: opts.homeRoot,
        node: opts.node ?? os.hostname(),
        address: opts.address,
        leaseMs,
        scanIntervalMs: Math.max(50, Number(opts.scanInterval) * 1000 || 2000),
        stateDir: opts.stateDir ?? stateDirectory(io.env),
        ...(opts.cgroupRoot ? { cgroupRoot: opts.cgroupRoot } : {}),
        log: (line) => io.err(`toolhost registrar: ${line}\n`),
      });
      await registrar.start();
      io.err(`toolhost registrar: node ${opts.node ?? os.hostname()} serving ${registrar.tools().length} tool(s) under ${opts.homeRoot}; Redis ${describeRedis(redis)}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await registrar.close();
      setExit(0);
    });
}
