// Jobs: bots, one-off tasks and scheduled runs, with Toolforge's commands and keys
// (docs/reference/jobs.md).
export { dumpJob, isJobName, JobSpecError, logFiles, parseJob, typeLabel, type JobInput, type JobSpec, type JobType } from './job-spec.js';
export { effectiveCron, parseSchedule, type Schedule } from './schedule.js';
export { jobsManifestPath, jobsYaml, parseJobsYaml, readJobs, readJobsOf, writeJobs, JOBS_MANIFEST, MAX_JOB_DEFINITIONS, type JobsRead } from './jobs-manifest.js';
export { emptyRecord, internalLogPath, jobsDir, readRecord, recordPath, removeRecord, restartRequestPath, writeRecord, type JobRecord, type RunStatus } from './job-record.js';
export { runJob, type RunOptions } from './job-runner.js';
export { JobUnit, orphanOfRecord, HEALTH, type JobInstance, type JobUnitOptions } from './job-unit.js';
export { launchRun, RUNNER_ENTRY } from './launch-run.js';
export { Scheduler, readScheduleState, scheduleStatePath, FIRE_WINDOW_MS, type JobScheduleState, type ScheduledTool, type ScheduleEvent, type ToolScheduleState } from './scheduler.js';
