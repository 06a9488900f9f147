/**
 * Report periods (DESIGN §12): each unit reports weekly on its report day ("report every
 * Thursday") and monthly before a day of the next month ("before the 5th of every month"). Days
 * are Vietnam calendar days, 'YYYY-MM-DD'; a unit without its own schedule takes its nearest
 * ancestor's, and without any the default (Friday, before the 5th).
 */
import { DAY, dayKey, fromVietnamLocal } from '../time';

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export interface ReportSchedule {
  /** the weekday the weekly report is due */
  weekday: Weekday;
  /** the monthly report is due before this day of the next month (5: on time until the 4th, included) */
  monthDay: number;
}

export const DEFAULT_SCHEDULE: ReportSchedule = { weekday: 5, monthDay: 5 };

export type PeriodKind = 'week' | 'month';

export interface Period {
  /** 'w-<due day>' for a week, 'm-<YYYY-MM>' for a month */
  id: string;
  kind: PeriodKind;
  /** first and last day covered, both included */
  from: string;
  to: string;
  /** the last day a submission is on time (included, until 23:59 Vietnam time) */
  due: string;
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Noon of a Vietnam day as UTC ms: day arithmetic far from midnight, safe from rounding. */
function noon(day: string): number {
  const ms = fromVietnamLocal(day, '12:00');
  if (ms === null) throw new RangeError(`not a day: ${day}`);
  return ms;
}

export function isReportDay(day: string): boolean {
  return DAY_RE.test(day) && fromVietnamLocal(day, '12:00') !== null;
}

export function addDays(day: string, n: number): string {
  return dayKey(noon(day) + n * DAY);
}

/** ISO weekday of a day. */
export function weekdayOf(day: string): Weekday {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const js = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return (js === 0 ? 7 : js) as Weekday;
}

/** Days from `from` to `to`, both included (empty when to < from). */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) out.push(day);
  return out;
}

/** The week whose report is due on `due`: the seven days before it. */
export function weekPeriod(due: string): Period {
  return { id: `w-${due}`, kind: 'week', from: addDays(due, -7), to: addDays(due, -1), due };
}

/** The month 'YYYY-MM', due before `monthDay` of the next month. */
export function monthPeriod(month: string, monthDay = DEFAULT_SCHEDULE.monthDay): Period {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const first = `${month}-01`;
  const nextMonth = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  const last = addDays(`${nextMonth}-01`, -1);
  const due = addDays(`${nextMonth}-01`, Math.max(1, monthDay) - 2);
  return { id: `m-${month}`, kind: 'month', from: first, to: last, due };
}

/**
 * The week being reported on `today`: the one due on the next report day from today on. On the
 * report day itself that is the week that ended yesterday.
 */
export function currentWeek(schedule: ReportSchedule, today: string): Period {
  const ahead = (schedule.weekday - weekdayOf(today) + 7) % 7;
  return weekPeriod(addDays(today, ahead));
}

/** The month being reported on `today`: the previous month until its due day, then this one. */
export function currentMonth(schedule: ReportSchedule, today: string): Period {
  const previous = monthPeriod(addDays(`${today.slice(0, 7)}-01`, -1).slice(0, 7), schedule.monthDay);
  return today <= previous.due ? previous : monthPeriod(today.slice(0, 7), schedule.monthDay);
}

/** The last `count` weeks up to the current one, newest first. */
export function recentWeeks(schedule: ReportSchedule, today: string, count: number): Period[] {
  const current = currentWeek(schedule, today);
  return Array.from({ length: count }, (_, i) => weekPeriod(addDays(current.due, -7 * i)));
}

/** A period from its id; null when the id is malformed. */
export function periodFromId(id: string, schedule: ReportSchedule = DEFAULT_SCHEDULE): Period | null {
  let m = /^w-(\d{4}-\d{2}-\d{2})$/.exec(id);
  if (m && isReportDay(m[1]!)) return weekPeriod(m[1]!);
  m = /^m-(\d{4})-(\d{2})$/.exec(id);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 12) return monthPeriod(`${m[1]}-${m[2]}`, schedule.monthDay);
  return null;
}

/** The last instant a submission of the period is on time: the end of its due day, Vietnam time. */
export function dueEnd(period: Period): number {
  return noon(addDays(period.due, 1)) - 12 * 60 * 60_000;
}

export type SubmissionTiming = 'on_time' | 'late' | 'missing' | 'not_due';

/** How a unit's report of the period stands at `now`: submitted on time, late, not at all, or not due yet. */
export function submissionTiming(period: Period, submittedAt: number | null, now: number): SubmissionTiming {
  if (submittedAt !== null) return submittedAt <= dueEnd(period) ? 'on_time' : 'late';
  return now > dueEnd(period) ? 'missing' : 'not_due';
}

/**
 * Reporting rate and on-time rate as DHIS2 counts them: reports received / reports expected, and
 * reports received by the due date / reports expected. Units whose report is not due yet and not
 * in are left out of "expected". Null when nothing is expected.
 */
export function reportingRates(timings: readonly SubmissionTiming[]): { expected: number; received: number; onTime: number; rate: number | null; onTimeRate: number | null } {
  const counted = timings.filter((t) => t !== 'not_due');
  const received = counted.filter((t) => t === 'on_time' || t === 'late').length;
  const onTime = counted.filter((t) => t === 'on_time').length;
  const expected = counted.length;
  return { expected, received, onTime, rate: expected ? received / expected : null, onTimeRate: expected ? onTime / expected : null };
}

/**
 * `schedule:<code>` in lv_directory (public, so that a team's device knows its due days offline):
 * a unit's report days. Set by an admin; units below without their own take it.
 */
export interface ScheduleDoc {
  _id: `schedule:${string}`;
  _rev?: string;
  type: 'schedule';
  schema: 1;
  code: string;
  weekday: Weekday;
  monthDay: number;
}

export function scheduleDocId(code: string): `schedule:${string}` {
  return `schedule:${code}`;
}

/**
 * The schedule that applies to a unit: its own, else its nearest ancestor's, else the default.
 * `path` is the unit and its ancestors, root first (units.ts unitPath).
 */
export function scheduleFor(path: readonly { code: string }[], schedules: ReadonlyMap<string, Pick<ScheduleDoc, 'weekday' | 'monthDay'>>): ReportSchedule {
  for (let i = path.length - 1; i >= 0; i--) {
    const own = schedules.get(path[i]!.code);
    if (own) return { weekday: own.weekday, monthDay: own.monthDay };
  }
  return DEFAULT_SCHEDULE;
}
