// `toolhost tool create|delete|list|show|add-maintainer|proxy-user|registrar-user|sync-acl`:
// tool accounts, run by an administrator with the administrator's Redis URL (TOOLHOST_REDIS_URL,
// --redis-file; with Sentinel, also --redis-sentinels and --redis-master).
import { existsSync } from 'node:fs';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { validateToolName } from '../tool-name.js';
import { lookupAccount } from '../accounts/index.js';
import { parseHostPort, parseRedisConnection, redisConnectionFrom } from '../routes/index.js';
import { addMaintainer, createProxyUser, createRegistrarUser, createTool, deleteTool, listTools, syncRedisUsers, toolRecord, type AdminContext, type ToolRecord } from '../webservice/index.js';
import type { CliIo } from './io.js';
import { addRedisOptions } from './redis-options.js';

interface AdminOptions {
  redis?: string;
  redisFile?: string;
  redisSentinels?: string;
  redisMaster?: string;
  publicRedisUrl?: string;
  homeRoot?: string;
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
  const ctx = (): AdminContext => {
    const o = tool.opts<AdminOptions>();
    return {
      redis: redisConnectionFrom(o, io.env),
      ...(o.publicRedisUrl ? { publicRedis: parseRedisConnection(o.publicRedisUrl) } : {}),
      homeRoot: o.homeRoot ?? '/data/project',
      env: io.env,
      warn: (line) => io.err(`toolhost tool: ${line}\n`),
    };
  };

  tool
    .command('create')
    .argument('<name>')
    .option('--json', 'print the record as JSON')
    .description('create the tool: unix user and group tools.NAME (as root), home with public_html/, Redis user (keys tool:NAME:*), credentials file')
    .action(async (name: string, opts: { json?: boolean }) => {
      printRecord(await createTool(ctx(), name), opts.json === true, io);
      setExit(0);
    });

  tool
    .command('delete')
    .argument('<name>')
    .option('--remove-home', 'also remove the home directory')
    .description('remove the tool\'s Redis user and routes, stop its processes and remove its unix user')
    .action(async (name: string, opts: { removeHome?: boolean }) => {
      await deleteTool(ctx(), name, { removeHome: opts.removeHome === true });
      io.out(`tool ${name} deleted\n`);
      setExit(0);
    });

  tool
    .command('list')
    .description('every tool with a Redis user')
    .action(async () => {
      for (const name of await listTools(ctx())) io.out(`${name}\n`);
      setExit(0);
    });

  tool
    .command('show')
    .argument('<name>')
    .option('--json', 'as JSON: name, home, uid, gid, redisUser, credentialsFile, maintainers')
    .action((name: string, opts: { json?: boolean }) => {
      validateToolName(name);
      const r = toolRecord(name, ctx().homeRoot);
      // a development tool has no unix account: it exists if its home does
      if (r.uid === null && !lookupAccount(`tools.${name}`) && !existsSync(r.home)) throw new ToolhostError('TH_ERR_TOOL_UNKNOWN', name);
      printRecord(r, opts.json === true, io);
      setExit(0);
    });

  tool
    .command('add-maintainer')
    .argument('<name>')
    .argument('<user>')
    .description('let a unix user maintain the tool (membership of group tools.NAME)')
    .action((name: string, user: string) => {
      addMaintainer(name, user);
      io.out(`${user} maintains ${name} (group tools.${name}); they need to log in again\n`);
      setExit(0);
    });

  tool
    .command('registrar-user')
    .description('create (or reset) the node registrars\' Redis user, the only one that writes tools\' routes; prints its URL for toolhost registrar --redis')
    .action(async () => {
      io.out(`${await createRegistrarUser(ctx())}\n`);
      setExit(0);
    });

  tool
    .command('sync-acl')
    .argument('[nodes...]', 'HOST:PORT of the data nodes to bring in step (default: every replica the master and the sentinels know)')
    .option('--from <host:port>', 'copy the users of this node (default: the master)')
    .description('copy every Redis user of the master to the replicas (ACL users are not replicated) and save them there; run it for a new or returning replica')
    .action(async (nodes: string[], opts: { from?: string }) => {
      const admin = ctx();
      const outcomes = await syncRedisUsers(admin.redis, {
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
      io.out(`${await createProxyUser(ctx())}\n`);
      setExit(0);
    });
}
