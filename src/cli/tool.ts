// `toolhost tool create|delete|list|show|add-maintainer|remove-maintainer|describe|sync|quota|
// proxy-user|registrar-user|sync-acl`: tool accounts, run by an administrator with the
// administrator's Redis URL (TOOLHOST_REDIS_URL, --redis-file; with Sentinel, also
// --redis-sentinels and --redis-master).
import { existsSync } from 'node:fs';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { validateToolName } from '../tool-name.js';
import type { AdminContext, ToolRecord } from '../webservice/index.js';
import type { CliIo } from './io.js';
import { addRedisOptions } from './redis-options.js';
import { lookupAccount, requireRootOwnedDirectory } from '../accounts/index.js';
import { DEFAULT_QUOTA, forgetQuota, formatCpu, formatMemory, parseCpu, parseMemory, quantityOption, readQuota, writeQuota, type ToolQuota } from '../limits/index.js';
import { DEFAULT_STATE_DIR, removeStateFile, scheduleStatePath, stateDirectory } from '../state-dir.js';
import { forgetToolMail, isAddress, recordMaintainerEmail } from '../notify/index.js';

/** Redis's client and the tool administration load when a subcommand runs, not for --help (#14) */
async function admin() {
  const [routes, webservice] = await Promise.all([import('../routes/index.js'), import('../webservice/index.js')]);
  return { redisConnectionFrom: routes.redisConnectionFrom, parseRedisConnection: routes.parseRedisConnection, parseHostPort: routes.parseHostPort, ...webservice };
}

interface AdminOptions {
  redis?: string;
  redisFile?: string;
  redisSentinels?: string;
  redisMaster?: string;
  publicRedisUrl?: string;
  homeRoot?: string;
}

interface QuotaOptions {
  memory?: string;
  cpu?: string;
  running?: string;
  runs?: string;
  jobMemory?: string;
  jobCpu?: string;
  cron?: string;
  continuous?: string;
  pids?: string;
  unitPids?: string;
  reset?: boolean;
  json?: boolean;
  stateDir?: string;
}

/** what root's state holds of a deleted tool goes with it: a tool made later under its name starts afresh */
function forgetToolState(stateDir: string, name: string): void {
  forgetToolMail(stateDir, name);
  forgetQuota(stateDir, name);
  removeStateFile(scheduleStatePath(stateDir, name));
}

/** the options given, checked and in the quota's units */
function quotaChanges(o: QuotaOptions): Partial<ToolQuota> {
  const amount = (option: string, v: string | undefined, parse: (t: string) => number): number | undefined => (v === undefined ? undefined : quantityOption(option, v, parse));
  const count = (option: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ToolhostError('TH_ERR_USAGE', `${option} takes a whole number of at least 1, not "${v}"`);
    return n;
  };
  const out: Record<string, number | undefined> = {
    memory: amount('--memory', o.memory, parseMemory),
    cpu: amount('--cpu', o.cpu, parseCpu),
    jobMemory: amount('--job-memory', o.jobMemory, parseMemory),
    jobCpu: amount('--job-cpu', o.jobCpu, parseCpu),
    running: count('--running', o.running),
    runs: count('--runs', o.runs),
    cron: count('--cron', o.cron),
    continuous: count('--continuous', o.continuous),
    pids: count('--pids', o.pids),
    unitPids: count('--unit-pids', o.unitPids),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

function quotaText(name: string, q: ToolQuota): string {
  return [
    `quota of ${name}`,
    `  running jobs at once   ${q.running} (one-off and cron: ${q.runs})`,
    `  memory                 ${formatMemory(q.memory)} (one job: ${formatMemory(q.jobMemory)})`,
    `  cpu                    ${formatCpu(q.cpu)} (one job: ${formatCpu(q.jobCpu)})`,
    `  cron jobs defined      ${q.cron}`,
    `  continuous defined     ${q.continuous} (the webservice included)`,
    `  processes              ${q.pids} (one job: ${q.unitPids})`,
    '',
  ].join('\n');
}

function printRecord(r: ToolRecord, json: boolean, io: CliIo): void {
  if (json) {
    io.out(`${JSON.stringify(r)}\n`);
    return;
  }
  io.out(`tool         ${r.name}\nhome         ${r.home}\nuid          ${r.uid ?? '(no unix account)'}\nredis user   ${r.redisUser}\ncredentials  ${r.credentialsFile}\nmaintainers  ${r.maintainers.join(', ') || '(none)'}\n`);
}

export function registerToolCommands(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  const tool = addRedisOptions(
    program.command('tool').description('tool accounts: unix user, home, and a Redis user with a private keyspace; the Redis users of proxies and registrars'),
    'the administrator\'s Redis',
  )
    .option('--public-redis-url <url>', 'where tools reach Redis (redis:// or redis-sentinel://), for their credentials (default: as the administrator reaches it)')
    .option('--home-root <dir>', 'where tool homes are', '/data/project');
  const ctx = async (): Promise<AdminContext> => {
    const o = tool.opts<AdminOptions>();
    const { redisConnectionFrom, parseRedisConnection } = await admin();
    return {
      redis: redisConnectionFrom(o, io.env),
      ...(o.publicRedisUrl ? { publicRedis: parseRedisConnection(o.publicRedisUrl) } : {}),
      homeRoot: o.homeRoot ?? '/data/project',
      env: io.env,
      warn: (line) => io.err(`toolhost tool: ${line}\n`),
    };
  };
  const maintainersLine = (name: string, maintainers: readonly string[]): string => `${name}: maintained by ${maintainers.join(', ') || 'nobody'}\n`;

  tool
    .command('create')
    .argument('<name>')
    .option('--json', 'print the record as JSON')
    .option('--description <text>', 'one line for the home page (the tool\'s own ~/.description shows instead once its webservice runs)')
    .description('create the tool: unix user and group tools.NAME (as root), home with public_html/, Redis user, credentials file, tool directory entry')
    .action(async (name: string, opts: { json?: boolean; description?: string }) => {
      const { createTool } = await admin();
      printRecord(await createTool(await ctx(), name, opts.description !== undefined ? { description: opts.description } : {}), opts.json === true, io);
      setExit(0);
    });

  tool
    .command('delete')
    .argument('<name>')
    .option('--remove-home', 'also remove the home directory')
    .description('remove the tool\'s Redis user and routes, stop its processes and remove its unix user')
    .action(async (name: string, opts: { removeHome?: boolean }) => {
      const { deleteTool } = await admin();
      await deleteTool(await ctx(), name, { removeHome: opts.removeHome === true });
      forgetToolState(stateDirectory(io.env), validateToolName(name));
      io.out(`tool ${name} deleted\n`);
      setExit(0);
    });

  tool
    .command('list')
    .description('every tool with a Redis user')
    .action(async () => {
      const { listTools } = await admin();
      for (const name of await listTools(await ctx())) io.out(`${name}\n`);
      setExit(0);
    });

  tool
    .command('show')
    .argument('<name>')
    .option('--json', 'as JSON: name, home, uid, gid, redisUser, credentialsFile, maintainers')
    .action(async (name: string, opts: { json?: boolean }) => {
      validateToolName(name);
      const { toolRecord } = await admin();
      const r = toolRecord(name, (await ctx()).homeRoot);
      // a development tool has no unix account: it exists if its home does
      if (r.uid === null && !lookupAccount(`tools.${name}`) && !existsSync(r.home)) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', name);
      printRecord(r, opts.json === true, io);
      setExit(0);
    });

  tool
    .command('add-maintainer')
    .argument('<name>')
    .argument('<user>')
    .option('--email <address>', 'where the tool\'s notices reach this maintainer (used when the tool has no ~/.forward)')
    .option('--state-dir <dir>', `where toolhost keeps its state (or TOOLHOST_STATE_DIR; default ${DEFAULT_STATE_DIR})`)
    .description('let a unix user maintain the tool (membership of group tools.NAME), with the address notices go to')
    .action(async (name: string, user: string, o: { email?: string; stateDir?: string }) => {
      if (o.email !== undefined && !isAddress(o.email)) throw new ToolhostError('TH_ERR_EMAIL_INVALID', JSON.stringify(o.email));
      const { addMaintainer } = await admin();
      io.out(maintainersLine(name, await addMaintainer(await ctx(), name, user)));
      if (o.email !== undefined) recordMaintainerEmail(o.stateDir ?? stateDirectory(io.env), validateToolName(name), user, o.email);
      io.out(`${user} can become ${name} now; the group's file access starts at their next login${o.email ? `; notices go to ${o.email} unless the tool has a ~/.forward` : ''}\n`);
      setExit(0);
    });

  tool
    .command('remove-maintainer')
    .argument('<name>')
    .argument('<user>')
    .description('USER no longer maintains the tool: out of group tools.NAME and its sudoers rule, off the home page')
    .option('--state-dir <dir>', `where toolhost keeps its state (or TOOLHOST_STATE_DIR; default ${DEFAULT_STATE_DIR})`)
    .action(async (name: string, user: string, o: { stateDir?: string }) => {
      const { removeMaintainer } = await admin();
      io.out(maintainersLine(name, await removeMaintainer(await ctx(), name, user)));
      recordMaintainerEmail(o.stateDir ?? stateDirectory(io.env), validateToolName(name), user, null);
      io.out(`${user} can no longer become ${name}; sessions they have open keep the group's file access until they end\n`);
      setExit(0);
    });

  tool
    .command('describe')
    .argument('<name>')
    .argument('<text>', 'one line; "" removes it')
    .description('set the administrator\'s description of the tool on the home page')
    .action(async (name: string, text: string) => {
      const { describeTool } = await admin();
      await describeTool(await ctx(), name, text);
      setExit(0);
    });

  tool
    .command('sync')
    .argument('[names...]', 'the tools (default: every tool)')
    .description('record maintainers again from the tools\' groups: sudoers rules and tool directory entries (after usermod by hand, a Redis that lost data, or sudo installed late)')
    .action(async (names: string[]) => {
      const { syncTools } = await admin();
      for (const [name, maintainers] of await syncTools(await ctx(), names)) io.out(maintainersLine(name, maintainers));
      setExit(0);
    });

  tool
    .command('quota')
    .argument('<name>')
    .option('--memory <amount>', 'memory of all its running jobs together (8Gi)')
    .option('--cpu <amount>', 'CPU of all its running jobs together (2)')
    .option('--running <n>', 'jobs running at once, web services included (10)')
    .option('--runs <n>', 'one-off and cron jobs running at once (15)')
    .option('--job-memory <amount>', 'the most memory one job may ask for (4Gi)')
    .option('--job-cpu <amount>', 'the most CPU one job may ask for (1)')
    .option('--cron <n>', 'scheduled jobs defined (50)')
    .option('--continuous <n>', 'continuous jobs defined, the webservice included (3)')
    .option('--pids <n>', 'processes of the tool at once (1024)')
    .option('--unit-pids <n>', 'processes of one job at once (256)')
    .option('--reset', 'back to the defaults')
    .option('--json', 'as JSON')
    .option('--state-dir <dir>', `where quotas are kept (or TOOLHOST_STATE_DIR; default ${DEFAULT_STATE_DIR})`)
    .description('show or change what the tool may run (running jobs take a change within 10 s, new starts at once)')
    .action((name: string, opts: QuotaOptions) => {
      validateToolName(name);
      const stateDir = opts.stateDir ?? stateDirectory(io.env);
      let q = opts.reset ? DEFAULT_QUOTA : readQuota(stateDir, name);
      const changes = quotaChanges(opts);
      if (opts.reset || Object.keys(changes).length) {
        if (process.getuid?.() === 0) requireRootOwnedDirectory(stateDir);
        q = { ...q, ...changes };
        writeQuota(stateDir, name, q);
      }
      io.out(opts.json ? `${JSON.stringify(q)}\n` : quotaText(name, q));
      setExit(0);
    });

  tool
    .command('registrar-user')
    .description('create (or reset) the node registrars\' Redis user, the only one that writes tools\' routes; prints its URL for toolhost registrar --redis')
    .action(async () => {
      const { createRegistrarUser } = await admin();
      io.out(`${await createRegistrarUser(await ctx())}\n`);
      setExit(0);
    });

  tool
    .command('sync-acl')
    .argument('[nodes...]', 'HOST:PORT of the data nodes to bring in step (default: every replica the master and the sentinels know)')
    .option('--from <host:port>', 'copy the users of this node (default: the master)')
    .description('copy every Redis user of the master to the replicas (ACL users are not replicated) and save them there; run it for a new or returning replica')
    .action(async (nodes: string[], opts: { from?: string }) => {
      const { syncRedisUsers, parseHostPort } = await admin();
      const outcomes = await syncRedisUsers((await ctx()).redis, {
        ...(opts.from ? { from: parseHostPort(opts.from, 6379) } : {}),
        ...(nodes.length ? { to: nodes.map((n) => parseHostPort(n, 6379)) } : {}),
      });
      const failed: string[] = [];
      for (const o of outcomes) {
        if (o.problem) failed.push(`${o.node}: ${o.problem}`);
        io.out(`${o.node}  ${o.set.length} user(s) written${o.set.length ? ` (${o.set.join(', ')})` : ''}, ${o.removed.length} removed${o.removed.length ? ` (${o.removed.join(', ')})` : ''}${o.problem ? `; NOT IN STEP: ${o.problem}` : ''}\n`);
      }
      if (outcomes.length === 0) io.out('no other data node is known: nothing to do\n');
      if (failed.length) throw new ToolhostError('TH_ERR_REDIS_NODES_NOT_SYNCED', failed.join('; '));
      setExit(0);
    });

  tool
    .command('proxy-user')
    .description('create (or reset) the proxy\'s read-only Redis user; prints its URL for toolhost proxy --redis')
    .action(async () => {
      const { createProxyUser } = await admin();
      io.out(`${await createProxyUser(await ctx())}\n`);
      setExit(0);
    });
}
