/**
 * Scan-station rules: who counts as scanned twice, the venue's counts by day and hour, and the
 * CSV a venue hands to the authorities. Pure functions over station entries.
 */
import type { PersonRecord } from '../person';
import type { EntryFixRecord, EntryState, StationEntryRecord } from '../documents';
import { normalizePhone, samePerson } from './station-scan';
import { clockTime, dayKey, dmy, DAY, MINUTE } from '../time';
import { toCsv } from '../csv';
import { ID_NUMBER_PATTERN } from '../citizen/personal-qr';

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

/** An entry as it stands after its corrections (the latest one wins). */
export interface EntryView {
  entry: StationEntryRecord;
  state: EntryState;
  /** the latest correction, when there is one */
  fix?: EntryFixRecord;
}

/** The correction in force for each corrected entry, by entry id. */
export function latestCorrections(docs: readonly { type: string }[]): Map<string, EntryFixRecord> {
  const latest = new Map<string, EntryFixRecord>();
  for (const doc of docs) {
    if (doc.type !== 'entryfix') continue;
    const d = doc as EntryFixRecord;
    const seen = latest.get(d.entryId);
    // Two devices correcting at once: the later correction wins, ties by id, the same everywhere.
    if (!seen || d.at > seen.at || (d.at === seen.at && d._id > seen._id)) latest.set(d.entryId, d);
  }
  return latest;
}

/**
 * A venue's entries as they stand: each entry with its latest correction applied (corrections sit
 * beside their entry in the replica, read in the same range). Removed scans are kept, with state
 * 'removed', so that a list can offer to undo; counts leave them out. Sorted by time, oldest first.
 */
export function entryViews(docs: readonly (StationEntryRecord | EntryFixRecord)[]): EntryView[] {
  const latest = latestCorrections(docs);
  return docs
    .filter((d): d is StationEntryRecord => d.type === 'entry')
    .map((entry) => {
      const fix = latest.get(entry._id);
      return fix ? { entry, state: fix.to, fix } : { entry, state: entry.direction };
    })
    .sort((a, b) => a.entry.time - b.entry.time);
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

/**
 * The one count of a venue's station, for the station's "today" and the dashboard alike: people in
 * (an entry standing for 'in' after its corrections; a way out is the same person leaving, a removed
 * scan nobody), by day of the Vietnam calendar. `now` is the caller's clock, which must move: a
 * station left open overnight counts the new day from midnight.
 */
export function countEntries(views: readonly Pick<EntryView, 'state' | 'entry'>[], now: number): EntryCounts {
  const today = dayKey(now);
  const days = Array.from({ length: 7 }, (_, i) => dayKey(now - (6 - i) * DAY));
  const byDay = new Map(days.map((d) => [d, 0]));
  const todayByHour = Array<number>(24).fill(0);
  const weekByHour = Array<number>(24).fill(0);
  for (const { entry: e, state } of views) {
    if (state !== 'in') continue;
    const day = dayKey(e.time);
    if (!byDay.has(day)) continue;
    byDay.set(day, byDay.get(day)! + 1);
    const hour = Number(clockTime(e.time).slice(0, 2));
    weekByHour[hour]!++;
    if (day === today) todayByHour[hour]!++;
  }
  return { today: byDay.get(today) ?? 0, todayByHour, days: days.map((day) => ({ day, count: byDay.get(day)! })), weekByHour };
}

/** Today's entries (Vietnam calendar), newest first, removed ones included (they can be restored). */
export function todaysEntries(views: readonly EntryView[], now: number): EntryView[] {
  const today = dayKey(now);
  return views.filter((v) => dayKey(v.entry.time) === today).reverse();
}

/** The words of the station log export, in the language of the screen. */
export interface EntryCsvWords {
  headers: Record<(typeof CSV_COLUMNS)[number], string>;
  direction: Record<'in' | 'out', string>;
  source: Record<PersonRecord['source'], string>;
}

const CSV_COLUMNS = ['date', 'time', 'direction', 'name', 'phone', 'id_number', 'insurance_number', 'birth_year', 'address', 'source', 'venue_id'] as const;

export const ENTRY_CSV_COLUMNS = CSV_COLUMNS;

/**
 * The venue's log for the authorities: one row per passage as it stands (corrected direction,
 * removed scans left out), dates dd/mm/yyyy and 24-hour times in Vietnam, headers and values in
 * the screen's language; UTF-8 with a BOM for spreadsheets.
 */
export function entriesToCsv(views: readonly EntryView[], words: EntryCsvWords): string {
  const rows = views
    .filter((v) => v.state !== 'removed')
    .sort((a, b) => a.entry.time - b.entry.time)
    .map(({ entry: e, state }) => [
      dmy(dayKey(e.time)),
      clockTime(e.time),
      words.direction[state as 'in' | 'out'],
      e.person.name,
      e.person.phone ?? '',
      e.person.idNumber ?? '',
      e.person.insuranceNumber ?? '',
      e.person.birthYear ? String(e.person.birthYear) : (e.person.birthDate?.slice(0, 4) ?? ''),
      e.person.address ?? '',
      words.source[e.person.source] ?? e.person.source,
      e.venueId
    ]);
  return toCsv(
    CSV_COLUMNS.map((c) => words.headers[c]),
    rows
  );
}
