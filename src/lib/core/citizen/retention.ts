/**
 * Retention (DESIGN §3): visits and entries older than the retention period are deleted, on the
 * phone and on the server. 21 days covers two incubation periods of the 2021 guidance;
 * the period can be set between 14 and 28 days.
 */
import { DAY } from '../time';

export const RETENTION_DEFAULT_DAYS = 21;
export const RETENTION_MIN_DAYS = 14;
export const RETENTION_MAX_DAYS = 28;

export function clampRetentionDays(days: unknown): number {
  const n = typeof days === 'number' ? days : typeof days === 'string' ? Number(days) : NaN;
  if (!Number.isFinite(n)) return RETENTION_DEFAULT_DAYS;
  return Math.min(RETENTION_MAX_DAYS, Math.max(RETENTION_MIN_DAYS, Math.round(n)));
}

/** Records that ended before this instant are deleted. */
export function retentionCutoff(now: number, days: number): number {
  return now - clampRetentionDays(days) * DAY;
}

export function isExpired(record: { checkin: number; checkout: number | null }, cutoff: number): boolean {
  return (record.checkout ?? record.checkin) < cutoff;
}
