// `toolhost demo`: everything on one machine, as a platform runs it: a private Redis (the route
// table), the front proxy, sample tools started with `webservice start` (each under its own
// supervisor: lighttpd with its merged configuration, or a custom server), and the host
// monitor. Prints the URLs; Ctrl-C stops it all.
import { DEFAULT_SETTINGS } from '../defaults.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-files.js';
import type { ProxyServer } from '../proxy/index.js';
import type { Tool } from '../accounts/index.js';
import type { Registrar } from '../registrar/index.js';
import type { RedisServer } from '../supervisor/index.js';
import type { ControlContext, JobsContext, Manifest } from '../webservice/index.js';
import type { CliIo } from './io.js';

interface SampleTool {
  readonly name: string;
  readonly manifest: (home: string) => Manifest;
  readonly description: string;
  readonly files: Readonly<Record<string, string>>;
}

const SAMPLES: readonly SampleTool[] = [
  {
    name: 'hello',
    manifest: () => ({ type: 'lighttpd' }),
    description: 'A static page served by lighttpd with the default configuration',
    files: {
      'public_html/index.html': '<!doctype html><title>hello</title><h1>Hello from the hello tool</h1>\n',
      'public_html/hello-logo.txt': 'a file whose name begins with the tool name (Toolforge bug T254640)\n',
    },
  },
  {
    name: 'notes',
    manifest: () => ({ type: 'lighttpd-plain' }),
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
  {
    name: 'clock',
    manifest: (home) => ({ type: 'generic', command: [process.execPath, path.join(home, 'server.cjs')] }),
    description: 'A custom Node.js server run the portgrabber way (webservice generic)',
    files: {
      'server.cjs': [
        "const http = require('http');",
        'const port = Number(process.argv[process.argv.length - 1]);',
        "http.createServer((req, res) => {",
        "  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });",
        "  res.end('<!doctype html><title>clock</title><h1>It is ' + new Date().toISOString() + '</h1><p>served by a custom server on port ' + port + '</p>');",
        "}).listen(port, '127.0.0.1');",
        '',
      ].join('\n'),
    },
  },
];

/** the demo's jobs, in Toolforge's keys */
const DEMO_JOBS = [
  { name: 'heartbeat', command: 'while true; do date -u +%FT%TZ; sleep 5; done', continuous: true },
  { name: 'greet', command: 'echo "hello from a one-off job, as $USER in $PWD"' },
  { name: 'minutely', command: 'date -u +"ran at %FT%TZ"', schedule: '* * * * *' },
];

export function registerDemoCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('start Redis, the front proxy, the node registrar, sample tools under webservice supervisors, jobs, and the host monitor; print the URLs')
    .option('--dir <dir>', 'where the demo keeps its files (default: a new temporary directory, removed at exit)')
    .option('--check', 'start everything, fetch every URL once through the proxy, stop, and exit 0 if all answered')
    .option('--port <port>', 'the proxy\'s port on 127.0.0.1 (default 8080 when free, else any free port)')
    .action(async (opts: { dir?: string; check?: boolean; port?: string }) => {
      // all of toolhost loads when the demo runs, not for `toolhost demo --help` (#14)
      const [{ default: getPort }, { findLighttpd }, { ProxyServer }, { Registrar }, { parseRedisConnection }, { startRedisServer }, { parseJob }, { defineJob, deleteJobs, HostMonitor, jobStatuses, startWebservice, stopWebservice }] = await Promise.all([
        import('get-port'),
        import('../lighttpd/index.js'),
        import('../proxy/index.js'),
        import('../registrar/index.js'),
        import('../routes/index.js'),
        import('../supervisor/index.js'),
        import('../jobs/index.js'),
        import('../webservice/index.js'),
      ]);
      if (!findLighttpd(io.env)) throw new ToolhostError('TH_ERR_LIGHTTPD_NOT_INSTALLED', 'the demo serves its tools with it');
      const root = opts.dir ? path.resolve(io.cwd, opts.dir) : mkdtempSync(path.join(os.tmpdir(), 'toolhost-demo-'));
      const homes = path.join(root, 'tools');
      const contexts: ControlContext[] = [];
      let redisServer: RedisServer | null = null;
      let proxy: ProxyServer | null = null;
      let registrar: Registrar | null = null;
      let sockets: string | null = null;
      let monitorTimer: NodeJS.Timeout | null = null;
      let tickTimer: NodeJS.Timeout | null = null;
      let jobsCtx: JobsContext | null = null;
      const cleanup = async (): Promise<void> => {
        if (monitorTimer) clearInterval(monitorTimer);
        if (tickTimer) clearInterval(tickTimer);
        if (jobsCtx) await deleteJobs(jobsCtx, null).catch(() => []);
        await Promise.all(contexts.map((c) => stopWebservice(c).catch(() => false)));
        await registrar?.close();
        // the demo's cgroups (its own tree, never the host's toolhost/) go with it
        await registrar?.limits.tree?.removeAll();
        if (sockets) rmSync(sockets, { recursive: true, force: true });
        await proxy?.close(2000);
        await redisServer?.stop();
        if (!opts.dir) rmSync(root, { recursive: true, force: true });
      };
      try {
        redisServer = await startRedisServer(path.join(root, 'redis'));
        // a unix socket path has at most 107 bytes: the registrar's sockets go to a short directory
        const registrarDir = mkdtempSync(path.join(os.tmpdir(), 'toolhost-registrar-'));
        sockets = registrarDir;
        const env = { ...io.env, TOOLHOST_RUNTIME_DIR: path.join(root, 'run'), TOOLHOST_REGISTRAR_DIR: registrarDir };
        mkdirSync(homes, { recursive: true });
        registrar = new Registrar({ redis: parseRedisConnection(redisServer.url), socketDir: registrarDir, homeRoot: homes, stateDir: path.join(root, 'state'), cgroupRoot: `toolhost-demo-${process.pid}`, node: os.hostname(), address: '127.0.0.1', scanIntervalMs: 250, log: (l) => io.err(`toolhost registrar: ${l}\n`) });
        await registrar.start();
        const proxyPort = opts.port ? Number(opts.port) : await getPort({ host: '127.0.0.1', port: 8080 });
        const adminPort = await getPort({ host: '127.0.0.1' });
        proxy = new ProxyServer({
          listen: { host: '127.0.0.1', port: proxyPort },
          adminListen: { host: '127.0.0.1', port: adminPort },
          redis: parseRedisConnection(redisServer.url),
          domain: null,
          pathRouting: true,
          tls: null,
          accessLog: { file: path.join(root, 'proxy-access.log') },
          responseTimeoutMs: 60_000,
          websocketIdleTimeoutMs: DEFAULT_SETTINGS.websocketIdleTimeoutSeconds * 1000,
          resyncIntervalMs: DEFAULT_SETTINGS.resyncIntervalSeconds * 1000,
          homeTitle: 'toolhost demo',
          templatesDir: path.join(PACKAGE_ROOT, 'templates'),
        });
        await proxy.start(5000);
        for (const sample of SAMPLES) {
          const home = path.join(homes, sample.name);
          mkdirSync(path.join(home, 'public_html'), { recursive: true });
          for (const [file, text] of Object.entries(sample.files)) writeFileSync(path.join(home, file), text);
          writeFileSync(path.join(home, '.description'), `${sample.description}\n`);
          const tool: Tool = { name: sample.name, home, account: null };
          const ctx: ControlContext = { tool, runtimeDir: path.join(root, 'run', sample.name), registrarDir, env };
          contexts.push(ctx);
          const started = await startWebservice(ctx, sample.manifest(home));
          if (started.state.state !== 'running') throw new ToolhostError('TH_ERR_SUPERVISOR_UNREACHABLE', sample.name, 'start', 60);
        }
        const monitor = new HostMonitor({ homeRoot: homes, registrarDir, stateDir: path.join(root, 'state'), env, log: (l) => io.err(`toolhost monitor: ${l}\n`) });
        monitorTimer = setInterval(() => monitor.scan(), 5000);
        monitorTimer.unref();
        tickTimer = setInterval(() => monitor.tick(), 1000);
        tickTimer.unref();

        // jobs of the hello tool: a bot that keeps running, a task run once, a scheduled one
        const hello = contexts[0] as ControlContext;
        jobsCtx = { ...hello, stateDir: path.join(root, 'state') };
        for (const job of DEMO_JOBS) defineJob(jobsCtx, parseJob(job));
        monitor.scan();

        const base = `http://127.0.0.1:${proxyPort}`;
        io.out(`toolhost demo: the front proxy, the node registrar, ${contexts.length} tools under webservice supervisors, the host monitor, routes in Redis\n`);
        io.out(`  home page  ${base}/          (JSON: ${base}/?format=json)\n`);
        for (const c of contexts) io.out(`  ${c.tool.name.padEnd(10)} ${base}/${c.tool.name}/   (home ${c.tool.home})\n`);
        io.out(`  metrics    http://127.0.0.1:${adminPort}/metrics\n`);
        io.out(`  Redis      ${redisServer.url}   (try: redis-cli -p ${redisServer.port} HGETALL prefix:hello)\n`);
        io.out(`  files      ${root}   (proxy access log: proxy-access.log)\n`);
        const envLine = `TOOLHOST_REGISTRAR_DIR=${registrarDir} TOOLHOST_RUNTIME_DIR=${path.join(root, 'run')} TOOLHOST_STATE_DIR=${path.join(root, 'state')}`;
        io.out(`  try        ${envLine} bin/webservice --tool hello --home ${path.join(homes, 'hello')} status\n`);
        io.out(`  jobs       ${envLine} bin/toolhost jobs --tool hello --home ${path.join(homes, 'hello')} list   (a continuous bot, a one-off task, a job every minute)\n`);
        if (opts.check) {
          let failed = 0;
          const home = await fetch(`${base}/?format=json`);
          const listed = ((await home.json()) as { tools: { name: string; up: boolean }[] }).tools;
          io.out(`  check home page: HTTP ${home.status}, ${listed.filter((x) => x.up).length} of ${listed.length} tools up\n`);
          if (home.status !== 200 || listed.some((x) => !x.up)) failed++;
          for (const c of contexts) {
            const res = await fetch(`${base}/${c.tool.name}/`);
            await res.arrayBuffer();
            io.out(`  check ${c.tool.name}: HTTP ${res.status}\n`);
            if (res.status !== 200) failed++;
          }
          // the bot keeps running, the task ran once
          const deadline = Date.now() + 15_000;
          const jobState = (): string[] => jobStatuses(jobsCtx as JobsContext).map((j) => `${j.spec.name} ${j.record?.status ?? 'none'}`);
          while (Date.now() < deadline && !(jobState().includes('heartbeat running') && jobState().includes('greet succeeded'))) await new Promise((r) => setTimeout(r, 100));
          io.out(`  check jobs: ${jobState().join(', ')}\n`);
          if (!jobState().includes('heartbeat running') || !jobState().includes('greet succeeded')) failed++;
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
