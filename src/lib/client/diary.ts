/**
 * The citizen's private diary, in IndexedDB through Dexie. It never leaves the phone (DESIGN §3):
 * nothing in this module talks to the network.
 */
import Dexie, { liveQuery, type EntityTable } from 'dexie';
import { closuresAfter, findRepeatCheckin, scannedVisit, REPEAT_CHECKIN_WINDOW, type Closure, type Visit, type VisitVerification } from '$lib/core/citizen/visit';
import { registerDexieWriter, type CheckinInput, type CheckinResult } from './diary-writer';
import { retentionCutoff, clampRetentionDays, RETENTION_DEFAULT_DAYS } from '$lib/core/citizen/retention';
import type { VenueType } from '$lib/core/venue/venue';

class DiaryDb extends Dexie {
  visits!: EntityTable<Visit, 'id'>;

  constructor() {
    super('luu-vet-diary');
    this.version(1).stores({ visits: 'id, checkin, venueId, verification' });
  }
}

export const diaryDb = new DiaryDb();

function newId(): string {
  return crypto.randomUUID();
}

export type { CheckinResult } from './diary-writer';

/**
 * Ends the open visits that a newly added visit follows (core closuresAfter). Runs inside the
 * transaction that adds the visit, so that the diary is never seen with two places "here now".
 */
async function closeEarlierVisits(): Promise<Closure[]> {
  const all = await diaryDb.visits.toArray();
  const closures = closuresAfter(all);
  for (const c of closures) await diaryDb.visits.update(c.visitId, { checkout: c.checkout });
  return closures;
}

/** Undo of the closing: each visit gets back its earlier check-out, unless it was changed since. */
export async function reopenVisits(closures: readonly Closure[]): Promise<void> {
  await diaryDb.transaction('rw', diaryDb.visits, async () => {
    for (const c of closures) {
      const visit = await diaryDb.visits.get(c.visitId);
      if (visit && visit.checkout === c.checkout) await diaryDb.visits.update(c.visitId, { checkout: c.previousCheckout });
    }
  });
}

export async function recordVenueCheckin(input: CheckinInput): Promise<CheckinResult> {
  const now = input.now ?? Date.now();
  return diaryDb.transaction('rw', diaryDb.visits, async () => {
    const recent = await diaryDb.visits.where('checkin').above(now - REPEAT_CHECKIN_WINDOW).toArray();
    const repeat = findRepeatCheckin(recent, input.claims.venueId, now);
    if (repeat) return { visit: repeat, repeated: true, closed: [] };
    const visit = scannedVisit(input, newId(), now);
    await diaryDb.visits.add(visit);
    const closed = await closeEarlierVisits();
    return { visit, repeated: false, closed };
  });
}

/** A visit typed in by hand; one left open ends the visit before it, and is ended by the one after it. */
export async function addManualVisit(input: {
  venueName: string;
  venueType: VenueType;
  checkin: number;
  checkout: number | null;
  note: string;
}): Promise<{ visit: Visit; closed: Closure[] }> {
  const visit: Visit = {
    id: newId(),
    venueId: null,
    communeCode: null,
    source: 'manual',
    verification: 'manual',
    token: null,
    ...input
  };
  return diaryDb.transaction('rw', diaryDb.visits, async () => {
    await diaryDb.visits.add(visit);
    const closed = visit.checkout === null ? await closeEarlierVisits() : [];
    return { visit, closed };
  });
}

export async function checkOut(id: string, at = Date.now()): Promise<void> {
  await diaryDb.visits.update(id, { checkout: at });
}

export async function updateVisit(id: string, changes: Partial<Pick<Visit, 'checkin' | 'checkout' | 'note' | 'venueName' | 'venueType'>>): Promise<void> {
  await diaryDb.visits.update(id, changes);
}

export async function setVerification(id: string, verification: VisitVerification): Promise<void> {
  await diaryDb.visits.update(id, { verification });
}

/** Deletes a visit and hands it back, so that the UI can offer undo. */
export async function deleteVisit(id: string): Promise<Visit | undefined> {
  return diaryDb.transaction('rw', diaryDb.visits, async () => {
    const visit = await diaryDb.visits.get(id);
    if (visit) await diaryDb.visits.delete(id);
    return visit;
  });
}

export async function restoreVisit(visit: Visit): Promise<void> {
  await diaryDb.visits.put(visit);
}

export async function deleteAllVisits(): Promise<void> {
  await diaryDb.visits.clear();
}

export async function allVisits(): Promise<Visit[]> {
  return diaryDb.visits.orderBy('checkin').reverse().toArray();
}

export async function pendingVisits(): Promise<Visit[]> {
  return diaryDb.visits.where('verification').equals('pending').toArray();
}

/** Deletes visits past the retention period; returns how many went. */
export async function purgeExpired(now = Date.now(), days = retentionDays()): Promise<number> {
  const cutoff = retentionCutoff(now, days);
  // Only visits that began before the cutoff can have ended before it; the index narrows to those.
  const candidates = await diaryDb.visits.where('checkin').below(cutoff).toArray();
  const expired = candidates.filter((v) => (v.checkout ?? v.checkin) < cutoff).map((v) => v.id);
  await diaryDb.visits.bulkDelete(expired);
  return expired.length;
}

/** Visits, newest first, as a live query: Svelte reads it with `$visits`. */
export const visitsLive = () => liveQuery(() => allVisits());
export const visitLive = (id: string) => liveQuery(() => diaryDb.visits.get(id));

// Small preferences of this device. Kept in localStorage: read synchronously at start-up.
const RETENTION_KEY = 'lv.retentionDays';

export function retentionDays(): number {
  try {
    return clampRetentionDays(Number(localStorage.getItem(RETENTION_KEY) ?? RETENTION_DEFAULT_DAYS));
  } catch {
    return RETENTION_DEFAULT_DAYS;
  }
}

export function setRetentionDays(days: number): number {
  const value = clampRetentionDays(days);
  localStorage.setItem(RETENTION_KEY, String(value));
  return value;
}

// From now on this page's check-ins go through Dexie (see diary-writer.ts).
registerDexieWriter(recordVenueCheckin);
