// `toolhost routes list|show|set|rm`: the route table as an administrator sees it.
import type { Command as Commander } from 'commander';
import { ToolhostError } from '../errors.js';
import type { LeaseView, RedisUrlOptions, RouteProblem, RouteStore, StoredRoute } from '../routes/index.js';
import { validateToolName } from '../tool-name.js';
import type { CliIo } from './io.js';
import { addRedisOptions } from './redis-options.js';

type RoutesModule = typeof import('../routes/index.js');

/** the route table's code and Redis's client load when a subcommand runs, not for `routes --help` (#14) */
const routesModule = (): Promise<RoutesModule> => import('../routes/index.js');

function describeHash(r: RoutesModule, tool: string, stored: StoredRoute, now: number, leases: LeaseView): { line: string; problems: RouteProblem[] } {
  const { OversizedRoute, parseRoute } = r;
  if (stored instanceof OversizedRoute) return { line: `${tool.padEnd(24)} refused by the proxies: ${stored.reason}`, problems: [] };
  const problems: RouteProblem[] = [];
  const route = parseRoute(tool, stored, now, problems, null, leases);
  const leaseOf = (until: number | null): string => (until ? ` (lease ${Math.round((until - now) / 1000)}s)` : '');
  const live = route?.backends.map((b) => b.url + (b.node ? ` (node ${b.node}${leaseOf(leases.nodeUntil(b.node))})` : leaseOf(b.leaseUntil))) ?? [];
  const state = live.length ? live.join(', ') : 'no live backend';
  return { line: `${tool.padEnd(24)} ${state}`, problems };
}

export function registerRoutesCommand(program: Commander, io: CliIo, setExit: (code: number) => void): void {
  const routes = program.command('routes').description('read and change the route table in Redis');
  addRedisOptions(routes, 'the route table');
  const withStore = async <T>(fn: (store: RouteStore, r: RoutesModule) => Promise<T>): Promise<T> => {
    const r = await routesModule();
    return r.withRedis(r.redisConnectionFrom(routes.opts<RedisUrlOptions>(), io.env), (redis) => fn(new r.RouteStore(redis), r));
  };

  routes
    .command('list')
    .option('--json', 'the raw hashes as JSON')
    .description('every tool with a route, its live backends')
    .action(async (opts: { json?: boolean }) => {
      await withStore(async (store, r) => {
        const all = await store.loadAll();
        const leases = r.writtenLeases(await store.nodes());
        if (opts.json) {
          io.out(`${JSON.stringify(Object.fromEntries([...all].map(([t, h]) => [t, h instanceof r.OversizedRoute ? { refused: h.reason } : h])), null, 2)}\n`);
          return;
        }
        const now = Date.now();
        for (const [tool, hash] of all) io.out(`${describeHash(r, tool, hash, now, leases).line}\n`);
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
      await withStore(async (store, r) => {
        const hash = await store.get(tool);
        if (hash instanceof r.OversizedRoute) {
          io.out(`${describeHash(r, tool, hash, Date.now(), r.writtenLeases()).line}\n`);
          return;
        }
        if (!Object.keys(hash).length) throw new ToolhostError('TH_ERR_ROUTE_NOT_FOUND', tool);
        for (const [field, value] of Object.entries(hash).sort()) io.out(`${field}\t${value}\n`);
        for (const p of describeHash(r, tool, hash, Date.now(), r.writtenLeases(await store.nodes())).problems) io.err(`${r.routeProblemLine(p)}\n`);
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
      const { parseBackendUrl, ROUTE_LIMITS } = await routesModule();
      const parsed = Buffer.byteLength(url) > ROUTE_LIMITS.maxValueBytes ? `longer than ${ROUTE_LIMITS.maxValueBytes} bytes` : parseBackendUrl(url);
      if (typeof parsed === 'string') throw new ToolhostError('TH_ERR_BACKEND_URL_INVALID', url.slice(0, 100), parsed);
      await withStore((store) => store.setDefault(tool, url));
      setExit(0);
    });

  routes
    .command('rm')
    .argument('<tool>')
    .description('remove every route of the tool')
    .action(async (tool: string) => {
      validateToolName(tool);
      const removed = await withStore((store) => store.removeTool(tool));
      if (!removed) throw new ToolhostError('TH_ERR_ROUTE_NOT_FOUND', tool);
      setExit(0);
    });
}
