/**
 * Retention on the server (DESIGN §3): station entries older than the retention period are deleted
 * from every commune database. The deletion replicates to the stations too. An entry's time is in
 * its id (`entry:<venueId>:<time>:<random>`), so the job reads ids only, never the people in them.
 */
import { retentionCutoff } from '../src/lib/core/retention';
import { MAX_EXPOSURE_AGE } from '../src/lib/core/exposure-draft';
import { DB, type Store } from './store/couch';
import type { PublishedExposureDoc } from './publisher';

const PAGE = 2000;

export async function purgeExpiredEntries(store: Store, retentionDays: number, now = Date.now()): Promise<number> {
  const cutoff = retentionCutoff(now, retentionDays);
  const dbs = (await store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name));
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

/** Runs the purge now and then every few hours, for as long as the server runs. */
export function scheduleRetention(store: Store, retentionDays: number, log: (msg: string) => void): () => void {
  const run = () =>
    Promise.all([purgeExpiredEntries(store, retentionDays), purgeExpiredExposures(store)]).then(
      ([entries, exposures]) => {
        if (entries) log(`retention: deleted ${entries} station entries older than ${retentionDays} days`);
        if (exposures) log(`retention: deleted ${exposures} exposure events that ended over 28 days ago`);
      },
      (err: Error) => log(`retention failed: ${err.message}`)
    );
  void run();
  const timer = setInterval(() => void run(), 6 * 60 * 60 * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
