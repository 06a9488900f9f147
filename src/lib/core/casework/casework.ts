/**
 * The commune team's casework: F0 cases and the places they were, the follow-up of their contacts
 * and of checkpoint arrivals, and how two members' offline edits of one record are merged.
 * Pure rules, shared by the team device and its tests.
 */
import type { CaseRecord, CaseVisitRecord, ExposureDraftRecord, FollowupRecord, HealthCheckRecord, StationEntryRecord } from '../documents';
import { foldVietnamese } from '../text';
import { caseDocId, followupDocId, MAX_HEALTH_CHECKS } from '../documents';
import type { Contact, CaseVisit } from './contacts';
import type { SharedDay } from '../citizen/diary-share';
import { DAY, dayKey, MINUTE } from '../time';
import { DEFAULT_STAY_MINUTES, type VenueType } from '../venue/venue';
import type { PersonRecord } from '../person';

/** Zone levels 3 (cam) and 4 (đỏ): an arrival from there is followed, as is one with symptoms. */
export const MONITORED_ZONE = 3;

export function needsMonitoring(fromZone: number | null | undefined, symptoms: readonly string[]): boolean {
  return (fromZone ?? 0) >= MONITORED_ZONE || symptoms.length > 0;
}

/** The highest zone level among the units an arrival came from; null when none is known. */
export function highestZone(units: readonly string[], zoneOf: (code: string) => number | null): { unit: string; zone: number } | null {
  let best: { unit: string; zone: number } | null = null;
  for (const unit of units) {
    const zone = zoneOf(unit);
    if (zone !== null && (!best || zone > best.zone)) best = { unit, zone };
  }
  return best;
}

export function newCase(caseId: string, communeCode: string, person: PersonRecord, confirmedOn: string, now: number): CaseRecord {
  const at = new Date(now).toISOString();
  return { _id: caseDocId(caseId), type: 'case', schema: 1, caseId, communeCode, person, confirmedOn, status: 'open', visits: [], createdAt: at, updatedAt: at };
}

/**
 * A shared diary day as case visits. A visit without a check-out lasts its venue's default stay,
 * as on the citizen's phone; `venueOf` gives the venue's name and stay when the team knows it.
 */
export function visitsFromSharedDay(
  day: SharedDay,
  venueOf: (venueId: string) => { name: string; venueType: VenueType; defaultStayMinutes?: number } | null,
  unknownVenue: string
): CaseVisitRecord[] {
  return day.visits.map((visit) => {
    const venue = visit.venueId ? venueOf(visit.venueId) : null;
    const stay = venue ? (venue.defaultStayMinutes ?? DEFAULT_STAY_MINUTES[venue.venueType]) : DEFAULT_STAY_MINUTES.other;
    return {
      ...(visit.venueId ? { venueId: visit.venueId } : {}),
      ...(visit.communeCode ? { communeCode: visit.communeCode } : {}),
      place: (venue?.name ?? visit.name ?? unknownVenue).slice(0, 80),
      from: visit.checkin,
      to: visit.checkout ?? visit.checkin + stay * 60_000,
      source: 'diary' as const
    };
  });
}

/** A day code carries minutes, an online share milliseconds: the same visit from both is one visit. */
const visitKey = (v: CaseVisitRecord) => `${v.venueId ?? `~${v.place}`}|${Math.round(v.from / MINUTE)}|${Math.round(v.to / MINUTE)}`;

/** Adds visits to a case's list, leaving out any it already has (a code scanned twice adds nothing). */
export function addVisits(existing: readonly CaseVisitRecord[], added: readonly CaseVisitRecord[]): CaseVisitRecord[] {
  const seen = new Set(existing.map(visitKey));
  const out = [...existing];
  for (const v of added) if (!seen.has(visitKey(v))) (seen.add(visitKey(v)), out.push(v));
  return out.sort((a, b) => a.from - b.from);
}

/** The visits that contacts are looked for at: venues of this commune only (other communes trace their own). */
export function tracedVisits(visits: readonly CaseVisitRecord[], communeCode: string): CaseVisit[] {
  return visits.filter((v) => v.venueId && (v.communeCode ?? communeCode) === communeCode).map((v) => ({ venueId: v.venueId!, from: v.from, to: v.to }));
}

/** The case's visits at other communes' venues: their teams trace them (the team is told to call them). */
export function visitsElsewhere(visits: readonly CaseVisitRecord[], communeCode: string): CaseVisitRecord[] {
  return visits.filter((v) => v.venueId && v.communeCode && v.communeCode !== communeCode);
}

/**
 * The visits one step publishes as exposure events: at venues of this commune the device knows,
 * and not already an event for the same venue and window (a withdrawn one may be published again).
 */
export function visitsToPublish(
  visits: readonly CaseVisitRecord[],
  communeCode: string,
  isKnownVenue: (venueId: string) => boolean,
  events: readonly Pick<ExposureDraftRecord, 'venueId' | 'from' | 'to' | 'state'>[]
): CaseVisit[] {
  return tracedVisits(visits, communeCode)
    .filter((v) => isKnownVenue(v.venueId))
    .filter((v) => !events.some((e) => e.venueId === v.venueId && e.from === v.from && e.to === v.to && e.state !== 'withdrawn'));
}

/** Whether a person is the one searched for: by name without minding accents or case, or by a number. */
export function personMatches(person: Pick<PersonRecord, 'name' | 'phone' | 'idNumber'>, query: string): boolean {
  const q = foldVietnamese(query.trim());
  if (!q) return true;
  const digits = q.replace(/[^0-9]/g, '');
  return foldVietnamese(person.name).includes(q) || (digits.length >= 3 && [person.phone, person.idNumber].some((n) => n?.includes(digits)));
}

/** The first range of entry ids that can hold a contact of these visits: the earliest stay start a visit can touch. */
export function entryScanStart(visit: CaseVisit, widenMinutes: number, longestStayMinutes: number): number {
  return visit.from - (widenMinutes + longestStayMinutes) * 60_000;
}

/** A new follow-up of a case's contact or a checkpoint arrival, from the entry that found them. */
export function newFollowup(
  entry: StationEntryRecord,
  communeCode: string,
  now: number,
  about: { caseId: string } | { fromUnit?: string; fromZone?: number; symptoms: string[] },
  at = entry.time
): FollowupRecord {
  const common = {
    type: 'followup' as const,
    schema: 1 as const,
    communeCode,
    entryId: entry._id,
    person: entry.person,
    at,
    test: 'none' as const,
    state: 'open' as const,
    updatedAt: new Date(now).toISOString()
  };
  if ('caseId' in about) return { _id: followupDocId(entry._id, about.caseId), ...common, kind: 'contact', caseId: about.caseId };
  return {
    _id: followupDocId(entry._id),
    ...common,
    kind: 'arrival',
    ...(about.fromUnit ? { fromUnit: about.fromUnit } : {}),
    ...(about.fromZone ? { fromZone: about.fromZone } : {}),
    symptoms: about.symptoms
  };
}

/** Where a follow-up stands, for lists: the furthest step taken. */
export type FollowupStage = 'todo' | 'called' | 'isolating' | 'tested' | 'positive' | 'closed';

export function followupStage(f: Pick<FollowupRecord, 'state' | 'calledOn' | 'isolationFrom' | 'test'>): FollowupStage {
  if (f.state === 'closed') return 'closed';
  if (f.test === 'positive') return 'positive';
  if (f.test !== 'none') return 'tested';
  if (f.isolationFrom) return 'isolating';
  if (f.calledOn) return 'called';
  return 'todo';
}

/** Isolation of a contact: 7 days from the last contact, the 2021 rule for F1 who are vaccinated. */
export const ISOLATION_DAYS = 7;

export function isolationUntil(fromDay: string): string {
  const [y, m, d] = fromDay.split('-').map(Number) as [number, number, number];
  return dayKey(Date.UTC(y, m - 1, d, 5) + ISOLATION_DAYS * DAY);
}

// ---------------------------------------------------------------------------------------------
// Conflicts: two members edited the same record offline. PouchDB keeps both revisions and picks
// a winner by revision; the team sees both and chooses one, or merges them by these rules.

const earliest = (a?: string, b?: string) => (a && b ? (a < b ? a : b) : (a ?? b));
const latest = (a?: string, b?: string) => (a && b ? (a > b ? a : b) : (a ?? b));
const laterOf = <T extends { updatedAt: string }>(a: T, b: T) => (b.updatedAt > a.updatedAt ? b : a);

/** Notes from both, each once: one that already contains the other wins, otherwise both are kept. */
export function mergeNotes(a?: string, b?: string): string | undefined {
  const x = a?.trim() ?? '';
  const y = b?.trim() ?? '';
  if (!x || y.includes(x)) return y || undefined;
  if (!y || x.includes(y)) return x;
  return `${x}\n—\n${y}`.slice(0, 2000);
}

/**
 * Both members' follow-up work, kept: a call or an isolation either recorded stays recorded (the
 * earliest call, the widest isolation), the later test wins (a positive on the same day beats any
 * other), notes from both. Open wins over closed: closing again is one tap, missing a contact is not.
 */
export function mergeFollowups(a: FollowupRecord, b: FollowupRecord): FollowupRecord {
  const rank = { none: 0, pending: 1, negative: 2, positive: 3 } as const;
  const aTest = a.testedOn ?? '';
  const bTest = b.testedOn ?? '';
  const test = aTest !== bTest ? (aTest > bTest ? a : b) : rank[a.test] >= rank[b.test] ? a : b;
  const newer = laterOf(a, b);
  const merged: FollowupRecord = {
    ...newer,
    calledOn: earliest(a.calledOn, b.calledOn),
    isolationFrom: earliest(a.isolationFrom, b.isolationFrom),
    isolationUntil: latest(a.isolationUntil, b.isolationUntil),
    test: test.test,
    testedOn: test.testedOn,
    notes: mergeNotes(a.notes, b.notes),
    state: a.state === 'open' || b.state === 'open' ? 'open' : 'closed',
    checks: mergeChecks(a.checks, b.checks),
    updatedAt: latest(a.updatedAt, b.updatedAt)!
  };
  if (merged.state === 'open') delete merged.closedReason;
  return dropUndefined(merged);
}

/**
 * Health checks from two versions of a follow-up, each once (the same instant and findings are the
 * same check): two members who each recorded a check offline keep both. The newest are kept when
 * together they pass the bound.
 */
export function mergeChecks(a: readonly HealthCheckRecord[] | undefined, b: readonly HealthCheckRecord[] | undefined): HealthCheckRecord[] | undefined {
  if (!a && !b) return undefined;
  const seen = new Map<string, HealthCheckRecord>();
  for (const c of [...(a ?? []), ...(b ?? [])]) seen.set(JSON.stringify([c.at, [...c.symptoms].sort(), c.temperature ?? null, c.note ?? null]), c);
  return [...seen.values()].sort((x, y) => x.at - y.at).slice(-MAX_HEALTH_CHECKS);
}

/** Both members' case work: every visit either added, notes from both, the newer person and status. */
export function mergeCases(a: CaseRecord, b: CaseRecord): CaseRecord {
  const newer = laterOf(a, b);
  return dropUndefined({
    ...newer,
    visits: addVisits(a.visits, b.visits),
    notes: mergeNotes(a.notes, b.notes),
    status: a.status === 'open' || b.status === 'open' ? 'open' : 'closed',
    createdAt: earliest(a.createdAt, b.createdAt)!,
    updatedAt: latest(a.updatedAt, b.updatedAt)!
  });
}

function dropUndefined<T extends object>(doc: T): T {
  return Object.fromEntries(Object.entries(doc).filter(([, value]) => value !== undefined)) as T;
}

/** The fields two versions of a record disagree on, for showing a conflict side by side. */
export function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !k.startsWith('_') && k !== 'updatedAt' && JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/** Contacts grouped per person: one row to call, however many stays they had near the case. */
export function contactsByPerson(contacts: readonly Contact[], same: (a: PersonRecord, b: PersonRecord) => boolean): Contact[][] {
  const groups: Contact[][] = [];
  for (const c of contacts) {
    const group = groups.find((g) => same(g[0]!.entry.person, c.entry.person));
    if (group) group.push(c);
    else groups.push([c]);
  }
  return groups;
}
