/**
 * The commune team's casework on this device: cases, follow-ups of contacts and arrivals, shared
 * diaries, all in the commune replica so that every screen opens and saves with no signal.
 * Records two members edited offline come back with PouchDB's `_conflicts`; they are shown with
 * every version and resolved by the team, never dropped by the replicator's pick.
 */
import { readable, type Readable } from 'svelte/store';
import { findContacts, type Contact } from '$lib/core/casework/contacts';
import { tracedVisits } from '$lib/core/casework/casework';
import {
  caseDocId,
  entryDocId,
  type CaseRecord,
  type CommuneDoc,
  type DiaryShareRecord,
  type FollowupRecord,
  type StationEntryRecord,
  type EntryFixRecord,
  type VenueRecord
} from '$lib/core/documents';
import { DEFAULT_WIDEN_MINUTES } from '$lib/core/exposure/exposure';
import type { ExportData } from '$lib/core/casework/team-export';
import { newEventId } from '$lib/core/exposure/exposure-draft';
import { samePerson } from '$lib/core/venue/station-scan';
import { entryViews } from '$lib/core/venue/station';
import { DAY } from '$lib/core/time';
import { DEFAULT_STAY_MINUTES } from '$lib/core/venue/venue';
import { liveQuery } from './replicas.svelte';
import { communeReplica, saveCommuneDoc } from './venues';

/** A record with the other versions two members left when they edited it offline. */
export interface Versioned<T> {
  doc: T;
  conflicts: T[];
}

const db = (commune: string) => communeReplica(commune).db as unknown as PouchDB.Database<CommuneDoc>;

async function withConflicts<T extends CommuneDoc>(commune: string, docs: T[]): Promise<Versioned<T>[]> {
  return Promise.all(
    docs.map(async (doc) => {
      const revs = (doc as { _conflicts?: string[] })._conflicts ?? [];
      const conflicts = await Promise.all(revs.map((rev) => db(commune).get(doc._id, { rev }).catch(() => null)));
      return { doc, conflicts: conflicts.filter((c) => c !== null) as unknown as T[] };
    })
  );
}

async function docsByPrefix<T extends CommuneDoc>(commune: string, prefix: string): Promise<T[]> {
  const res = await db(commune).allDocs({ startkey: prefix, endkey: `${prefix}\ufff0`, include_docs: true, conflicts: true });
  return res.rows.map((r) => r.doc as unknown as T).filter(Boolean);
}

export function casesLive(commune: string): Readable<Versioned<CaseRecord>[] | undefined> {
  return liveQuery(
    [db(commune)],
    async () => (await withConflicts(commune, await docsByPrefix<CaseRecord>(commune, 'case:'))).sort((a, b) => b.doc.confirmedOn.localeCompare(a.doc.confirmedOn) || a.doc.person.name.localeCompare(b.doc.person.name, 'vi')),
    (id) => id.startsWith('case:')
  );
}

export async function caseOf(commune: string, caseId: string): Promise<Versioned<CaseRecord> | null> {
  try {
    const doc = (await db(commune).get(caseDocId(caseId), { conflicts: true })) as unknown as CaseRecord;
    return (await withConflicts(commune, [doc]))[0]!;
  } catch {
    return null;
  }
}

export function caseLive(commune: string, caseId: string): Readable<Versioned<CaseRecord> | null | undefined> {
  return liveQuery([db(commune)], () => caseOf(commune, caseId), (id) => id === caseDocId(caseId));
}

export function newCaseId(): string {
  return newEventId((n) => crypto.getRandomValues(new Uint8Array(n)));
}

export async function saveCase(doc: CaseRecord): Promise<CaseRecord> {
  const { _conflicts: _, ...clean } = doc as CaseRecord & { _conflicts?: unknown };
  return (await saveCommuneDoc(doc.communeCode, { ...clean, updatedAt: new Date().toISOString() })) as CaseRecord;
}

/** Follow-ups of a case's contacts (`caseId`), or of checkpoint arrivals (null). */
export function followupsLive(commune: string, caseId: string | null): Readable<Versioned<FollowupRecord>[] | undefined> {
  const prefix = caseId ? `followup:c-${caseId}:` : 'followup:a:';
  return liveQuery([db(commune)], async () => (await withConflicts(commune, await docsByPrefix<FollowupRecord>(commune, prefix))).sort((a, b) => b.doc.at - a.doc.at), (id) => id.startsWith(prefix));
}

/** Every follow-up of the commune, case contacts and checkpoint arrivals together: the one follow-up list. */
export function allFollowupsLive(commune: string): Readable<Versioned<FollowupRecord>[] | undefined> {
  return liveQuery([db(commune)], async () => withConflicts(commune, await docsByPrefix<FollowupRecord>(commune, 'followup:')), (id) => id.startsWith('followup:'));
}

/** The commune's cases, follow-ups and checkpoint arrivals as on this device, for the health centre's export. */
export async function exportData(commune: string): Promise<ExportData> {
  const [cases, followups, venues] = await Promise.all([
    docsByPrefix<CaseRecord>(commune, 'case:'),
    docsByPrefix<FollowupRecord>(commune, 'followup:'),
    docsByPrefix<VenueRecord>(commune, 'venue:')
  ]);
  const checkpoints = venues.filter((v) => v.type === 'venue' && v.venueType === 'checkpoint');
  const arrivals = (
    await Promise.all(
      checkpoints.map(async (cp) => (await docsByPrefix<StationEntryRecord>(commune, `entry:${cp.venueId}:`)).filter((e) => e.type === 'entry' && e.direction === 'in').map((entry) => ({ entry, checkpoint: cp.name })))
    )
  ).flat();
  const clean = <T extends CommuneDoc>(docs: T[], type: T['type']) => docs.filter((d) => d.type === type);
  return { cases: clean(cases, 'case'), followups: clean(followups, 'followup'), arrivals };
}

export async function followupOf(commune: string, id: string): Promise<Versioned<FollowupRecord> | null> {
  try {
    const doc = (await db(commune).get(id, { conflicts: true })) as unknown as FollowupRecord;
    return (await withConflicts(commune, [doc]))[0]!;
  } catch {
    return null;
  }
}

export function followupLive(commune: string, id: string): Readable<Versioned<FollowupRecord> | null | undefined> {
  return liveQuery([db(commune)], () => followupOf(commune, id), (changed) => changed === id);
}

export async function saveFollowup(doc: FollowupRecord): Promise<FollowupRecord> {
  const { _conflicts: _, ...clean } = doc as FollowupRecord & { _conflicts?: unknown };
  return (await saveCommuneDoc(doc.communeCode, { ...clean, updatedAt: new Date().toISOString() })) as FollowupRecord;
}

/** Creates the follow-up unless it exists on this device; the existing one is kept as it is. */
export async function ensureFollowup(doc: FollowupRecord): Promise<void> {
  try {
    await db(doc.communeCode).get(doc._id);
  } catch {
    await saveCommuneDoc(doc.communeCode, doc);
  }
}

/**
 * Ends a conflict with the version the team chose or merged: it is written over the current
 * winner, and the other versions are deleted, in one batch so no device sees half of it.
 */
export async function resolveConflict<T extends CaseRecord | FollowupRecord>(current: Versioned<T>, chosen: T): Promise<void> {
  const { _conflicts: _, ...body } = chosen as T & { _conflicts?: unknown };
  const winner = { ...body, _rev: current.doc._rev, updatedAt: new Date().toISOString() } as T;
  const losers = current.conflicts.map((c) => ({ _id: c._id, _rev: c._rev!, _deleted: true }));
  const res = await db(current.doc.communeCode).bulkDocs([winner, ...losers] as never);
  communeReplica(current.doc.communeCode).noteLocalWrite();
  const failed = res.find((r) => 'error' in r && r.error);
  if (failed) throw new Error(String((failed as { message?: string }).message ?? 'conflict not resolved'));
}

export function diarySharesLive(commune: string, caseId: string): Readable<DiaryShareRecord[] | undefined> {
  const prefix = `diaryshare:${caseId}:`;
  return liveQuery([db(commune)], () => docsByPrefix<DiaryShareRecord>(commune, prefix), (id) => id.startsWith(prefix));
}

export async function deleteDiaryShare(share: DiaryShareRecord): Promise<void> {
  await db(share.communeCode).remove(share._id, share._rev!);
  communeReplica(share.communeCode).noteLocalWrite();
}

/** The longest stay a contact's entry can be away from the case's visit and still be paired: a night at a lodging. */
const SCAN_BACK = DAY;

/**
 * The contacts of a case among the commune's station and checkpoint entries. Entry ids are sorted
 * by venue and time, so each visit reads one key range, never the whole replica.
 */
export async function contactsOf(theCase: CaseRecord, venues: ReadonlyMap<string, VenueRecord>): Promise<Contact[]> {
  const commune = theCase.communeCode;
  const visits = tracedVisits(theCase.visits, commune);
  const widen = DEFAULT_WIDEN_MINUTES * 60_000;
  const entries = new Map<string, StationEntryRecord | EntryFixRecord>();
  await Promise.all(
    visits.map(async (visit) => {
      const res = await db(commune).allDocs({
        startkey: entryDocId(visit.venueId, Math.max(0, visit.from - widen - SCAN_BACK), ''),
        endkey: entryDocId(visit.venueId, visit.to + widen, '\ufff0'),
        include_docs: true
      });
      for (const row of res.rows) if (row.doc) entries.set(row.id, row.doc as unknown as StationEntryRecord | EntryFixRecord);
    })
  );
  // Entries as the station corrected them: a scan it removed was nobody's passage.
  const passages = entryViews([...entries.values()])
    .filter((v) => v.state !== 'removed')
    .map((v) => ({ ...v.entry, direction: v.state as 'in' | 'out' }));
  const stayOf = (venueId: string) => {
    const venue = venues.get(venueId);
    return venue ? (venue.defaultStayMinutes ?? DEFAULT_STAY_MINUTES[venue.venueType]) : DEFAULT_STAY_MINUTES.other;
  };
  // The case's own entries are not contacts of themself.
  return findContacts(visits, passages, stayOf).filter((c) => !samePerson(c.entry.person, theCase.person));
}

export type ShareCodeResult = { ok: true; code: string; expiresAt: string } | { ok: false; status: number; reason: string };

/** A one-time code for the case's citizen to send their diary online (the team must be online). */
export async function issueShareCode(commune: string, caseId: string): Promise<ShareCodeResult> {
  try {
    const res = await fetch('/api/share-codes', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ communeCode: commune, caseId }),
      credentials: 'same-origin'
    });
    const body = (await res.json().catch(() => ({}))) as { code?: string; expiresAt?: string; reason?: string };
    if (res.ok && body.code && body.expiresAt) return { ok: true, code: body.code, expiresAt: body.expiresAt };
    return { ok: false, status: res.status, reason: body.reason ?? res.statusText };
  } catch {
    return { ok: false, status: 0, reason: 'offline' };
  }
}

/** How many cases and follow-ups of the commune hold versions from two members, waiting for a choice. */
export function conflictCount(commune: string): Readable<number> {
  const count = async () => {
    let n = 0;
    for (const prefix of ['case:', 'followup:']) {
      const res = await db(commune).allDocs({ startkey: prefix, endkey: `${prefix}\ufff0`, include_docs: true, conflicts: true });
      for (const row of res.rows) if ((row.doc as { _conflicts?: string[] } | undefined)?._conflicts?.length) n++;
    }
    return n;
  };
  const live = liveQuery([db(commune)], count, (id) => id.startsWith('case:') || id.startsWith('followup:'));
  return readable(0, (set) => live.subscribe((n) => set(n ?? 0)));
}

const CHECKPOINT_KEY = (commune: string) => `lv.checkpoint.${commune}`;

/** The checkpoint this device stood at last in the commune: the checkpoint screen opens on it. */
export function lastCheckpoint(commune: string): string {
  return localStorage.getItem(CHECKPOINT_KEY(commune)) ?? '';
}

export function rememberCheckpoint(commune: string, venueId: string): void {
  localStorage.setItem(CHECKPOINT_KEY(commune), venueId);
}
