// The host monitor (successor of Toolforge's webservicemonitor), run by root: every interval,
// each tool home under the home root with a ~/service.manifest owned by the tool must have a
// live supervisor; one that died (SIGKILL, OOM, reboot) is started again, as the tool, at most a
// few times per window. Root reads only two small files of a tool, never through a link and
// only if the tool owns them, and never writes one.
import { statSync } from 'node:fs';
import path from 'node:path';
import { prepareRuntimeDirectory, runtimeDirectory, toolOwner, toolsUnder, type Tool } from '../accounts/index.js';
import { launchSupervisor } from './control.js';
import { manifestPath, readManifestOf } from './manifest.js';
import { supervisorPid } from './service-state.js';

export interface MonitorOptions {
  readonly homeRoot: string;
  readonly registrarDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
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
    try {
      statSync(this.#o.homeRoot);
    } catch (err) {
      this.#o.log(`cannot read ${this.#o.homeRoot}: ${(err as Error).message}`);
      return out;
    }
    for (const tool of toolsUnder(this.#o.homeRoot)) out.set(tool.name, this.#check(tool, now));
    return out;
  }

  #check(tool: Tool, now: number): MonitorVerdict {
    const name = tool.name;
    const owner = toolOwner(tool);
    if (!owner) return 'no-manifest';
    const { manifest, problem } = readManifestOf(tool.home, owner);
    if (problem) {
      // only the tool itself may ask for its webservice: a link or someone else's file is ignored
      this.#o.log(`${name}: ignoring ${manifestPath(tool.home)}: ${problem}`);
      return 'ignored';
    }
    const runtimeDir = runtimeDirectory(tool, this.#o.env);
    // the system runtime directory is root's to make (/run is emptied at boot); one inside a
    // development tool's home is made by its supervisor, as the tool
    if (!runtimeDir.startsWith(tool.home + path.sep)) {
      try {
        prepareRuntimeDirectory(runtimeDir, owner);
      } catch (err) {
        this.#o.log(`${name}: cannot prepare ${runtimeDir}: ${(err as Error).message}`);
        return 'ignored';
      }
    }
    if (!manifest) return 'no-manifest';
    if (supervisorPid(runtimeDir, name, owner) !== null) return 'running';
    const window = this.#o.windowMs ?? 10 * 60_000;
    const recent = (this.#restarts.get(name) ?? []).filter((t) => now - t < window);
    if (recent.length >= (this.#o.maxRestarts ?? 3)) {
      this.#restarts.set(name, recent);
      this.#o.log(`${name}: supervisor down, but restarted ${recent.length} times in ${Math.round(window / 60_000)} min; leaving it for a person (webservice status)`);
      return 'throttled';
    }
    recent.push(now);
    this.#restarts.set(name, recent);
    const pid = launchSupervisor({ tool, runtimeDir, registrarDir: this.#o.registrarDir, env: this.#o.env }, process.getuid?.() === 0 ? owner : null);
    this.#o.log(`${name}: supervisor was not running; started a new one (pid ${pid}) for its ${manifest.type} webservice`);
    return 'restarted';
  }
}
