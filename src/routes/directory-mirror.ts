// The tool directory in memory, for the proxy's home page and its "exists but not running"
// answers: kept current by the route table's connections (announcements, keyspace events,
// resyncs), never read per request. A proxy whose Redis user may not read the directory keeps
// routing; it only lists fewer tools, and says why once.
import { OversizedRoute, type StoredHash } from './bounded-hash.js';
import { parseToolEntry, type ToolDirectoryStore, type ToolEntry } from './tool-directory.js';

export interface DirectoryMirrorEvents {
  /** an entry appeared, changed or went (null) */
  change(tool: string, entry: ToolEntry | null): void;
  /** one line for the operator: an entry refused, or the directory unreadable */
  warning(line: string): void;
}

export class DirectoryMirror {
  readonly #entries = new Map<string, ToolEntry>();
  readonly #store: ToolDirectoryStore;
  readonly #events: DirectoryMirrorEvents;
  /** bumped by every single-tool read, so a slower full read does not undo a newer one */
  readonly #versions = new Map<string, number>();
  #version = 0;
  #denied = false;

  constructor(store: ToolDirectoryStore, events: DirectoryMirrorEvents) {
    this.#store = store;
    this.#events = events;
  }

  get(tool: string): ToolEntry | undefined {
    return this.#entries.get(tool);
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<ToolEntry> {
    return this.#entries.values();
  }

  /** re-read one entry; keeps what it had if Redis cannot be asked */
  async refresh(tool: string): Promise<void> {
    const version = ++this.#version;
    this.#versions.set(tool, version);
    let stored: StoredHash;
    try {
      stored = await this.#store.get(tool);
    } catch (err) {
      this.#failed(err);
      return;
    }
    if (this.#versions.get(tool) === version) this.#apply(tool, stored);
  }

  /**
   * Re-read the whole directory. mergeOnly (after Redis restarted): add and update, remove
   * nothing, as the route table does for routes.
   */
  async resync(mergeOnly: boolean): Promise<void> {
    const started = this.#version;
    let all: Map<string, StoredHash>;
    try {
      all = await this.#store.loadAll();
    } catch (err) {
      this.#failed(err);
      return;
    }
    this.#denied = false;
    const newer = (tool: string): boolean => (this.#versions.get(tool) ?? 0) > started;
    if (!mergeOnly) for (const tool of [...this.#entries.keys()]) if (!all.has(tool) && !newer(tool)) this.#apply(tool, {});
    for (const [tool, stored] of all) if (!newer(tool)) this.#apply(tool, stored);
  }

  #failed(err: unknown): void {
    const message = (err as Error).message;
    if (!/NOPERM/.test(message) || this.#denied) return;
    this.#denied = true;
    this.#events.warning(`the tool directory is not readable with this Redis user (${message}); the home page lists only routed tools: recreate the proxy's user (toolhost tool proxy-user)`);
  }

  #apply(tool: string, stored: StoredHash): void {
    if (stored instanceof OversizedRoute) {
      // refused inside Redis: keep what was known
      this.#events.warning(`tool directory entry ${tool}: refused, ${stored.reason}`);
      return;
    }
    const skipped: string[] = [];
    const entry = Object.keys(stored).length ? parseToolEntry(tool, stored, skipped) : null;
    const old = this.#entries.get(tool);
    if (entry === null) {
      if (this.#entries.delete(tool)) this.#events.change(tool, null);
      return;
    }
    if (old && sameEntry(old, entry)) return;
    if (skipped.length) this.#events.warning(`tool directory entry ${tool}: ignoring maintainers that are not user names: ${JSON.stringify(skipped.slice(0, 5))}`);
    this.#entries.set(tool, entry);
    this.#events.change(tool, entry);
  }
}

function sameEntry(a: ToolEntry, b: ToolEntry): boolean {
  return a.description === b.description && a.maintainers.length === b.maintainers.length && a.maintainers.every((m, i) => m === b.maintainers[i]);
}
