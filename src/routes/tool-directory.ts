// The tool directory: each existing tool's public facts — its maintainers and the
// administrator's description — in `toolhost:tool:<tool>` hashes (route-keys.ts), so that proxies
// list every tool and tell "exists but not running" from "no such tool" on hosts where the tools'
// unix accounts do not exist. Written only by the administrator's `toolhost tool` commands (from
// the unix group of the tool, on the host where the accounts are); proxies read it bounded, as
// they read routes.
import type { Redis } from 'ioredis';
import { ToolhostError } from '../errors.js';
import { isToolName, validateToolName } from '../tool-name.js';
import { isUserName, validateUserName } from '../user-name.js';
import { BoundedHashReader, type StoredHash } from './bounded-hash.js';
import { DESCRIPTION_FIELD, DIRECTORY_CHANNEL_PATTERN, directoryKey, MAINTAINERS_FIELD, toolOfDirectoryKey } from './route-keys.js';
import { DIRECTORY_LIMITS, normalizeDescription } from './route-limits.js';

export interface ToolEntry {
  readonly tool: string;
  /** unix user names, sorted */
  readonly maintainers: readonly string[];
  /** the administrator's one-line description, or null */
  readonly description: string | null;
}

/**
 * An entry as a reader takes it: maintainers that are not user names (a hand-written field) are
 * left out and reported, never shown; null for a key that does not name a tool.
 */
export function parseToolEntry(tool: string, hash: Readonly<Record<string, string>>, skipped: string[] = []): ToolEntry | null {
  if (!isToolName(tool)) return null;
  const names = new Set<string>();
  for (const name of (hash[MAINTAINERS_FIELD] ?? '').split(' ')) {
    if (name === '') continue;
    if (isUserName(name) && names.size < DIRECTORY_LIMITS.maxMaintainers) names.add(name);
    else skipped.push(name.slice(0, 40));
  }
  return { tool, maintainers: [...names].sort(), description: normalizeDescription(hash[DESCRIPTION_FIELD]) };
}

/** what the administrator's commands record; description: undefined keeps the recorded one, null removes it */
export interface ToolEntryUpdate {
  readonly maintainers: readonly string[];
  readonly description?: string | null;
}

export class ToolDirectoryStore {
  readonly #redis: Redis;
  readonly #reader: BoundedHashReader;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#reader = new BoundedHashReader(redis);
  }

  /** record a tool's entry, within the limits, and announce it */
  async write(tool: string, update: ToolEntryUpdate): Promise<void> {
    validateToolName(tool);
    const maintainers = [...new Set(update.maintainers.map(validateUserName))].sort();
    if (maintainers.length > DIRECTORY_LIMITS.maxMaintainers) throw new ToolhostError('TH_ERR_TOOL_TOO_MANY_MAINTAINERS', tool, maintainers.length, DIRECTORY_LIMITS.maxMaintainers);
    const key = directoryKey(tool);
    // an empty maintainers field still records the tool: it exists, with nobody to act for it
    const m = this.#redis.multi().hset(key, MAINTAINERS_FIELD, maintainers.join(' '));
    if (update.description !== undefined) {
      const description = normalizeDescription(update.description);
      if (description === null) m.hdel(key, DESCRIPTION_FIELD);
      else m.hset(key, DESCRIPTION_FIELD, description);
    }
    m.publish(key, 'set');
    await m.exec();
  }

  /** the tool is gone: its entry too; true when there was one */
  async remove(tool: string): Promise<boolean> {
    const key = directoryKey(tool);
    const res = await this.#redis.multi().del(key).publish(key, 'remove').exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }

  /** one entry's hash ({} when there is none), or why it was refused */
  async get(tool: string): Promise<StoredHash> {
    return (await this.getMany([tool]))[0] ?? {};
  }

  getMany(tools: readonly string[]): Promise<StoredHash[]> {
    return this.#reader.getMany(tools.map(directoryKey), DIRECTORY_LIMITS);
  }

  /** every tool with an entry */
  async tools(): Promise<string[]> {
    const out = new Set<string>();
    for (const key of await this.#reader.scan(DIRECTORY_CHANNEL_PATTERN)) {
      const tool = toolOfDirectoryKey(key);
      if (tool !== null) out.add(tool);
    }
    return [...out].sort();
  }

  /** the whole directory: SCAN, then bounded reads in pipelined batches */
  async loadAll(batch = 500): Promise<Map<string, StoredHash>> {
    const tools = await this.tools();
    const out = new Map<string, StoredHash>();
    for (let i = 0; i < tools.length; i += batch) {
      const slice = tools.slice(i, i + batch);
      const hashes = await this.getMany(slice);
      slice.forEach((tool, j) => {
        const h = hashes[j];
        if (h) out.set(tool, h);
      });
    }
    return out;
  }
}
