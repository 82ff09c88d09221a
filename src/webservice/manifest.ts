// ~/service.manifest: what `webservice start` last started, so a later start or restart needs
// no arguments (and the host monitor knows what to bring back). Written by the tool itself
// (root drops to the tool before it writes), atomically: an exclusive temporary file, then a
// rename. Read as a tool file: a link or a file the tool does not own is not a manifest.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readOwnedFile, type Owner } from '../accounts/index.js';
import { parseFlatYaml } from '../flat-yaml.js';
// the policies alone, not the notifier's code: `webservice status` reads manifests (#14)
import { EMAIL_POLICIES, type EmailPolicy } from '../notify/policy.js';
import { parseCpu, parseMemory } from '../limits/quantities.js';
import { onFirstUse } from '../on-first-use.js';

const yaml = onFirstUse<typeof import('yaml')>('yaml');
import { webserviceType, type WebserviceType } from './webservice-types.js';

export const MANIFEST_NAME = 'service.manifest';

export interface Manifest {
  readonly type: WebserviceType;
  /** generic: the server command (the port is appended) */
  readonly command?: readonly string[];
  /** an optional liveness check run in the tool's home; non-zero exit = unhealthy */
  readonly healthCheckScript?: string;
  /** memory and CPU as given to webservice start --mem/--cpu (512Mi, 0.5) */
  readonly mem?: string;
  readonly cpu?: string;
  /** when its maintainers get mail (default onfailure) */
  readonly emails?: EmailPolicy;
  /** where it runs: on this host under the tool's supervisor (absent), or as a Slurm job */
  readonly backend?: 'slurm';
  /** the Slurm partition (backend slurm) */
  readonly partition?: string;
}

const HEADER = '# This file is used by toolhost (webservice, toolhost monitor). Please do not edit it by hand:\n# webservice start/stop change it.\n';

export function manifestPath(home: string): string {
  return path.join(home, MANIFEST_NAME);
}

export type ManifestRead = { readonly manifest: Manifest | null; readonly problem: string | null };

/** the manifest, if the file is the tool's own (owner) and says what to run */
export function readManifestOf(home: string, owner: Pick<Owner, 'uid'>): ManifestRead {
  const read = readOwnedFile(manifestPath(home), owner);
  if (!read.ok) return { manifest: null, problem: read.missing ? null : read.reason };
  let data: Record<string, unknown> | null;
  try {
    // most manifests are flat: read without loading the yaml package (#14)
    data = parseFlatYaml(read.text) ?? (yaml().parse(read.text) as Record<string, unknown> | null);
  } catch {
    return { manifest: null, problem: 'it is not YAML' };
  }
  const web = typeof data?.web === 'string' ? webserviceType(data.web) : null;
  if (!web) return { manifest: null, problem: 'it names no webservice type' };
  const command = Array.isArray(data?.command) ? (data.command as unknown[]).map(String) : undefined;
  const hc = typeof data?.['health-check-script'] === 'string' ? data['health-check-script'] : undefined;
  const str = (key: string): string | undefined => (typeof data?.[key] === 'string' ? (data[key]) : undefined);
  const mem = str('mem');
  const cpu = str('cpu');
  const emails = str('emails');
  const backend = str('backend');
  const partition = str('partition');
  // Toolforge's manifests say `backend: kubernetes` (or gridengine): on this host, as toolhost's own
  if (partition !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(partition)) return { manifest: null, problem: 'partition is not a Slurm partition name' };
  if (emails !== undefined && !(EMAIL_POLICIES as readonly string[]).includes(emails)) return { manifest: null, problem: `emails must be one of ${EMAIL_POLICIES.join(', ')}` };
  try {
    if (mem !== undefined) parseMemory(mem);
    if (cpu !== undefined) parseCpu(cpu);
  } catch (err) {
    return { manifest: null, problem: (err as Error).message };
  }
  return {
    manifest: {
      type: web.type,
      ...(command ? { command } : {}),
      ...(hc ? { healthCheckScript: hc } : {}),
      ...(mem ? { mem } : {}),
      ...(cpu ? { cpu } : {}),
      ...(emails ? { emails: emails as EmailPolicy } : {}),
      ...(backend === 'slurm' ? { backend: 'slurm' as const } : {}),
      ...(backend === 'slurm' && partition ? { partition } : {}),
    },
    problem: null,
  };
}

/** the caller's own manifest (the tool reading its home) */
export function readManifest(home: string): Manifest | null {
  return readManifestOf(home, { uid: process.getuid?.() ?? 0 }).manifest;
}

export function writeManifest(home: string, m: Manifest): void {
  const file = manifestPath(home);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const data: Record<string, unknown> = { backend: m.backend ?? 'toolhost', web: m.type, version: 1 };
  if (m.partition) data.partition = m.partition;
  if (m.command) data.command = [...m.command];
  if (m.healthCheckScript) data['health-check-script'] = m.healthCheckScript;
  if (m.mem) data.mem = m.mem;
  if (m.cpu) data.cpu = m.cpu;
  if (m.emails) data.emails = m.emails;
  // 'wx': created here and now, never an existing file or a link someone planted
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, HEADER + yaml().stringify(data));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function removeManifest(home: string): void {
  rmSync(manifestPath(home), { force: true });
}
