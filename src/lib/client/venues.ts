/**
 * A venue owner's (or team's) venues and station entries, in the commune replicas on this device.
 * Every write is checked with the same schema the gateway applies, so a save that works offline
 * is a save the server will accept.
 */
import type { Readable } from 'svelte/store';
import { checkCommuneDoc, entryDocId, entryFixDocId, type CommuneDoc, type EntryFixRecord, type EntryState, type StationEntryRecord, type VenueRecord } from '$lib/core/documents';
import { newVenueId, venueDocId, type VenueType } from '$lib/core/venue/venue';
import { entryViews, findDuplicateEntry, latestCorrections, type EntryView } from '$lib/core/venue/station';
import type { PersonRecord } from '$lib/core/person';
import { retentionCutoff } from '$lib/core/citizen/retention';
import type { TallyDays } from '$lib/core/venue/venue-activity';
import { liveQuery, replica } from './replicas.svelte';

export function communeReplica(communeCode: string) {
  return replica<CommuneDoc>(`lv_c_${communeCode}`, 'sync');
}

const localDb = (communeCode: string) => communeReplica(communeCode).db;

export class InvalidDocError extends Error {}

export async function saveCommuneDoc(communeCode: string, doc: CommuneDoc): Promise<CommuneDoc> {
  const check = checkCommuneDoc(doc, communeCode);
  if (!check.ok) throw new InvalidDocError(check.reason);
  const replica = communeReplica(communeCode);
  // What is saved is what the gateway will store: the checked, normalised document (trimmed, NFC,
  // no stray fields), so that the device and the server hold the same body under one revision.
  const clean = check.doc;
  const res = await replica.db.put(clean as PouchDB.Core.PutDocument<CommuneDoc>);
  replica.noteLocalWrite();
  return { ...clean, _rev: res.rev } as CommuneDoc;
}

export interface VenueInput {
  name: string;
  venueType: VenueType;
  address: string;
  communeCode: string;
  contactPhone?: string;
  defaultStayMinutes?: number;
}

export async function createVenue(input: VenueInput, owner: string | undefined): Promise<VenueRecord> {
  const now = new Date().toISOString();
  const venueId = newVenueId((n) => crypto.getRandomValues(new Uint8Array(n)));
  const doc: VenueRecord = {
    _id: venueDocId(venueId),
    type: 'venue',
    schema: 1,
    venueId,
    ...clean(input),
    status: 'active',
    ...(owner ? { owner } : {}),
    createdAt: now,
    updatedAt: now
  };
  return (await saveCommuneDoc(input.communeCode, doc)) as VenueRecord;
}

/** Edits keep the venue's id and commune (the code on its poster names both). */
export async function updateVenue(
  venue: VenueRecord,
  changes: Partial<Omit<VenueInput, 'communeCode'>> & { status?: 'active' | 'suspended'; suspendedBy?: 'owner' | 'team' }
): Promise<VenueRecord> {
  const { suspendedBy: _was, ...rest } = venue;
  const status = changes.status ?? venue.status;
  // Who suspended it stays with the suspension, and goes when the venue is resumed.
  const suspendedBy = status === 'suspended' ? (changes.status === 'suspended' ? changes.suspendedBy : venue.suspendedBy) : undefined;
  const doc = { ...rest, ...clean({ ...venue, ...changes }), status, ...(suspendedBy ? { suspendedBy } : {}), updatedAt: new Date().toISOString() };
  return (await saveCommuneDoc(venue.communeCode, doc)) as VenueRecord;
}

function clean(input: VenueInput): VenueInput {
  return {
    name: input.name.trim().replace(/\s+/g, ' ').normalize('NFC'),
    venueType: input.venueType,
    address: input.address.trim(),
    communeCode: input.communeCode,
    ...(input.contactPhone ? { contactPhone: input.contactPhone } : {}),
    ...(input.defaultStayMinutes ? { defaultStayMinutes: input.defaultStayMinutes } : {})
  };
}

async function venuesIn(communeCode: string): Promise<VenueRecord[]> {
  const res = await communeReplica(communeCode).db.allDocs({ startkey: 'venue:', endkey: 'venue:\ufff0', include_docs: true });
  return res.rows.map((r) => r.doc as VenueRecord).filter((d) => d?.type === 'venue');
}

/** Live list of the venues in these communes' replicas, by name. */
export function venuesLive(communeCodes: readonly string[]): Readable<VenueRecord[] | undefined> {
  return liveQuery(
    communeCodes.map((code) => localDb(code)),
    async () => (await Promise.all(communeCodes.map(venuesIn))).flat().sort((a, b) => a.name.localeCompare(b.name, 'vi')),
    (id) => id.startsWith('venue:')
  );
}

export function venueLive(communeCode: string, venueId: string): Readable<VenueRecord | null | undefined> {
  const id = venueDocId(venueId);
  return liveQuery([localDb(communeCode)], () => localDb(communeCode).get(id).then((d) => d as VenueRecord, () => null), (changed) => changed === id);
}

async function entryDocsOf(communeCode: string, venueId: string, since: number): Promise<(StationEntryRecord | EntryFixRecord)[]> {
  const res = await communeReplica(communeCode).db.allDocs({
    startkey: entryDocId(venueId, since, ''),
    endkey: `entry:${venueId}:\ufff0`,
    include_docs: true
  });
  // Corrections sit beside their entries (their ids extend the entry's): one read gets both.
  return res.rows.map((r) => r.doc as StationEntryRecord | EntryFixRecord).filter((d) => d?.type === 'entry' || d?.type === 'entryfix');
}

async function entriesOf(communeCode: string, venueId: string, since: number): Promise<EntryView[]> {
  return entryViews(await entryDocsOf(communeCode, venueId, since));
}

/** A venue's entries since `since`, as they stand after their corrections, oldest first. */
export function entriesLive(communeCode: string, venueId: string, since: number): Readable<EntryView[] | undefined> {
  return liveQuery([localDb(communeCode)], () => entriesOf(communeCode, venueId, since), (id) => id.startsWith(`entry:${venueId}:`));
}

/**
 * Corrects what an entry stands for (the other direction, removed, or back as it was: an undo is
 * a correction too). A new document each time, never an edit of the entry, so two devices
 * correcting at once cannot conflict: the later correction wins on every device.
 */
export async function correctEntry(view: EntryView, to: EntryState, deviceId: string, now = Date.now()): Promise<EntryFixRecord | null> {
  if (view.state === to) return null;
  const e = view.entry;
  const doc: EntryFixRecord = {
    _id: entryFixDocId(e._id, randomHex(4)),
    type: 'entryfix',
    schema: 1,
    venueId: e.venueId,
    communeCode: e.communeCode,
    entryId: e._id,
    time: e.time,
    from: view.state,
    to,
    // Never before the correction it follows, even if this device's clock is behind.
    at: Math.max(now, (view.fix?.at ?? 0) + 1),
    deviceId
  };
  return (await saveCommuneDoc(e.communeCode, doc)) as EntryFixRecord;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export type EntryResult = { saved: StationEntryRecord; duplicate: false } | { saved: null; duplicate: true };

/** Records a passage at a venue's door; the same person again within 2 minutes is not logged twice. */
export async function recordEntry(
  venue: Pick<VenueRecord, 'venueId' | 'communeCode'>,
  person: PersonRecord,
  direction: 'in' | 'out',
  deviceId: string,
  declaration?: Record<string, unknown>,
  now = Date.now()
): Promise<EntryResult> {
  // A removed scan is no passage to be a duplicate of; a corrected one counts in its new direction.
  const recent = (await entriesOf(venue.communeCode, venue.venueId, now - 5 * 60_000)).filter((v) => v.state !== 'removed').map((v) => ({ ...v.entry, direction: v.state as 'in' | 'out' }));
  if (findDuplicateEntry(recent, person, direction, now)) return { saved: null, duplicate: true };
  const random = randomHex(6);
  const doc: StationEntryRecord = {
    _id: entryDocId(venue.venueId, now, random),
    type: 'entry',
    schema: 1,
    venueId: venue.venueId,
    communeCode: venue.communeCode,
    time: now,
    direction,
    person: Object.fromEntries(Object.entries(person).filter(([, v]) => v !== undefined && v !== '')) as StationEntryRecord['person'],
    deviceId,
    ...(declaration ? { declaration } : {})
  };
  return { saved: (await saveCommuneDoc(venue.communeCode, doc)) as StationEntryRecord, duplicate: false };
}

/** Deletes this device's copies of entries past the retention period (the server deletes its own). */
export async function purgeOldEntries(communeCode: string, venueId: string, retentionDays: number, now = Date.now()): Promise<number> {
  const db = communeReplica(communeCode).db;
  const old = await db.allDocs({ startkey: `entry:${venueId}:`, endkey: entryDocId(venueId, retentionCutoff(now, retentionDays), '') });
  if (old.rows.length) await db.bulkDocs(old.rows.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })) as never);
  return old.rows.length;
}

/** A stable id for this device's station, so a commune can tell stations apart (no person in it). */
export function stationDeviceId(): string {
  let id = localStorage.getItem('lv.deviceId');
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem('lv.deviceId', id);
  }
  return id;
}

/** Station entry times per venue since `since` (ids only: the time is in the id), and each venue's last entry. */
export async function entryTimes(commune: string, venueIds: readonly string[], since: number): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  await Promise.all(
    venueIds.map(async (venueId) => {
      const recent = await localDb(commune).allDocs({ startkey: entryDocId(venueId, since, ''), endkey: `entry:${venueId}:\ufff0` });
      const last = await localDb(commune).allDocs({ startkey: `entry:${venueId}:\ufff0`, endkey: `entry:${venueId}:`, descending: true, limit: 1 });
      const timeOf = (id: string) => Number(id.split(':')[2]);
      // Corrections (`<entry id>x<random>`) share the range; they are not passages, and a scan
      // they removed was nobody's (their bodies are read, few as they are; entries' are not).
      const isFix = (id: string) => id.includes('x', id.lastIndexOf(':'));
      const fixIds = recent.rows.filter((r) => isFix(r.id)).map((r) => r.id);
      const fixes = fixIds.length ? (await localDb(commune).allDocs({ keys: fixIds, include_docs: true })).rows.flatMap((r) => ('doc' in r && r.doc ? [r.doc as unknown as EntryFixRecord] : [])) : [];
      const removed = new Set([...latestCorrections(fixes)].filter(([, f]) => f.to === 'removed').map(([entryId]) => entryId));
      const times = recent.rows.filter((r) => !isFix(r.id) && !removed.has(r.id)).map((r) => timeOf(r.id));
      if (last.rows[0] && !times.length) times.push(timeOf(last.rows[0].id));
      out.set(venueId, times);
    })
  );
  return out;
}

const TALLY_KEY = (commune: string) => `lv.team.tallies.${commune}`;

/**
 * The anonymous check-in counts of the commune's venues for the last days, from the server when
 * online; the last answer is kept for offline use, with its time.
 */
export async function venueTallies(commune: string): Promise<{ venues: TallyDays; at: number | null }> {
  const cached = (): { venues: TallyDays; at: number | null } => {
    try {
      return JSON.parse(localStorage.getItem(TALLY_KEY(commune)) ?? '') as { venues: TallyDays; at: number };
    } catch {
      return { venues: {}, at: null };
    }
  };
  try {
    const res = await fetch(`/api/communes/${commune}/activity`, { credentials: 'same-origin' });
    if (!res.ok) return cached();
    const body = (await res.json()) as { venues?: TallyDays };
    const fresh = { venues: body.venues ?? {}, at: Date.now() };
    localStorage.setItem(TALLY_KEY(commune), JSON.stringify(fresh));
    return fresh;
  } catch {
    return cached();
  }
}

/**
 * The owner's own venue's tallied check-ins per day (YYYY-MM-DD → count), from the server; null
 * when it cannot be reached (offline, signed out). The phones send once a day: today is not there.
 */
export async function ownVenueCheckins(communeCode: string, venueId: string): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`/api/communes/${communeCode}/venues/${venueId}/activity`, { credentials: 'same-origin' });
    if (!res.ok) return null;
    return ((await res.json()) as { days?: Record<string, number> }).days ?? {};
  } catch {
    return null;
  }
}
