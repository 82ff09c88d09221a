// The host monitor (successor of Toolforge's webservicemonitor): every interval, each tool home
// under the home root with a ~/service.manifest owned by the tool must have a live supervisor;
// one that died (SIGKILL, OOM, reboot) is started again, at most a few times per window.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isToolName, toolAccountName } from '../tool-name.js';
import { relaunchSupervisor } from './control.js';
import { manifestPath, readManifest } from './manifest.js';
import { supervisorPid } from './service-state.js';
import { lookupAccount, runtimeDirectory, type Tool } from './tool-account.js';
import { toolRedisUrl } from './tool-admin.js';

export interface MonitorOptions {
  readonly homeRoot: string;
  readonly redisUrl: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly bind: string;
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  readonly log: (line: string) => void;
}

export type MonitorVerdict = 'running' | 'restarted' | 'throttled' | 'ignored' | 'no-manifest';

export class HostMonitor {
  readonly #o: MonitorOptions;
  readonly #restarts = new Map<string, number[]>();

  constructor(options: MonitorOptions) {
    this.#o = options;
  }

  /** one pass over the home root; what was found for each tool */
  scan(now = Date.now()): Map<string, MonitorVerdict> {
    const out = new Map<string, MonitorVerdict>();
    let names: string[];
    try {
      names = readdirSync(this.#o.homeRoot);
    } catch (err) {
      this.#o.log(`cannot read ${this.#o.homeRoot}: ${(err as Error).message}`);
      return out;
    }
    for (const name of names.sort()) {
      if (!isToolName(name)) continue;
      out.set(name, this.#check(name, now));
    }
    return out;
  }

  #check(name: string, now: number): MonitorVerdict {
    const home = path.join(this.#o.homeRoot, name);
    const manifest = readManifest(home);
    if (!manifest) return 'no-manifest';
    const account = lookupAccount(toolAccountName(name));
    // only the tool itself may ask for its webservice: a manifest someone else wrote is ignored
    const expectedUid = account ? account.uid : statSync(home).uid;
    if (statSync(manifestPath(home)).uid !== expectedUid) {
      this.#o.log(`${name}: ignoring ${manifestPath(home)}: it is not owned by the tool (uid ${expectedUid})`);
      return 'ignored';
    }
    const tool: Tool = { name, home, account };
    const runtimeDir = runtimeDirectory(tool, this.#o.env);
    if (supervisorPid(runtimeDir) !== null) return 'running';
    const window = this.#o.windowMs ?? 10 * 60_000;
    const recent = (this.#restarts.get(name) ?? []).filter((t) => now - t < window);
    if (recent.length >= (this.#o.maxRestarts ?? 3)) {
      this.#restarts.set(name, recent);
      this.#o.log(`${name}: supervisor down, but restarted ${recent.length} times in ${Math.round(window / 60_000)} min; leaving it for a person (webservice status)`);
      return 'throttled';
    }
    recent.push(now);
    this.#restarts.set(name, recent);
    const pid = relaunchSupervisor({
      tool,
      runtimeDir,
      redisUrl: toolRedisUrl(home, this.#o.redisUrl),
      env: this.#o.env,
      asAccount: process.getuid?.() === 0 && account !== null,
      bind: this.#o.bind,
    });
    this.#o.log(`${name}: supervisor was not running; started a new one (pid ${pid}) for its ${manifest.type} webservice`);
    return 'restarted';
  }
}
