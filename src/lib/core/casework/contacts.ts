/**
 * Contacts of a case (F0): the people a station or checkpoint logged at the same venue, at a time
 * overlapping the case's stay, by the same rule phones apply to exposure events (DESIGN §7): the
 * case's window widened by ±60 minutes, touching counts.
 *
 * Stations log passages, not stays. A person's stay at a venue runs from an 'in' to their next 'out'
 * there (the same person by samePerson), or, with no 'out', for the venue type's default stay, as a
 * citizen's visit without a check-out does. An 'out' with no 'in' before it is a stay that ends then
 * and began one default stay earlier.
 */
import type { StationEntryRecord } from '../documents';
import { DEFAULT_WIDEN_MINUTES } from '../exposure/exposure';
import { samePerson } from '../venue/station-scan';
import { MINUTE } from '../time';

/** Where and when the case was: typed in by the team, or from the case's shared diary. */
export interface CaseVisit {
  venueId: string;
  from: number;
  to: number;
}

export interface Stay {
  entry: StationEntryRecord;
  from: number;
  to: number;
}

export interface Contact {
  /** the entry that names the person (the 'in', or a lone 'out') */
  entry: StationEntryRecord;
  stay: Stay;
  /** the case's visits this stay overlaps */
  caseVisits: CaseVisit[];
}

/** Stays at one venue from its entries; `stayMinutes` is the venue's default stay. */
export function staysOf(entries: readonly StationEntryRecord[], stayMinutes: number): Stay[] {
  const sorted = [...entries].sort((a, b) => a.time - b.time);
  const open: Stay[] = [];
  const stays: Stay[] = [];
  const stay = stayMinutes * MINUTE;
  for (const entry of sorted) {
    if (entry.direction === 'in') {
      const s = { entry, from: entry.time, to: entry.time + stay };
      open.push(s);
      stays.push(s);
      continue;
    }
    // An 'out' closes the latest open stay of the same person, if it is still running.
    const index = open.findLastIndex((s) => samePerson(s.entry.person, entry.person) && entry.time >= s.from);
    if (index >= 0) {
      open[index]!.to = Math.max(open[index]!.from, entry.time);
      open.splice(index, 1);
    } else stays.push({ entry, from: entry.time - stay, to: entry.time });
  }
  return stays;
}

/**
 * The contacts of a case among a commune's station entries. `stayMinutesOf` gives each venue's
 * default stay. Each stay is one contact, with every case visit it overlaps.
 */
export function findContacts(
  caseVisits: readonly CaseVisit[],
  entries: readonly StationEntryRecord[],
  stayMinutesOf: (venueId: string) => number,
  widenMinutes = DEFAULT_WIDEN_MINUTES
): Contact[] {
  const visitsByVenue = new Map<string, CaseVisit[]>();
  for (const v of caseVisits) visitsByVenue.set(v.venueId, [...(visitsByVenue.get(v.venueId) ?? []), v]);
  const entriesByVenue = new Map<string, StationEntryRecord[]>();
  for (const e of entries) if (visitsByVenue.has(e.venueId)) entriesByVenue.set(e.venueId, [...(entriesByVenue.get(e.venueId) ?? []), e]);
  const widen = widenMinutes * MINUTE;
  const contacts: Contact[] = [];
  for (const [venueId, venueEntries] of entriesByVenue) {
    const visits = visitsByVenue.get(venueId)!;
    for (const stay of staysOf(venueEntries, stayMinutesOf(venueId))) {
      const overlapping = visits.filter((v) => stay.from <= v.to + widen && stay.to >= v.from - widen);
      if (overlapping.length) contacts.push({ entry: stay.entry, stay, caseVisits: overlapping });
    }
  }
  return contacts.sort((a, b) => a.stay.from - b.stay.from);
}
