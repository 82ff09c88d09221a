// `toolhost tool create|delete|list|show|add-maintainer|proxy-user`: tool accounts, run by an
// administrator with the administrator's Redis URL (TOOLHOST_REDIS_URL or --redis).
import { existsSync } from 'node:fs';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { validateToolName } from '../tool-name.js';
import type { AdminContext, ToolRecord } from '../webservice/index.js';
import type { CliIo } from './io.js';

/** accounts, Redis's client and the tool administration load when a subcommand runs, not for --help (#14) */
async function admin() {
  const [accounts, routes, webservice] = await Promise.all([import('../accounts/index.js'), import('../routes/index.js'), import('../webservice/index.js')]);
  return { lookupAccount: accounts.lookupAccount, redisUrlFrom: routes.redisUrlFrom, ...webservice };
}

interface AdminOptions {
  redis?: string;
  redisFile?: string;
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
  const tool = program
    .command('tool')
    .description('tool accounts: unix user, home, and a Redis user with a private keyspace; the Redis users of proxies and registrars')
    .option('--redis <url>', 'the administrator\'s Redis, without a password (or TOOLHOST_REDIS_URL)')
    .option('--redis-file <file>', 'a file only you may read holding the administrator\'s URL')
    .option('--public-redis-url <url>', 'host and port tools reach Redis at, for their credentials (default: --redis)')
    .option('--home-root <dir>', 'where tool homes are', '/data/project');
  const ctx = async (): Promise<AdminContext> => {
    const o = tool.opts<AdminOptions>();
    const { redisUrlFrom } = await admin();
    return {
      redisUrl: redisUrlFrom(o, io.env),
      ...(o.publicRedisUrl ? { publicRedisUrl: o.publicRedisUrl } : {}),
      homeRoot: o.homeRoot ?? '/data/project',
      env: io.env,
    };
  };

  tool
    .command('create')
    .argument('<name>')
    .option('--json', 'print the record as JSON')
    .description('create the tool: unix user and group tools.NAME (as root), home with public_html/, Redis user (keys tool:NAME:*), credentials file')
    .action(async (name: string, opts: { json?: boolean }) => {
      const { createTool } = await admin();
      printRecord(await createTool(await ctx(), name), opts.json === true, io);
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
      const { toolRecord, lookupAccount } = await admin();
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
    .description('let a unix user maintain the tool (membership of group tools.NAME)')
    .action(async (name: string, user: string) => {
      const { addMaintainer } = await admin();
      addMaintainer(name, user);
      io.out(`${user} maintains ${name} (group tools.${name}); they need to log in again\n`);
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
    .command('proxy-user')
    .description('create (or reset) the proxy\'s read-only Redis user; prints its URL for toolhost proxy --redis')
    .action(async () => {
      const { createProxyUser } = await admin();
      io.out(`${await createProxyUser(await ctx())}\n`);
      setExit(0);
    });
}
