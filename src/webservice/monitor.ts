// The host monitor (successor of Toolforge's webservicemonitor), run by root. Every interval,
// each tool home under the home root whose ~/service.manifest or ~/jobs.manifest (owned by the
// tool) asks for a webservice or a continuous job must have a live supervisor; one that died
// (SIGKILL, OOM, reboot) is started again, as the tool, at most a few times per window. Every
// second it fires the tools' scheduled jobs (src/jobs/scheduler.ts). Root reads only small
// files of a tool, never through a link and only if the tool owns them, and never writes one.
import { statSync } from 'node:fs';
import path from 'node:path';
import { codedLine } from '../errors.js';
import { prepareRuntimeDirectory, readOwnedTail, runtimeDirectory, toolOwner, toolsUnder, type Owner, type Tool } from '../accounts/index.js';
import { DEFAULT_WEB_EMAILS, lastLines, spoolEvent, wants, type EmailPolicy, type NotifyEvent } from '../notify/index.js';
import { launchRun, readJobsOf, Scheduler, type ScheduledTool } from '../jobs/index.js';
import { launchSupervisor } from './control.js';
import { manifestPath, readManifestOf } from './manifest.js';
import { SERVICE_LOG, supervisorPid } from './service-state.js';
import { LOCAL_SCOPE, scopeJobs, scopeRunsWeb } from './supervisor-scope.js';

export interface MonitorOptions {
  readonly homeRoot: string;
  readonly registrarDir: string;
  /** where the scheduler keeps what it fired, missed and skipped (root-owned) */
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  readonly log: (line: string) => void;
}

export type MonitorVerdict = 'running' | 'restarted' | 'throttled' | 'ignored' | 'no-manifest';

export class HostMonitor {
  readonly #o: MonitorOptions;
  readonly #restarts = new Map<string, number[]>();
  /** tools whose maintainers were told the monitor gave up, until their supervisor runs again */
  readonly #gaveUp = new Set<string>();
  readonly #scheduler: Scheduler;

  constructor(options: MonitorOptions) {
    this.#o = options;
    const asRoot = process.getuid?.() === 0;
    this.#scheduler = new Scheduler({
      stateDir: options.stateDir,
      log: (line) => options.log(line),
      fire: (t, job, at) => launchRun({ tool: t.tool, runtimeDir: t.runtimeDir, job: job.name, trigger: 'schedule', scheduledFor: at.toISOString(), env: options.env, as: asRoot ? t.owner : null }),
    });
  }

  /** one pass over the home root: supervisors checked, schedules updated; what was found for each tool */
  scan(now = Date.now()): Map<string, MonitorVerdict> {
    const out = new Map<string, MonitorVerdict>();
    try {
      statSync(this.#o.homeRoot);
    } catch (err) {
      this.#o.log(`cannot read ${this.#o.homeRoot}: ${(err as Error).message}`);
      return out;
    }
    const scheduled: ScheduledTool[] = [];
    for (const tool of toolsUnder(this.#o.homeRoot)) out.set(tool.name, this.#check(tool, now, scheduled));
    this.#scheduler.update(scheduled);
    this.#scheduler.tick(new Date(now));
    this.#scheduler.checkpoint(new Date(now));
    return out;
  }

  /** fire the scheduled runs that are due (every second) */
  tick(now = new Date()): void {
    this.#scheduler.tick(now);
    this.#scheduler.persist();
  }

  /** the monitor is root: it spools its notice itself, as the registrar does a tool's */
  #tellGaveUp(tool: Tool, owner: Owner, name: string, policy: EmailPolicy, why: string, now: number): void {
    if (!wants(policy, 'gave-up')) return;
    const log = readOwnedTail(path.join(tool.home, SERVICE_LOG), owner, 16 * 1024);
    const event: NotifyEvent = {
      source: 'webservice',
      name,
      kind: 'gave-up',
      at: now,
      summary: why,
      cause: null,
      stderr: log.ok ? lastLines(log.text) : [],
      look: `webservice status; webservice start (as ${tool.name}); ~/service.log`,
    };
    const spooled = spoolEvent(this.#o.stateDir, tool.name, event);
    if (!spooled.ok) this.#o.log(`${tool.name}: notice not kept: ${spooled.backlog} notices already wait`);
  }

  #check(tool: Tool, now: number, scheduled: ScheduledTool[]): MonitorVerdict {
    const name = tool.name;
    const owner = toolOwner(tool);
    if (!owner) return 'no-manifest';
    const web = readManifestOf(tool.home, owner);
    const jobs = readJobsOf(tool.home, owner);
    if (web.problem) this.#o.log(codedLine('TH_ERR_MANIFEST_IGNORED', name, manifestPath(tool.home), web.problem));
    if (jobs.problem) this.#o.log(codedLine('TH_ERR_MANIFEST_IGNORED', name, '~/jobs.manifest', jobs.problem));
    if (web.problem && !jobs.jobs.length) return 'ignored';
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
    if (jobs.jobs.some((j) => j.type === 'scheduled')) scheduled.push({ tool, owner, runtimeDir, jobs: jobs.jobs });
    // what Slurm runs (issue 15), Slurm brings back: this host's supervisor runs the rest
    const localWeb = scopeRunsWeb(LOCAL_SCOPE, web.manifest) ? web.manifest : null;
    const continuous = scopeJobs(LOCAL_SCOPE, jobs.jobs).length;
    if (!localWeb && continuous === 0) return 'no-manifest';
    if (supervisorPid(runtimeDir, name, owner) !== null) {
      this.#gaveUp.delete(name);
      return 'running';
    }
    const window = this.#o.windowMs ?? 10 * 60_000;
    const recent = (this.#restarts.get(name) ?? []).filter((t) => now - t < window);
    if (recent.length >= (this.#o.maxRestarts ?? 3)) {
      this.#restarts.set(name, recent);
      const why = codedLine('TH_ERR_MONITOR_GAVE_UP', name, recent.length, Math.round(window / 60_000));
      if (!this.#gaveUp.has(name)) {
        this.#o.log(`${name}: ${why}`);
        this.#gaveUp.add(name);
        this.#tellGaveUp(tool, owner, web.manifest?.type ?? 'jobs', web.manifest?.emails ?? DEFAULT_WEB_EMAILS, why, now);
      }
      return 'throttled';
    }
    recent.push(now);
    this.#restarts.set(name, recent);
    const pid = launchSupervisor({ tool, runtimeDir, registrarDir: this.#o.registrarDir, env: this.#o.env }, process.getuid?.() === 0 ? owner : null);
    const what = [localWeb ? `its ${localWeb.type} webservice` : '', continuous ? `${continuous} continuous job(s)` : ''].filter(Boolean).join(' and ');
    this.#o.log(`${name}: supervisor was not running; started a new one (pid ${pid}) for ${what}`);
    return 'restarted';
  }
}
