// ~/service.manifest: what `webservice start` last started, so a later start or restart needs
// no arguments (and the host monitor knows what to bring back). Written atomically
// (temporary file + rename), never half-written.
import { chownSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

export type WebserviceType = 'lighttpd' | 'lighttpd-plain' | 'generic';
export const WEBSERVICE_TYPES: readonly WebserviceType[] = ['lighttpd', 'lighttpd-plain', 'generic'];
export const MANIFEST_NAME = 'service.manifest';

export interface Manifest {
  readonly type: WebserviceType;
  /** generic: the server command (the port is appended) */
  readonly command?: readonly string[];
  /** an optional liveness check run in the tool's home; non-zero exit = unhealthy */
  readonly healthCheckScript?: string;
}

const HEADER = '# This file is used by toolhost (webservice, toolhost monitor). Please do not edit it by hand:\n# webservice start/stop change it.\n';

export function manifestPath(home: string): string {
  return path.join(home, MANIFEST_NAME);
}

export function readManifest(home: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(manifestPath(home), 'utf8');
  } catch {
    return null;
  }
  const data = parse(text) as Record<string, unknown> | null;
  const web = data?.web;
  if (typeof web !== 'string' || !(WEBSERVICE_TYPES as readonly string[]).includes(web)) return null;
  const command = Array.isArray(data?.command) ? (data.command as unknown[]).map(String) : undefined;
  const hc = typeof data?.['health-check-script'] === 'string' ? (data['health-check-script'] as string) : undefined;
  return { type: web as WebserviceType, ...(command ? { command } : {}), ...(hc ? { healthCheckScript: hc } : {}) };
}

export function writeManifest(home: string, m: Manifest, owner?: { uid: number; gid: number }): void {
  const file = manifestPath(home);
  const tmp = `${file}.${process.pid}.tmp`;
  const data: Record<string, unknown> = { backend: 'toolhost', web: m.type, version: 1 };
  if (m.command) data.command = [...m.command];
  if (m.healthCheckScript) data['health-check-script'] = m.healthCheckScript;
  writeFileSync(tmp, HEADER + stringify(data), { mode: 0o644 });
  // written by root for a tool: the tool owns it (the monitor trusts only such manifests)
  if (owner && process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, file);
}

export function removeManifest(home: string): void {
  rmSync(manifestPath(home), { force: true });
}
