// `toolhost tool create|delete|list|show|add-maintainer|remove-maintainer|describe|sync|proxy-user`:
// tool accounts, run by an administrator with the administrator's Redis URL (TOOLHOST_REDIS_URL
// or --redis).
import { existsSync } from 'node:fs';
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { validateToolName } from '../tool-name.js';
import { lookupAccount } from '../accounts/index.js';
import { redisUrlFrom } from '../routes/index.js';
import {
  addMaintainer,
  createProxyUser,
  createRegistrarUser,
  createTool,
  deleteTool,
  describeTool,
  listTools,
  removeMaintainer,
  syncTools,
  toolRecord,
  type AdminContext,
  type ToolRecord,
} from '../webservice/index.js';
import type { CliIo } from './io.js';

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
  const ctx = (): AdminContext => {
    const o = tool.opts<AdminOptions>();
    return {
      redisUrl: redisUrlFrom(o, io.env),
      ...(o.publicRedisUrl ? { publicRedisUrl: o.publicRedisUrl } : {}),
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
      printRecord(await createTool(ctx(), name, opts.description !== undefined ? { description: opts.description } : {}), opts.json === true, io);
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
    .description('let a unix user maintain the tool: group tools.NAME, `become NAME` (sudoers rule), the home page')
    .action(async (name: string, user: string) => {
      io.out(maintainersLine(name, await addMaintainer(ctx(), name, user)));
      io.out(`${user} can become ${name} now; the group's file access starts at their next login\n`);
      setExit(0);
    });

  tool
    .command('remove-maintainer')
    .argument('<name>')
    .argument('<user>')
    .description('USER no longer maintains the tool: out of group tools.NAME and its sudoers rule, off the home page')
    .action(async (name: string, user: string) => {
      io.out(maintainersLine(name, await removeMaintainer(ctx(), name, user)));
      io.out(`${user} can no longer become ${name}; sessions they have open keep the group's file access until they end\n`);
      setExit(0);
    });

  tool
    .command('describe')
    .argument('<name>')
    .argument('<text>', 'one line; "" removes it')
    .description('set the administrator\'s description of the tool on the home page')
    .action(async (name: string, text: string) => {
      await describeTool(ctx(), name, text);
      setExit(0);
    });

  tool
    .command('sync')
    .argument('[names...]', 'the tools (default: every tool)')
    .description('record maintainers again from the tools\' groups: sudoers rules and tool directory entries (after usermod by hand, a Redis that lost data, or sudo installed late)')
    .action(async (names: string[]) => {
      for (const [name, maintainers] of await syncTools(ctx(), names)) io.out(maintainersLine(name, maintainers));
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
    .command('proxy-user')
    .description('create (or reset) the proxy\'s read-only Redis user; prints its URL for toolhost proxy --redis')
    .action(async () => {
      io.out(`${await createProxyUser(ctx())}\n`);
      setExit(0);
    });
}
