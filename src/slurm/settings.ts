// The operator's Slurm settings for toolhost's Slurm backend: which cluster (slurm.conf), which
// partition webservices and jobs go to unless a tool names another, and where each node's
// registrar listens. One JSON file, root's and readable by every tool (a tool's own `webservice`
// and `toolhost jobs` submit as the tool): TOOLHOST_SLURM_SETTINGS names it, else
// /etc/toolhost/slurm.json (conf/slurm/toolhost-slurm.json is the example).
import { readFileSync } from 'node:fs';
import { ToolhostError } from '../errors.js';

export const DEFAULT_SLURM_SETTINGS_FILE = '/etc/toolhost/slurm.json';

export interface SlurmSettings {
  /** the file they came from, for messages */
  readonly file: string;
  /** the partition webservices and jobs go to unless a tool names another */
  readonly partition: string;
  /** slurm.conf of the cluster (SLURM_CONF for Slurm's commands); null: Slurm's default */
  readonly slurmConf: string | null;
  /** the registrar's socket directory on a node, `%n` standing for the node's name; null: the default on every node */
  readonly nodeRegistrarDir: string | null;
}

export function slurmSettingsFile(env: Readonly<Record<string, string | undefined>>): string {
  return env.TOOLHOST_SLURM_SETTINGS || DEFAULT_SLURM_SETTINGS_FILE;
}

const PARTITION = /^[A-Za-z0-9_.-]{1,64}$/;

export function isPartitionName(name: string): boolean {
  return PARTITION.test(name);
}

/** the settings, or TH_ERR_SLURM_NOT_CONFIGURED saying what is missing or wrong */
export function slurmSettings(env: Readonly<Record<string, string | undefined>>): SlurmSettings {
  const file = slurmSettingsFile(env);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ToolhostError('TH_ERR_SLURM_NOT_CONFIGURED', code === 'ENOENT' ? `${file} does not exist` : code ? `${file} cannot be read (${code})` : `${file} is not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ToolhostError('TH_ERR_SLURM_NOT_CONFIGURED', `${file} is not a JSON object`);
  const o = raw as Record<string, unknown>;
  const text = (key: string): string | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v === '') throw new ToolhostError('TH_ERR_SLURM_NOT_CONFIGURED', `${file}: "${key}" must be a non-empty string`);
    return v;
  };
  const partition = text('partition');
  if (partition === null || !isPartitionName(partition)) throw new ToolhostError('TH_ERR_SLURM_NOT_CONFIGURED', `${file}: "partition" must name the partition for webservices and jobs (e.g. "webgrid")`);
  const slurmConf = text('slurmConf');
  const nodeRegistrarDir = text('nodeRegistrarDir');
  for (const [key, v] of [['slurmConf', slurmConf], ['nodeRegistrarDir', nodeRegistrarDir]] as const) {
    if (v !== null && !v.startsWith('/')) throw new ToolhostError('TH_ERR_SLURM_NOT_CONFIGURED', `${file}: "${key}" must be an absolute path`);
  }
  return { file, partition, slurmConf, nodeRegistrarDir };
}

/** the node's registrar directory from the settings' pattern (`%n`: the node's name) */
export function nodeRegistrarDir(pattern: string, node: string): string {
  return pattern.replace(/%n/g, node);
}
