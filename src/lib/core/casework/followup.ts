/**
 * The one follow-up list of a commune team: case contacts (F1, F2) and checkpoint arrivals
 * together, each with its isolation, its daily health checks, and whether a check is due today or
 * overdue. Days are Vietnamese calendar days (UTC+7), whatever the device's time zone.
 */
import { isolationUntil } from './casework';
import type { FollowupRecord, HealthCheckRecord } from '../documents';
import { DAY, dayKey } from '../time';

/** How a person under follow-up is classified: a case's contact (F1 or F2), or a checkpoint arrival. */
export type FollowupClass = 'F1' | 'F2' | 'arrival';

export function classificationOf(f: Pick<FollowupRecord, 'kind' | 'classification'>): FollowupClass {
  return f.kind === 'arrival' ? 'arrival' : (f.classification ?? 'F1');
}

/** The day the follow-up started: the isolation's first day, or the day of the contact or arrival. */
export function followupStart(f: Pick<FollowupRecord, 'at' | 'isolationFrom'>): string {
  return f.isolationFrom ?? dayKey(f.at);
}

/** The isolation's last day: as the team set it, or the rule's days from its start. */
export function isolationEnd(f: Pick<FollowupRecord, 'at' | 'isolationFrom' | 'isolationUntil'>): string {
  return f.isolationUntil ?? isolationUntil(followupStart(f));
}

/** The day before or after a 'YYYY-MM-DD' day, counted in the calendar (no clock involved). */
export function shiftDay(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d) + days * DAY).toISOString().slice(0, 10);
}

/**
 * Where a follow-up stands today:
 * - closed: ended by the team;
 * - upcoming: its start is after today (an isolation set ahead);
 * - ended: the isolation is over and it is still open (the team should close it);
 * - checked: a check is recorded today;
 * - due: no check yet today, the last one yesterday (or the follow-up started today);
 * - overdue: no check today and the last one older than yesterday, or none since the start before today.
 */
export type FollowupStatus = 'closed' | 'upcoming' | 'ended' | 'checked' | 'due' | 'overdue';

/** The last check on or after the follow-up's start; checks before it do not count for the isolation. */
export function lastCheck(f: Pick<FollowupRecord, 'at' | 'isolationFrom' | 'checks'>): HealthCheckRecord | null {
  const start = followupStart(f);
  let last: HealthCheckRecord | null = null;
  for (const c of f.checks ?? []) if (dayKey(c.at) >= start && (!last || c.at > last.at)) last = c;
  return last;
}

export function followupStatus(f: Pick<FollowupRecord, 'state' | 'at' | 'isolationFrom' | 'isolationUntil' | 'checks'>, now: number): FollowupStatus {
  if (f.state === 'closed') return 'closed';
  const today = dayKey(now);
  const start = followupStart(f);
  if (start > today) return 'upcoming';
  if (isolationEnd(f) < today) return 'ended';
  const last = lastCheck(f);
  const lastDay = last ? dayKey(last.at) : null;
  if (lastDay === today) return 'checked';
  const yesterday = shiftDay(today, -1);
  if (lastDay ? lastDay < yesterday : start < today) return 'overdue';
  return 'due';
}

/** A check is wanted today: due or overdue. */
export function isDueToday(status: FollowupStatus): boolean {
  return status === 'due' || status === 'overdue';
}

export type FollowupFilter = 'due' | 'overdue' | 'open' | 'closed';

export function matchesFilter(status: FollowupStatus, filter: FollowupFilter): boolean {
  switch (filter) {
    case 'due':
      return isDueToday(status);
    case 'overdue':
      return status === 'overdue';
    case 'open':
      return status !== 'closed';
    case 'closed':
      return status === 'closed';
  }
}

const STATUS_ORDER: Record<FollowupStatus, number> = { overdue: 0, due: 1, ended: 2, checked: 3, upcoming: 4, closed: 5 };

/** The list's order: who needs a call first (overdue, then due), then by isolation end, then name. */
export function byUrgency<T extends { status: FollowupStatus; end: string; name: string }>(a: T, b: T): number {
  return STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || a.end.localeCompare(b.end) || a.name.localeCompare(b.name, 'vi');
}

/** Checks newest first, for the person's page. */
export function checksNewestFirst(checks: readonly HealthCheckRecord[] | undefined): HealthCheckRecord[] {
  return [...(checks ?? [])].sort((a, b) => b.at - a.at);
}

/** What is wrong with a health check as typed, every problem at once (empty when it can be saved). */
export type CheckProblem = 'temperature' | 'note' | 'future';

export const TEMPERATURE_MIN = 34;
export const TEMPERATURE_MAX = 43;

/** Reads a temperature typed with a dot or a comma ("37,5"); null when empty, NaN when not a number. */
export function readTemperature(typed: string): number | null {
  const t = typed.trim().replace(',', '.');
  if (!t) return null;
  return /^\d{2}(\.\d)?$/.test(t) ? Number(t) : NaN;
}

export function checkProblems(input: { temperature: string; note: string; at: number }, now: number, noteMax: number): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const t = readTemperature(input.temperature);
  if (t !== null && (Number.isNaN(t) || t < TEMPERATURE_MIN || t > TEMPERATURE_MAX)) problems.push('temperature');
  if (input.note.trim().length > noteMax) problems.push('note');
  if (input.at > now + 5 * 60_000) problems.push('future');
  return problems;
}

/** A follow-up with one more check. */
export function withCheck<T extends Pick<FollowupRecord, 'checks'>>(f: T, check: HealthCheckRecord): T {
  return { ...f, checks: [...(f.checks ?? []), check].sort((a, b) => a.at - b.at) };
}

/** Closes a follow-up with its reason; reopening (undo) drops the reason. */
export function closeFollowup<T extends Pick<FollowupRecord, 'state' | 'closedReason'>>(f: T, reason: NonNullable<FollowupRecord['closedReason']>): T {
  return { ...f, state: 'closed', closedReason: reason };
}

export function reopenFollowup<T extends Pick<FollowupRecord, 'state' | 'closedReason'>>(f: T): T {
  const { closedReason: _, ...rest } = f;
  return { ...rest, state: 'open' } as T;
}
