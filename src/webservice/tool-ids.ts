// The numeric ids of tool accounts. A tool's uid and its group's gid are one number, handed out by
// a counter in Redis that only goes up: no two tools ever hold the same id, on one host or on
// several sharing their homes (NFS), and an id freed by `tool delete` is never given again. A
// reused id would hand the new tool everything the deleted one left (a home kept on purpose,
// files anywhere) and let a maintainer of the deleted tool, still logged in with its group, write
// in the new tool's home.
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';

/** the first id given to a tool (Toolforge's tool accounts also start at 50000) */
export const FIRST_TOOL_ID = 50_000;
/** name -> id of every tool that exists; a name made again after a delete gets a new id */
export const TOOL_IDS_KEY = 'toolhost:tool-ids';
/** the last id handed out */
export const LAST_TOOL_ID_KEY = 'toolhost:last-tool-id';

const NEXT_ID = `local v = redis.call('INCR', KEYS[1])
if v < tonumber(ARGV[1]) then v = tonumber(ARGV[1]); redis.call('SET', KEYS[1], v) end
return v`;

/** whether this host already has a user or a group with this id (made by someone else) */
function usedHere(id: number): boolean {
  return ['passwd', 'group'].some((db) => spawnSync('getent', [db, String(id)]).status === 0);
}

/**
 * The id the tool's account gets on this host: the one the tool already has (created on another
 * host), or the next one never given out and free here. `taken` says an id turned out to be used
 * (another administrator made an account meanwhile): the next call gives another.
 */
export async function toolId(r: Redis, name: string, taken: ReadonlySet<number> = new Set()): Promise<number> {
  const known = await r.hget(TOOL_IDS_KEY, name);
  if (known !== null && !taken.has(Number(known)) && !usedHere(Number(known))) return Number(known);
  for (;;) {
    const id = Number(await r.eval(NEXT_ID, 1, LAST_TOOL_ID_KEY, String(FIRST_TOOL_ID)));
    if (taken.has(id) || usedHere(id)) continue;
    await r.hset(TOOL_IDS_KEY, name, String(id));
    return id;
  }
}

/** the tool is gone: its name, made again, gets a new id (the old one stays retired) */
export async function forgetToolId(r: Redis, name: string): Promise<void> {
  await r.hdel(TOOL_IDS_KEY, name);
}
