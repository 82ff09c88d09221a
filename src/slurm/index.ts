// The Slurm backend's pieces shared by webservices and jobs: the operator's settings and Slurm's
// commands, run as the caller (issue 15). Loaded only by a command that uses the Slurm backend.
export { DEFAULT_SLURM_SETTINGS_FILE, isPartitionName, nodeRegistrarDir, slurmSettings, slurmSettingsFile, type SlurmSettings } from './settings.js';
export { isActive, jobJobName, jobNamePrefix, SlurmClient, slurmEnvironment, slurmResources, webJobName, type SlurmJob } from './slurm-client.js';
