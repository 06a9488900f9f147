/**
 * Retention on the server (DESIGN §3): station entries older than the retention period are deleted
 * from every commune database. The deletion replicates to the stations too. An entry's time is in
 * its id (`entry:<venueId>:<time>:<random>`), so the job reads ids only, never the people in them.
 */
import { retentionCutoff } from '../src/lib/core/retention';
import type { Store } from './store/couch';

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

/** Runs the purge now and then every few hours, for as long as the server runs. */
export function scheduleRetention(store: Store, retentionDays: number, log: (msg: string) => void): () => void {
  const run = () =>
    purgeExpiredEntries(store, retentionDays).then(
      (n) => n && log(`retention: deleted ${n} station entries older than ${retentionDays} days`),
      (err: Error) => log(`retention failed: ${err.message}`)
    );
  void run();
  const timer = setInterval(() => void run(), 6 * 60 * 60 * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
