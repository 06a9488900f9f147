/**
 * A remote database as the source of a pull, with PouchDB's replicator kept from skipping changes.
 *
 * PouchDB's replicator (9.0) reads changes ahead of the batch it writes (up to ten batches). When a
 * read of changes fails (a reset connection: a server instance or a store node gone, a phone's link
 * dropped), it ends the replication and drops the batches read ahead, but the batch in flight goes
 * on: once written, it reads changes again from past the dropped ones, writes their successors and
 * checkpoints over them, under the ended replication's session (with `retry`, beside the
 * replication it started again). The next pull trusts that checkpoint: the dropped changes are
 * never fetched (tests/integration/sync-pull-failure.test.ts, and tests/cluster lost the entries of
 * the second before a CouchDB node was killed).
 *
 * Each replication reads changes with an options object of its own. Here, the options of a read
 * that failed may not read again: the ended replication stops at the batch it was writing, whose
 * checkpoint is good; a replication started again has options of its own.
 */
export function guardPullSource<D extends PouchDB.Database<object>>(remote: D): D {
  const failed = new WeakSet<object>();
  const changes = remote.changes.bind(remote) as (opts?: object, callback?: unknown) => PromiseLike<unknown>;
  const guarded = (opts?: object, callback?: unknown) => {
    if (opts && typeof opts === 'object' && failed.has(opts)) return refusedFeed();
    const feed = changes(opts, callback);
    if (opts && typeof opts === 'object') feed.then(undefined, () => failed.add(opts));
    return feed;
  };
  (remote as unknown as { changes: typeof guarded }).changes = guarded;
  return remote;
}

/**
 * A read of changes that fails, shaped as the replicator uses one (listeners, a promise, cancel):
 * the ended replication takes the failure as the end it already met, and reads no further.
 */
function refusedFeed() {
  const failure = Promise.reject(new Error('this replication ended with a failed read of changes: it reads no more'));
  failure.catch(() => {});
  const feed = {
    on: () => feed,
    cancel: () => {},
    then: failure.then.bind(failure),
    catch: failure.catch.bind(failure)
  };
  return feed;
}
