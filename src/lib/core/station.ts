/**
 * Scan-station rules: who counts as scanned twice, the venue's counts by day and hour, and the
 * CSV a venue hands to the authorities. Pure functions over station entries.
 */
import type { PersonRecord } from './person';
import type { StationEntryRecord } from './documents';
import { normalizePhone, samePerson } from './station-scan';
import { clockTime, dayKey, DAY, MINUTE } from './time';
import { toCsv } from './csv';
import { ID_NUMBER_PATTERN } from './personal-qr';

/** The same person at the same door within this time is one passage (a second tap, a re-scan). */
export const DUPLICATE_WINDOW = 2 * MINUTE;

export function findDuplicateEntry(
  recent: readonly Pick<StationEntryRecord, 'time' | 'person' | 'direction'>[],
  person: PersonRecord,
  direction: 'in' | 'out',
  now: number
): Pick<StationEntryRecord, 'time' | 'person' | 'direction'> | undefined {
  return recent.find((e) => e.direction === direction && Math.abs(now - e.time) < DUPLICATE_WINDOW && samePerson(e.person as PersonRecord, person));
}

/**
 * A person typed in at a station or checkpoint (someone with nothing to scan): a name, and a phone,
 * birth year and ID card number when given and plausible. Null when what was typed cannot identify
 * anyone, or a given number is not one.
 */
export function manualPerson(name: string, phone: string, birthYear: string, now: number, idNumber = ''): PersonRecord | null {
  const cleanName = name.trim().replace(/\s+/g, ' ');
  const cleanPhone = phone.trim() ? normalizePhone(phone) : undefined;
  const year = birthYear.trim() ? Number(birthYear) : undefined;
  const id = idNumber.replace(/\s+/g, '');
  const thisYear = new Date(now).getUTCFullYear();
  if (!cleanName || cleanPhone === null || (year !== undefined && !(Number.isInteger(year) && year >= 1900 && year <= thisYear))) return null;
  if (id && !ID_NUMBER_PATTERN.test(id)) return null;
  return { source: 'manual', name: cleanName, ...(cleanPhone ? { phone: cleanPhone } : {}), ...(year ? { birthYear: year } : {}), ...(id ? { idNumber: id } : {}) };
}

export interface EntryCounts {
  today: number;
  /** entries of today by hour of the day in Vietnam, 0–23 */
  todayByHour: number[];
  /** the last 7 days, oldest first, today last */
  days: { day: string; count: number }[];
  /** the last 7 days summed by hour of the day */
  weekByHour: number[];
}

export function countEntries(entries: readonly Pick<StationEntryRecord, 'time' | 'direction'>[], now: number): EntryCounts {
  const today = dayKey(now);
  const days = Array.from({ length: 7 }, (_, i) => dayKey(now - (6 - i) * DAY));
  const byDay = new Map(days.map((d) => [d, 0]));
  const todayByHour = Array<number>(24).fill(0);
  const weekByHour = Array<number>(24).fill(0);
  for (const e of entries) {
    // People counted on the way in; a way out is the same person leaving.
    if (e.direction !== 'in') continue;
    const day = dayKey(e.time);
    if (!byDay.has(day)) continue;
    byDay.set(day, byDay.get(day)! + 1);
    const hour = Number(clockTime(e.time).slice(0, 2));
    weekByHour[hour]!++;
    if (day === today) todayByHour[hour]!++;
  }
  return { today: byDay.get(today) ?? 0, todayByHour, days: days.map((day) => ({ day, count: byDay.get(day)! })), weekByHour };
}

const CSV_COLUMNS = ['date', 'time', 'direction', 'name', 'phone', 'id_number', 'insurance_number', 'birth_year', 'address', 'source', 'venue_id'] as const;

/** The venue's log for the authorities: one row per passage, UTF-8 with a BOM for spreadsheets. */
export function entriesToCsv(entries: readonly StationEntryRecord[]): string {
  const rows = [...entries]
    .sort((a, b) => a.time - b.time)
    .map((e) => [
        dayKey(e.time),
        clockTime(e.time),
        e.direction,
        e.person.name,
        e.person.phone ?? '',
        e.person.idNumber ?? '',
        e.person.insuranceNumber ?? '',
        e.person.birthYear ? String(e.person.birthYear) : (e.person.birthDate?.slice(0, 4) ?? ''),
        e.person.address ?? '',
        e.person.source,
        e.venueId
      ]);
  return toCsv(CSV_COLUMNS, rows);
}
