// `toolhost demo`: a private Redis, sample tools each served by a real lighttpd with its merged
// configuration, their routes in the route table, and the front proxy in front of them all.
// Prints the URLs; Ctrl-C stops it all.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command as Commander } from 'commander';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { findLighttpd, formatDiagnostic } from '../lighttpd/index.js';
import { ProxyServer } from '../proxy/index.js';
import { RouteStore } from '../routes/index.js';
import { PACKAGE_ROOT } from '../package-files.js';
import { httpProbe, startProcess, startRedisServer, type ManagedProcess, type RedisServer } from '../supervisor/index.js';
import { buildLighttpdConfig, type LighttpdType, type Tool } from '../webservice/index.js';
import type { CliIo } from './io.js';

interface SampleTool {
  readonly name: string;
  readonly type: LighttpdType;
  readonly description: string;
  readonly files: Readonly<Record<string, string>>;
}

const SAMPLES: readonly SampleTool[] = [
  {
    name: 'hello',
    type: 'lighttpd',
    description: 'A static page served by lighttpd with the default configuration',
    files: {
      'public_html/index.html': '<!doctype html><title>hello</title><h1>Hello from the hello tool</h1>\n',
      'public_html/hello-logo.txt': 'a file whose name begins with the tool name (Toolforge bug T254640)\n',
    },
  },
  {
    name: 'notes',
    type: 'lighttpd-plain',
    description: 'A tool whose ~/.lighttpd.conf overrides defaults with = (fatal on Toolforge)',
    files: {
      'public_html/home.html': '<!doctype html><title>notes</title><h1>Notes: index file set by the maintainer</h1>\n',
      'public_html/list.bulk': 'one\ntwo\n',
      '.lighttpd.conf': [
        '# Toolforge rejected "=" on keys its template set; toolhost lets the maintainer win.',
        'index-file.names = ("home.html")',
        'mimetype.assign += (".bulk" => "text/plain; charset=utf-8", ".txt" => "text/plain")',
        'server.modules += ("mod_status")',
        'status.status-url = "/notes/server-status"',
        '',
      ].join('\n'),
    },
  },
];

interface Running {
  readonly tool: Tool;
  readonly port: number;
  readonly server: ManagedProcess;
}

async function startSample(root: string, sample: SampleTool, redis: Redis, lighttpd: string, io: CliIo): Promise<Running> {
  const home = path.join(root, 'tools', sample.name);
  mkdirSync(path.join(home, 'public_html'), { recursive: true });
  for (const [file, text] of Object.entries(sample.files)) writeFileSync(path.join(home, file), text);
  writeFileSync(path.join(home, '.description'), `${sample.description}\n`);
  const runtimeDir = path.join(root, 'run', sample.name);
  mkdirSync(runtimeDir, { recursive: true });
  const tool: Tool = { name: sample.name, home, account: null };
  const port = await getPort({ host: '127.0.0.1' });
  const built = buildLighttpdConfig({ tool, type: sample.type, port, bind: '127.0.0.1', runtimeDir, asAccount: false, env: io.env });
  if (!built.ok) {
    for (const d of built.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
    throw new ToolhostError('TH_ERR_LIGHTTPD_CONFIG_INVALID', `${sample.name}'s configuration`, built.diagnostics.length);
  }
  const confFile = path.join(runtimeDir, 'lighttpd.conf');
  writeFileSync(confFile, built.text);
  const server = await startProcess({
    command: lighttpd,
    args: ['-D', '-f', confFile],
    cwd: home,
    env: built.env as NodeJS.ProcessEnv,
    ready: () => httpProbe(`http://127.0.0.1:${port}/`, 500),
  });
  await new RouteStore(redis).register(sample.name, 'demo', `http://127.0.0.1:${port}`, { description: sample.description });
  return { tool, port, server };
}

export function registerDemoCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('start Redis and sample tools served by lighttpd; print their URLs')
    .option('--dir <dir>', 'where the demo keeps its files (default: a new temporary directory, removed at exit)')
    .option('--check', 'start everything, fetch every URL once, stop, and exit 0 if all answered')
    .option('--port <port>', 'the proxy\'s port on 127.0.0.1 (default 8080 when free, else any free port)')
    .action(async (opts: { dir?: string; check?: boolean; port?: string }) => {
      const lighttpd = findLighttpd(io.env);
      if (!lighttpd) throw new ToolhostError('TH_ERR_LIGHTTPD_NOT_INSTALLED', 'the demo serves its tools with it');
      const root = opts.dir ? path.resolve(io.cwd, opts.dir) : mkdtempSync(path.join(os.tmpdir(), 'toolhost-demo-'));
      const running: Running[] = [];
      let redisServer: RedisServer | null = null;
      let redis: Redis | null = null;
      let proxy: ProxyServer | null = null;
      const cleanup = async (): Promise<void> => {
        await proxy?.close(2000);
        redis?.disconnect();
        await Promise.all(running.map((r) => r.server.stop(2000)));
        await redisServer?.stop();
        if (!opts.dir) rmSync(root, { recursive: true, force: true });
      };
      try {
        redisServer = await startRedisServer(path.join(root, 'redis'));
        redis = new Redis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        for (const sample of SAMPLES) running.push(await startSample(root, sample, redis, lighttpd, io));
        const proxyPort = opts.port ? Number(opts.port) : await getPort({ host: '127.0.0.1', port: 8080 });
        const adminPort = await getPort({ host: '127.0.0.1' });
        proxy = new ProxyServer({
          listen: { host: '127.0.0.1', port: proxyPort },
          adminListen: { host: '127.0.0.1', port: adminPort },
          redisUrl: redisServer.url,
          domain: null,
          pathRouting: true,
          tls: null,
          accessLog: { file: path.join(root, 'proxy-access.log') },
          responseTimeoutMs: 60_000,
          websocketIdleTimeoutMs: 3_600_000,
          resyncIntervalMs: 30_000,
          homeTitle: 'toolhost demo',
          templatesDir: path.join(PACKAGE_ROOT, 'templates'),
        });
        await proxy.start(5000);
        const base = `http://127.0.0.1:${proxyPort}`;
        io.out(`toolhost demo: the front proxy, ${running.length} tools served by lighttpd, routes in Redis\n`);
        io.out(`  home page  ${base}/          (JSON: ${base}/?format=json)\n`);
        for (const r of running) {
          io.out(`  ${r.tool.name.padEnd(10)} ${base}/${r.tool.name}/   (lighttpd on 127.0.0.1:${r.port}, home ${r.tool.home})\n`);
        }
        io.out(`  metrics    http://127.0.0.1:${adminPort}/metrics\n`);
        io.out(`  Redis      ${redisServer.url}   (try: redis-cli -p ${redisServer.port} HGETALL prefix:hello)\n`);
        io.out(`  files      ${root}   (proxy access log: proxy-access.log)\n`);
        if (opts.check) {
          let failed = 0;
          const home = await fetch(`${base}/?format=json`);
          const listed = ((await home.json()) as { tools: { name: string; up: boolean }[] }).tools;
          io.out(`  check home page: HTTP ${home.status}, ${listed.filter((x) => x.up).length} of ${listed.length} tools up\n`);
          if (home.status !== 200 || listed.some((x) => !x.up)) failed++;
          for (const r of running) {
            const res = await fetch(`${base}/${r.tool.name}/`);
            await res.arrayBuffer();
            io.out(`  check ${r.tool.name}: HTTP ${res.status}\n`);
            if (res.status !== 200) failed++;
          }
          setExit(failed ? 1 : 0);
          return;
        }
        io.out('Press Ctrl-C to stop.\n');
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        setExit(0);
      } finally {
        await cleanup();
      }
    });
}
