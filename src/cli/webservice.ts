// `webservice [--tool NAME --home DIR] [TYPE] ACTION [-- COMMAND…]`: what a tool maintainer runs.
import { stateDirectory } from '../state-dir.js';
// Each action loads the code it uses when it runs: `webservice status` loads neither the lighttpd
// engine nor the registrar's daemon, `--help` none of them (#14).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolhostError } from '../errors.js';
import { resolveTool, runtimeDirectory, type Tool } from '../accounts/index.js';
import { registrarDir } from '../registrar/protocol.js';
// the policies and the delivery record alone, not the notifier's code (#14)
import { DEFAULT_WEB_EMAILS, EMAIL_POLICIES, type EmailPolicy } from '../notify/policy.js';
import { noticeStatus } from '../notify/delivery.js';
// the notation and the defaults alone, not the cgroups' code (#14)
import { formatCpu, formatMemory, parseCpu, parseMemory, quantityOption } from '../limits/quantities.js';
import { DEFAULT_CPU, DEFAULT_MEMORY, resourcesOf, unitName } from '../limits/quota.js';
import { limitsText } from './limits-text.js';
import type { ControlContext, ServiceState } from '../webservice/index.js';
import { readManifest, type Manifest } from '../webservice/manifest.js';
import { TYPE_WORDS_HELP, versionNote, webserviceType, type WebserviceType } from '../webservice/webservice-types.js';
import { runAsToolIfRoot } from './as-tool.js';
import type { CliIo } from './io.js';
import { newProgram, runProgram } from './program.js';

const ACTIONS = ['start', 'stop', 'restart', 'status', 'logs', 'config'] as const;
type Action = (typeof ACTIONS)[number];

interface Options {
  tool?: string;
  home?: string;
  check?: boolean;
  json?: boolean;
  follow?: boolean;
  lines?: string;
  access?: boolean;
  since?: string;
  healthCheckScript?: string;
  mem?: string;
  cpu?: string;
  emails?: string;
  backend?: string;
  partition?: string;
}

type Backend = 'local' | 'slurm';

function parsePositionals(args: string[]): { type: WebserviceType | undefined; note: string | null; action: Action } {
  const [first, second, ...rest] = args;
  if (rest.length) throw new ToolhostError('TH_ERR_USAGE', `unexpected arguments: ${rest.join(' ')}; usage: webservice [TYPE] ACTION [-- COMMAND...]`);
  const typeWord = second === undefined ? undefined : first;
  const actionWord = second === undefined ? first : second;
  if (actionWord === undefined) throw new ToolhostError('TH_ERR_USAGE', `missing ACTION; usage: webservice [TYPE] ${ACTIONS.join('|')}`);
  if (!(ACTIONS as readonly string[]).includes(actionWord)) throw new ToolhostError('TH_ERR_USAGE', `unknown action "${actionWord}"; choose one of: ${ACTIONS.join(', ')}`);
  if (typeWord === undefined) return { type: undefined, note: null, action: actionWord as Action };
  const named = webserviceType(typeWord);
  if (!named) throw new ToolhostError('TH_ERR_USAGE', `unknown webservice type "${typeWord}"; choose one of: ${TYPE_WORDS_HELP}`);
  return { type: named.type, note: versionNote(typeWord, named), action: actionWord as Action };
}

function controlContext(tool: Tool, io: CliIo): ControlContext {
  return {
    tool,
    runtimeDir: runtimeDirectory(tool, io.env),
    registrarDir: registrarDir(io.env),
    env: io.env,
    ...(Number(io.env.TOOLHOST_START_TIMEOUT) > 0 ? { timeoutMs: Number(io.env.TOOLHOST_START_TIMEOUT) * 1000 } : {}),
  };
}

function manifestFor(tool: Tool, type: WebserviceType | undefined, command: string[], opts: Options): Manifest {
  const previous = readManifest(tool.home);
  const chosen = type ?? previous?.type ?? 'lighttpd';
  const cmd = command.length ? command : chosen === previous?.type ? previous.command : undefined;
  if (chosen === 'generic' && !cmd?.length) throw new ToolhostError('TH_ERR_WEBSERVICE_NO_COMMAND');
  const hc = opts.healthCheckScript ?? (chosen === previous?.type ? previous.healthCheckScript : undefined);
  // limits and mail stay as they were unless given again
  const mem = opts.mem ?? previous?.mem;
  const cpu = opts.cpu ?? previous?.cpu;
  const emails = opts.emails ?? previous?.emails;
  checkQuantity('--mem', mem, parseMemory);
  checkQuantity('--cpu', cpu, parseCpu);
  if (emails !== undefined && !(EMAIL_POLICIES as readonly string[]).includes(emails)) throw new ToolhostError('TH_ERR_USAGE', `--emails must be one of ${EMAIL_POLICIES.join(', ')}, not "${emails}"`);
  const backend = backendOf(opts, previous);
  if (opts.partition !== undefined && backend !== 'slurm') throw new ToolhostError('TH_ERR_USAGE', '--partition is for --backend slurm');
  if (opts.partition !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(opts.partition)) throw new ToolhostError('TH_ERR_USAGE', `--partition must name a Slurm partition, not "${opts.partition}"`);
  // a partition stays as it was unless given again (and goes with a move to the local backend)
  const partition = backend === 'slurm' ? (opts.partition ?? (previous?.backend === 'slurm' ? previous.partition : undefined)) : undefined;
  return {
    type: chosen,
    ...(chosen === 'generic' && cmd ? { command: cmd } : {}),
    ...(hc ? { healthCheckScript: hc } : {}),
    ...(mem ? { mem } : {}),
    ...(cpu ? { cpu } : {}),
    ...(emails ? { emails: emails as EmailPolicy } : {}),
    ...(backend === 'slurm' ? { backend: 'slurm' as const } : {}),
    ...(partition ? { partition } : {}),
  };
}

/** --backend, else the one the webservice last ran on (service.manifest), else local */
function backendOf(opts: Options, previous: Manifest | null): Backend {
  if (opts.backend === undefined) return previous?.backend === 'slurm' ? 'slurm' : 'local';
  if (opts.backend !== 'local' && opts.backend !== 'slurm') throw new ToolhostError('TH_ERR_USAGE', `--backend must be local or slurm, not "${opts.backend}"`);
  return opts.backend;
}

function checkQuantity(option: string, value: string | undefined, parse: (v: string) => number): void {
  if (value !== undefined) quantityOption(option, value, parse);
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function reportState(s: ServiceState, io: CliIo): number {
  if (s.configError) {
    for (const l of s.configError) io.err(`${l}\n`);
  }
  if (s.state === 'running' && !s.configError) {
    io.out(`Your webservice is running: ${s.url} (${s.type}, pid ${s.serverPid}); the proxy routes /${s.tool}/ to it.\n`);
    return 0;
  }
  if (s.state === 'running') {
    io.out(`Your webservice keeps running with its last good configuration (${s.url}); fix the errors above, it reloads by itself.\n`);
    return 1;
  }
  io.out(`Your webservice is ${s.state}: ${s.message}. See ~/service.log and ~/error.log.\n`);
  return 1;
}

async function config(type: WebserviceType | undefined, tool: Tool, opts: Options, io: CliIo): Promise<number> {
  const [{ buildLighttpdConfig, placeInConfig }, { runLighttpdCheck }, { reportDiagnostics, reportLighttpdCheck, requireLighttpd }] = await Promise.all([
    import('../webservice/lighttpd-config.js'),
    import('../lighttpd/index.js'),
    import('./lighttpd-files.js'),
  ]);
  const runtimeDir = runtimeDirectory(tool, io.env);
  const chosen = type ?? readManifest(tool.home)?.type ?? 'lighttpd';
  if (chosen === 'generic') throw new ToolhostError('TH_ERR_USAGE', 'a generic webservice has no lighttpd configuration; use webservice lighttpd config');
  if (chosen === 'python' || chosen === 'node') {
    // no configuration language to merge: the checks a start makes, and the command it runs
    const { serverCommandLine } = await import('../webservice/server-instance.js');
    io.out(`${serverCommandLine({ tool, type: chosen, command: undefined, runtimeDir, bind: '127.0.0.1', env: io.env, resources: resourcesOf(readManifest(tool.home) ?? {}), emails: DEFAULT_WEB_EMAILS })}\n`);
    return 0;
  }
  const built = buildLighttpdConfig({ tool, type: chosen, port: 0, bind: '127.0.0.1', runtimeDir, asAccount: false, env: io.env });
  reportDiagnostics(built.userFile ?? 'the configuration', built.diagnostics, io);
  for (const o of built.overrides) {
    const what = o.arrayKey === null ? o.key : `${o.key} entry "${o.arrayKey}"`;
    const scope = o.scope === 'global' ? '' : ` in ${o.scope}`;
    io.err(`${o.user.file}:${o.user.line}: replaces the default ${what}${scope}\n`);
  }
  io.out(built.text);
  if (!opts.check) return 0;
  const binary = requireLighttpd(io.env);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'toolhost-check-'));
  try {
    const file = path.join(dir, 'lighttpd.conf');
    writeFileSync(file, built.text);
    const result = runLighttpdCheck(binary, file, { env: built.env, cwd: tool.home, lineMap: built.lineMap, mergedText: built.text, moduleCauses: built.moduleCauses });
    reportLighttpdCheck(result, io, placeInConfig);
    io.err('lighttpd -tt: Syntax OK\n');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function status(tool: Tool, opts: Options, io: CliIo): Promise<number> {
  const { statusOf } = await import('../webservice/control.js');
  const s = await statusOf(controlContext(tool, io));
  const st = s.state;
  const now = Date.now();
  const registered = s.registrar === null ? null : st?.port ? s.registrar.backends.some((b) => b.port === st.port && b.stored) : false;
  if (opts.json) {
    io.out(
      `${JSON.stringify({
        tool: tool.name,
        type: st?.type ?? readManifest(tool.home)?.type ?? null,
        state: s.running ? (st?.state ?? 'starting') : 'stopped',
        pid: s.running ? (st?.serverPid ?? null) : null,
        port: s.running ? (st?.port ?? null) : null,
        uptimeSeconds: s.running && st?.serverStartedAt ? Math.round((now - st.serverStartedAt) / 1000) : null,
        restarts: st?.restarts ?? 0,
        lastExit: st?.lastExit ?? null,
        lastCause: st?.lastCause ?? null,
        // what the supervisor last said, with its TH_ERR_* code when it is a failure
        message: s.running ? (st?.message ?? null) : null,
        limits: st?.limits ?? null,
        notice: noticeStatus(stateDirectory(io.env), tool.name, 'webservice', undefined, st?.notice),
        configError: st?.configError ?? null,
        routeRegistered: registered,
        supervisorPid: s.running ? (st?.supervisorPid ?? null) : null,
      })}\n`,
    );
    return 0;
  }
  const notice = noticeStatus(stateDirectory(io.env), tool.name, 'webservice', undefined, st?.notice);
  if (!s.running || !st) {
    io.out(`Your webservice is not running.${st?.lastExit ? ` Last exit: ${st.lastExit}.` : ''}\n`);
    if (notice) io.out(`  notice      ${notice}\n`);
    return 0;
  }
  io.out(`Your webservice is ${st.state} (${st.type}).\n`);
  if (st.serverPid) io.out(`  server      pid ${st.serverPid}, port ${st.port}, up ${duration(now - (st.serverStartedAt ?? now))}, ${st.restarts} restart(s)\n`);
  const route = registered === null ? 'unknown (the node registrar does not answer)' : registered ? `registered (${st.url})` : s.registrar?.redis === 'down' ? 'held by the registrar, waiting for Redis' : 'not registered';
  io.out(`  route       ${route}\n`);
  io.out(`  supervisor  pid ${st.supervisorPid}, up ${duration(now - st.supervisorStartedAt)}\n`);
  if (st.limits) io.out(`  limits      ${limitsText(st.limits)}\n`);
  if (st.lastExit) io.out(`  last exit   ${st.lastExit}\n`);
  io.out(`  message     ${st.message}\n`);
  if (notice) io.out(`  notice      ${notice}\n`);
  for (const l of st.configError ?? []) io.out(`  config      ${l}\n`);
  return 0;
}

export async function webservice(argv: readonly string[], io: CliIo): Promise<number> {
  // everything after `--` is the command of a generic webservice
  const dd = argv.indexOf('--');
  const command = dd >= 0 ? argv.slice(dd + 1) : [];
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  let exit = 0;
  const program = newProgram('webservice', 'run and inspect your tool\'s web server', io);
  program
    .argument('[words...]', `[TYPE] ACTION; TYPE: ${TYPE_WORDS_HELP}; ACTION: ${ACTIONS.join(', ')}`)
    .option('--tool <name>', 'the tool, when not run in its tool account (or TOOLHOST_TOOL)')
    .option('--home <dir>', 'the tool\'s home directory (or TOOLHOST_HOME)')
    .option('--check', 'config: also check the merged configuration with the real lighttpd -tt')
    .option('--json', 'status: as JSON; logs --access: as JSON')
    .option('-f, --follow', 'logs: keep printing new lines')
    .option('-l, --lines <n>', 'logs: how many of the last lines (default 100)')
    .option('--access', 'logs: review the anonymized ~/access.log instead of ~/error.log')
    .option('--since <when>', 'logs --access: only requests since (e.g. 2h, 3d, 2026-11-01)')
    .option('--health-check-script <command>', 'start: a liveness check run every 10 s in your home; 3 failures restart the server')
    .option('--mem <amount>', `start: the server's memory limit, e.g. 512Mi, 1Gi (default ${formatMemory(DEFAULT_MEMORY)})`)
    .option('--cpu <amount>', `start: the server's CPU limit, e.g. 0.5, 500m, 1 (default ${formatCpu(DEFAULT_CPU)})`)
    .option('--emails <when>', `start: mail to the maintainers: ${EMAIL_POLICIES.join(', ')} (default onfailure)`)
    .option('--backend <name>', 'start/restart: local (this host\'s supervisor, the default) or slurm (a Slurm job on a web node); remembered in ~/service.manifest')
    .option('--partition <name>', 'start/restart --backend slurm: the Slurm partition (default: the operator\'s, e.g. webgrid)')
    .addHelpText('after', '\nA generic webservice runs your own server: webservice generic start -- ./server.sh ARGS (the port is appended and in PORT).')
    .action(async (words: string[], opts: Options) => {
      const { type, note, action } = parsePositionals(words);
      const tool = resolveTool({ tool: opts.tool, home: opts.home, env: io.env, cwd: io.cwd });
      const asTool = await runAsToolIfRoot(tool, argv, io);
      if (asTool !== null) {
        exit = asTool;
        return;
      }
      switch (action) {
        case 'config':
          exit = await config(type, tool, opts, io);
          return;
        case 'status': {
          const m = readManifest(tool.home);
          if (m?.backend === 'slurm') {
            exit = await (await import('./webservice-slurm.js')).slurmStatus(controlContext(tool, io), m, opts.json === true, io);
            return;
          }
          exit = await status(tool, opts, io);
          return;
        }
        case 'logs':
          exit = await (await import('./webservice-logs.js')).showLogs(tool, opts, io);
          return;
        case 'start': {
          const manifest = manifestFor(tool, type, command, opts);
          if (note) io.err(`webservice: ${note}\n`);
          const ctx = controlContext(tool, io);
          if (manifest.backend === 'slurm') {
            // the tool's definitions count as on this host; the node's registrar admits the server where it lands
            const { checkStart, currentDefinitions } = await import('../webservice/index.js');
            const defs = currentDefinitions(ctx);
            await checkStart(ctx, { ...defs, continuous: defs.continuous + (readManifest(tool.home) ? 0 : 1) }, null);
            exit = await (await import('./webservice-slurm.js')).slurmStart(ctx, manifest, io);
            return;
          }
          if (readManifest(tool.home)?.backend === 'slurm') await (await import('./webservice-slurm.js')).refuseIfOnSlurm(ctx);
          const { startWebservice, checkStart, currentDefinitions } = await import('../webservice/index.js');
          const defs = currentDefinitions(ctx);
          await checkStart(ctx, { ...defs, continuous: defs.continuous + (readManifest(tool.home) ? 0 : 1) }, { unit: unitName('web'), kind: 'web', ...resourcesOf(manifest) });
          io.err('Starting webservice...\n');
          const r = await startWebservice(ctx, manifest);
          if (r.alreadyRunning) {
            io.out(`Your webservice is already running (${r.state.type}): ${r.state.url ?? r.state.message}.\n`);
            exit = 0;
            return;
          }
          exit = reportState(r.state, io);
          return;
        }
        case 'stop': {
          if (readManifest(tool.home)?.backend === 'slurm') {
            exit = await (await import('./webservice-slurm.js')).slurmStop(controlContext(tool, io), io);
            return;
          }
          const { stopWebservice } = await import('../webservice/control.js');
          const was = await stopWebservice(controlContext(tool, io));
          io.out(was ? 'Your webservice is stopped; its route is removed.\n' : 'Your webservice is not running.\n');
          exit = 0;
          return;
        }
        case 'restart': {
          const manifest = manifestFor(tool, type, command, opts);
          if (note) io.err(`webservice: ${note}\n`);
          const ctx = controlContext(tool, io);
          if (manifest.backend === 'slurm') {
            exit = await (await import('./webservice-slurm.js')).slurmRestart(ctx, manifest, io);
            return;
          }
          if (readManifest(tool.home)?.backend === 'slurm') await (await import('./webservice-slurm.js')).refuseIfOnSlurm(ctx);
          const { restartWebservice, checkStart, currentDefinitions } = await import('../webservice/index.js');
          await checkStart(ctx, currentDefinitions(ctx), { unit: unitName('web'), kind: 'web', ...resourcesOf(manifest) });
          io.err('Restarting webservice...\n');
          const r = await restartWebservice(ctx, manifest);
          if (!r.replaced && r.state.state === 'running' && !r.state.configError) {
            // the new server failed (an app that does not import, a crash at start): the old one serves on
            io.out(`Your webservice keeps running the previous server (${r.state.url}): ${r.state.message}\n`);
            exit = 1;
            return;
          }
          exit = reportState(r.state, io);
          return;
        }
      }
    });
  return (await runProgram(program, own)) ?? exit;
}
