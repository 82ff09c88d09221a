// `toolhost routes list|show|set|rm`: the route table as an administrator sees it.
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import { parseBackendUrl, parseRoute, RouteStore, withRedis, type RouteProblem } from '../routes/index.js';
import { validateToolName } from '../tool-name.js';
import type { CliIo } from './io.js';

function withStore<T>(url: string, fn: (store: RouteStore) => Promise<T>): Promise<T> {
  return withRedis(url, (redis) => fn(new RouteStore(redis)));
}

function describeHash(tool: string, hash: Record<string, string>, now: number): { line: string; problems: RouteProblem[] } {
  const problems: RouteProblem[] = [];
  const route = parseRoute(tool, hash, now, problems);
  const live = route?.backends.map((b) => b.url + (b.leaseUntil ? ` (lease ${Math.round((b.leaseUntil - now) / 1000)}s)` : '')) ?? [];
  const state = live.length ? live.join(', ') : 'no live backend';
  return { line: `${tool.padEnd(24)} ${state}`, problems };
}

export function registerRoutesCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  const routes = program.command('routes').description('read and change the route table in Redis');
  routes.option('--redis <url>', 'the route table (or TOOLHOST_REDIS_URL)');
  const redisUrl = (): string => (routes.opts() as { redis?: string }).redis ?? io.env.TOOLHOST_REDIS_URL ?? 'redis://127.0.0.1:6379';

  routes
    .command('list')
    .option('--json', 'the raw hashes as JSON')
    .description('every tool with a route, its live backends')
    .action(async (opts: { json?: boolean }) => {
      await withStore(redisUrl(), async (store) => {
        const all = await store.loadAll();
        if (opts.json) {
          io.out(`${JSON.stringify(Object.fromEntries(all), null, 2)}\n`);
          return;
        }
        const now = Date.now();
        for (const [tool, hash] of all) io.out(`${describeHash(tool, hash, now).line}\n`);
        io.err(`${all.size} tool(s)\n`);
      });
      setExit(0);
    });

  routes
    .command('show')
    .argument('<tool>')
    .description('one tool\'s route hash, field by field, and any field the proxy ignores')
    .action(async (tool: string) => {
      validateToolName(tool);
      await withStore(redisUrl(), async (store) => {
        const hash = await store.get(tool);
        if (!Object.keys(hash).length) throw new ToolhostError('TH_ERR_ROUTE_NOT_FOUND', tool);
        for (const [field, value] of Object.entries(hash).sort()) io.out(`${field}\t${value}\n`);
        for (const p of describeHash(tool, hash, Date.now()).problems) io.err(`ignored by the proxy: ${p.field} = ${p.value}: ${p.reason}\n`);
      });
      setExit(0);
    });

  routes
    .command('set')
    .argument('<tool>')
    .argument('<url>', 'http://HOST:PORT')
    .description('route the tool to URL (Toolforge\'s ".*" field; no lease)')
    .action(async (tool: string, url: string) => {
      validateToolName(tool);
      const parsed = parseBackendUrl(url);
      if (typeof parsed === 'string') throw new ToolhostError('TH_ERR_BACKEND_URL_INVALID', url, parsed);
      await withStore(redisUrl(), (store) => store.setDefault(tool, url));
      setExit(0);
    });

  routes
    .command('rm')
    .argument('<tool>')
    .description('remove every route of the tool')
    .action(async (tool: string) => {
      validateToolName(tool);
      const removed = await withStore(redisUrl(), (store) => store.removeTool(tool));
      if (!removed) throw new ToolhostError('TH_ERR_ROUTE_NOT_FOUND', tool);
      setExit(0);
    });
}
