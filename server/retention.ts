/**
 * Retention on the server (DESIGN §3): station entries older than the retention period are deleted
 * from every commune database. The deletion replicates to the stations too. An entry's time is in
 * its id (`entry:<venueId>:<time>:<random>`), so the job reads ids only, never the people in them.
 * The team's casework goes the same way once it is done with (`purgeExpiredCasework`), and so do
 * used-up diary-share codes (`purgeExpiredShareCodes`).
 */
import { retentionCutoff } from '../src/lib/core/citizen/retention';
import { MAX_EXPOSURE_AGE } from '../src/lib/core/exposure/exposure-draft';
import type { CaseRecord, DiaryShareRecord, FollowupRecord } from '../src/lib/core/documents';
import { DAY } from '../src/lib/core/time';
import { DB, type Store } from './store/couch';
import type { PublishedExposureDoc } from './publisher';
import type { ShareCodeDoc } from './diary-share';
import { purgeAllExpiredSessionRecords } from './sessions';
import { sharedSchedule } from './shared/lease';

const PAGE = 2000;
/** Casework documents are read whole (the time is in the body): smaller pages. */
const DOC_PAGE = 500;
/** Follow-up lasts up to 14 days after the last contact: a follow-up is kept that much longer than an entry. */
export const FOLLOWUP_EXTRA_DAYS = 14;
/** A follow-up nobody closed is deleted this long after the retention period all the same. */
export const FOLLOWUP_OPEN_EXTRA_DAYS = 28;
/** Share codes are kept this long past their expiry, so a late citizen hears "expired", not "unknown". */
export const SHARE_CODE_KEPT_AFTER_EXPIRY = DAY;

async function communeDbs(store: Store): Promise<string[]> {
  return (await store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
}

export async function purgeExpiredEntries(store: Store, retentionDays: number, now = Date.now()): Promise<number> {
  const cutoff = retentionCutoff(now, retentionDays);
  const dbs = await communeDbs(store);
  let deleted = 0;
  for (const db of dbs) {
    let startkey = 'entry:';
    for (;;) {
      const res = await store.request('GET', `${db}/_all_docs`, {
        query: new URLSearchParams({ startkey: JSON.stringify(startkey), endkey: JSON.stringify('entry:\ufff0'), limit: String(PAGE + 1) })
      });
      const rows = (res.body as { rows?: { id: string; value: { rev: string } }[] }).rows ?? [];
      const page = rows.slice(0, PAGE);
      const expired = page.filter((r) => Number(r.id.split(':')[2]) < cutoff).map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true }));
      if (expired.length) {
        await store.request('POST', `${db}/_bulk_docs`, { body: { docs: expired } });
        deleted += expired.length;
      }
      if (rows.length <= PAGE) break;
      startkey = rows[PAGE]!.id;
    }
  }
  return deleted;
}

/**
 * Deletes the documents of `db` whose ids start with `prefix` and that `expired` picks, with their
 * conflicting revisions (else a conflict would become the winner and the document would live on).
 * Returns how many documents were deleted.
 */
async function purgeDocs<T extends { _id: string; _rev?: string }>(store: Store, db: string, prefix: string, expired: (doc: T) => boolean): Promise<number> {
  let deleted = 0;
  let startkey = prefix;
  for (;;) {
    const res = await store.request('GET', `${db}/_all_docs`, {
      query: new URLSearchParams({
        startkey: JSON.stringify(startkey),
        endkey: JSON.stringify(`${prefix}\ufff0`),
        include_docs: 'true',
        conflicts: 'true',
        limit: String(DOC_PAGE + 1)
      })
    });
    if (res.status === 404) return deleted;
    if (res.status !== 200) throw new Error(`reading ${prefix}* of a database answered ${res.status}`);
    const rows = (res.body as { rows?: { id: string; doc?: (T & { _conflicts?: string[] }) | null }[] }).rows ?? [];
    const page = rows.slice(0, DOC_PAGE);
    const gone = page.map((r) => r.doc).filter((d): d is T & { _conflicts?: string[] } => !!d?._rev && expired(d));
    if (gone.length) {
      deleted += await deleteRevs(store, db, gone.map((d) => ({ _id: d._id, _rev: d._rev! })));
      const conflicts = gone.flatMap((d) => (d._conflicts ?? []).map((rev) => ({ _id: d._id, _rev: rev })));
      if (conflicts.length) await deleteRevs(store, db, conflicts);
    }
    if (rows.length <= DOC_PAGE) return deleted;
    startkey = rows[DOC_PAGE]!.id;
  }
}

async function deleteRevs(store: Store, db: string, revs: { _id: string; _rev: string }[]): Promise<number> {
  const res = await store.request('POST', `${db}/_bulk_docs`, { body: { docs: revs.map((r) => ({ ...r, _deleted: true })) } });
  if (res.status !== 201 && res.status !== 200) throw new Error(`deleting from a database answered ${res.status}`);
  return ((res.body as { ok?: boolean }[] | null) ?? []).filter((r) => r.ok === true).length;
}

export interface CaseworkPurge {
  diaryShares: number;
  followups: number;
  cases: number;
}

/**
 * The team's casework, from every commune database, once it is of no more use:
 * - shared diaries (`diaryshare:`) received longer ago than the retention period;
 * - follow-ups whose contact or arrival (`at`) is older than the retention period + 14 days (the
 *   follow-up runs up to 14 days past the last contact) and that are closed, or older than the
 *   retention period + 28 days whatever their state;
 * - closed cases last changed longer ago than the retention period (open cases stay until closed).
 * The deletions replicate to the team's devices.
 */
export async function purgeExpiredCasework(store: Store, retentionDays: number, now = Date.now()): Promise<CaseworkPurge> {
  const cutoff = retentionCutoff(now, retentionDays);
  const followupCutoff = cutoff - FOLLOWUP_EXTRA_DAYS * DAY;
  const openFollowupCutoff = cutoff - FOLLOWUP_OPEN_EXTRA_DAYS * DAY;
  const out: CaseworkPurge = { diaryShares: 0, followups: 0, cases: 0 };
  for (const db of await communeDbs(store)) {
    out.diaryShares += await purgeDocs<DiaryShareRecord>(store, db, 'diaryshare:', (d) => d.type === 'diaryshare' && Date.parse(d.receivedAt) < cutoff);
    out.followups += await purgeDocs<FollowupRecord>(
      store,
      db,
      'followup:',
      (d) => d.type === 'followup' && d.at < followupCutoff && (d.state === 'closed' || d.at < openFollowupCutoff)
    );
    out.cases += await purgeDocs<CaseRecord>(store, db, 'case:', (d) => d.type === 'case' && d.status === 'closed' && Date.parse(d.updatedAt) < cutoff);
  }
  return out;
}

/** Diary-share codes that expired more than a day ago (used or not). */
export async function purgeExpiredShareCodes(store: Store, now = Date.now()): Promise<number> {
  return purgeDocs<ShareCodeDoc>(store, DB.shareCodes, 'code:', (d) => Date.parse(d.expiresAt) < now - SHARE_CODE_KEPT_AFTER_EXPIRY);
}

/**
 * Published exposure events whose window ended longer ago than any diary keeps a visit (28 days)
 * match nothing: they are deleted, so that snapshots do not grow for ever. Phones drop them at their
 * next fetch (a snapshot replaces the province's events).
 */
export async function purgeExpiredExposures(store: Store, now = Date.now()): Promise<number> {
  const docs = (await store.docsByPrefix<PublishedExposureDoc>(DB.exposures, 'exp:')) ?? [];
  const expired = docs.filter((d) => d._rev && d.signed?.event && d.signed.event.to < now - MAX_EXPOSURE_AGE).map((d) => ({ _id: d._id, _rev: d._rev!, _deleted: true }));
  for (let i = 0; i < expired.length; i += PAGE) await store.request('POST', `${DB.exposures}/_bulk_docs`, { body: { docs: expired.slice(i, i + PAGE) } });
  return expired.length;
}

export const RETENTION_EVERY_MS = 6 * 60 * 60 * 1000;
/** How often each instance looks whether a purge is due or was left unfinished. */
export const RETENTION_CHECK_MS = 10 * 60 * 1000;

/** One purge of everything past its time; what it deleted, in words (counts only). */
export async function purgeAll(store: Store, retentionDays: number, log: (msg: string) => void, now = Date.now()): Promise<void> {
  const [entries, exposures, casework, codes, sessions] = await Promise.all([
    purgeExpiredEntries(store, retentionDays, now),
    purgeExpiredExposures(store, now),
    purgeExpiredCasework(store, retentionDays, now),
    purgeExpiredShareCodes(store, now),
    // Records of sessions past their expiry, of accounts that never signed in again to sweep their own.
    purgeAllExpiredSessionRecords(store)
  ]);
  if (entries) log(`retention: deleted ${entries} station entries older than ${retentionDays} days`);
  if (exposures) log(`retention: deleted ${exposures} exposure events that ended over 28 days ago`);
  if (casework.diaryShares || casework.followups || casework.cases) {
    log(`retention: deleted ${casework.diaryShares} shared diaries, ${casework.followups} follow-ups and ${casework.cases} closed cases past the retention period`);
  }
  if (codes) log(`retention: deleted ${codes} expired diary-share codes`);
  if (sessions) log(`retention: deleted ${sessions} expired session records`);
}

/**
 * Runs the purge at start if due, then every few hours, for as long as the server runs. With N
 * instances one purges at a time, about every six hours between them all (a lease, `retention`:
 * server/shared/lease.ts); the purge is idempotent anyway (a document deleted twice at its revision
 * is a conflict, and two deletions of one revision are the same revision), so a purge that outlived
 * its lease only repeats work. One that failed or whose instance died is run again by the next
 * instance that looks, within ten minutes and the lease's time.
 */
export function scheduleRetention(store: Store, retentionDays: number, log: (msg: string) => void, opts: { everyMs?: number; checkMs?: number; ttlMs?: number } = {}): () => void {
  const schedule = sharedSchedule(store, 'retention', {
    everyMs: opts.everyMs ?? RETENTION_EVERY_MS,
    checkMs: opts.checkMs ?? RETENTION_CHECK_MS,
    ttlMs: opts.ttlMs,
    log: (msg) => log(msg.replace(/^retention: failed/, 'retention failed')),
    run: () => purgeAll(store, retentionDays, log)
  });
  return () => schedule.stop();
}
