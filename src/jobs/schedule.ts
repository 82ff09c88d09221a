// When a scheduled job runs: five-field cron in UTC (or the job's --timezone), read by a
// maintained library (croner); @hourly, @daily, @weekly, @monthly and @yearly are spread to a
// fixed minute (and hour, day) per tool and job, as Toolforge does, so that a thousand @daily
// jobs do not all start at midnight, and each job keeps its own time from day to day.
import { createHash } from 'node:crypto';
import type { Cron } from 'croner';
import { onFirstUse } from '../on-first-use.js';

const croner = onFirstUse<typeof import('croner')>('croner');

const MACROS = ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually'] as const;

/** a number in [0, n) fixed for this tool, job and purpose */
function spread(tool: string, job: string, purpose: string, n: number): number {
  const h = createHash('sha256').update(`${tool}\0${job}\0${purpose}`).digest();
  return h.readUInt32BE(0) % n;
}

/** the five-field expression a schedule stands for (macros spread for this tool and job) */
export function effectiveCron(schedule: string, tool: string, job: string): string {
  const s = schedule.trim().toLowerCase();
  if (!(MACROS as readonly string[]).includes(s)) return schedule.trim();
  const m = spread(tool, job, 'minute', 60);
  const h = spread(tool, job, 'hour', 24);
  switch (s) {
    case '@hourly':
      return `${m} * * * *`;
    case '@daily':
      return `${m} ${h} * * *`;
    case '@weekly':
      return `${m} ${h} * * ${spread(tool, job, 'weekday', 7)}`;
    case '@monthly':
      return `${m} ${h} ${1 + spread(tool, job, 'day', 28)} * *`;
    default:
      return `${m} ${h} ${1 + spread(tool, job, 'day', 28)} ${1 + spread(tool, job, 'month', 12)} *`;
  }
}

export interface Schedule {
  /** the expression runs follow */
  readonly cron: string;
  readonly timezone: string;
  /** the first run strictly after `after` */
  next(after: Date): Date | null;
  /** every run time in (from, to] (at most `limit`) */
  between(from: Date, to: Date, limit?: number): Date[];
}

/** the schedule, or why it is not one (a message for TH_ERR_JOB_SCHEDULE_INVALID) */
export function parseSchedule(schedule: string, tool: string, job: string, timezone = 'UTC'): Schedule | string {
  const cron = effectiveCron(schedule, tool, job);
  if (cron.split(/\s+/).length !== 5) return `"${schedule}" is not a five-field cron expression (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly`;
  let c: Cron<unknown>;
  try {
    c = new (croner().Cron)(cron, { timezone, paused: true, mode: '5-part' });
    // a zone name is only checked when a time is computed
    c.nextRun(new Date());
  } catch (err) {
    return `"${schedule}" is not a valid schedule: ${(err as Error).message}`;
  }
  return {
    cron,
    timezone,
    next: (after) => c.nextRun(after),
    between: (from, to, limit = 100) => {
      const out: Date[] = [];
      let at: Date | null = from;
      while (out.length < limit && (at = c.nextRun(at)) && at <= to) out.push(at);
      return out;
    },
  };
}
