/**
 * Who owns which venues of a commune database, for the gateway's access rules (DESIGN §5): an
 * owner sees and pushes only the documents of its own venues, a paired station those of one venue.
 *
 * Correct with N instances: a venue pushed through another instance must count at once here (the
 * owner's app pushes a new venue, then pulls or pushes entries for it, each request to any instance).
 * The cache therefore checks a version marker at every use: the commune database's changes since the
 * sequence it was built at (`_changes?since=`), one small request that answers nothing when nothing
 * changed. Changes that touch no `venue:` document only move the marker; a venue change rebuilds.
 * Requests arriving while a check runs share the next check (one started after they arrived, so
 * none is answered from a check older than itself): under load, one request per database per round
 * trip, whatever the number of requests.
 *
 * No view: a view would index every entry too, and the embedded store runs each map call in a fresh
 * node:vm context. On a cluster, `_changes` reads one copy of each shard: a venue written with the
 * default write quorum is seen by the next check on all but a lagging copy, which catches up in
 * milliseconds.
 */
import type { Store } from '../store/couch';
import { storeFailed } from '../store/unavailable';

/** Changes read in one check: more than this since the last check, and the table is read again. */
const CHANGES_PAGE = 200;
const MAX_DBS = 20_000;

interface Table {
  /** the database's sequence the table is known to be current at, as the store gave it */
  seq: unknown;
  byOwner: Map<string, Set<string>>;
}

interface DbState {
  table: Table | null;
  running: { tick: number; done: Promise<Table> } | null;
  queued: Promise<Table> | null;
}

export class OwnedVenues {
  readonly #dbs = new Map<string, DbState>();
  /** Counts checks started, so a request knows whether a check began after it arrived. */
  #tick = 0;

  constructor(readonly store: Store) {}

  /** The venue ids `userId` owns in `db`, as the store has them now. */
  async of(db: string, userId: string): Promise<Set<string>> {
    return (await this.#current(db)).byOwner.get(userId) ?? new Set();
  }

  /** This instance changed venues of `db`: the next use reads them again. */
  changed(db: string): void {
    const state = this.#dbs.get(db);
    if (state) state.table = null;
  }

  #current(db: string): Promise<Table> {
    const arrived = this.#tick;
    let state = this.#dbs.get(db);
    if (!state) {
      if (this.#dbs.size >= MAX_DBS) this.#dbs.clear();
      this.#dbs.set(db, (state = { table: null, running: null, queued: null }));
    }
    const s = state;
    if (s.running && s.running.tick > arrived) return s.running.done;
    if (s.queued) return s.queued;
    const start = (): Promise<Table> => {
      const tick = ++this.#tick;
      const done = this.#check(db, s.table);
      s.running = { tick, done };
      s.queued = null;
      done.then(
        (table) => {
          if (s.running?.done === done) s.running = null;
          s.table = table;
        },
        () => {
          if (s.running?.done === done) s.running = null;
          s.table = null;
        }
      );
      return done;
    };
    if (!s.running) return start();
    const queued = s.running.done.then(start, start);
    s.queued = queued;
    return queued;
  }

  async #check(db: string, table: Table | null): Promise<Table> {
    if (table) {
      const res = await this.store.request('GET', `${db}/_changes`, { query: new URLSearchParams({ since: String(table.seq), limit: String(CHANGES_PAGE) }) });
      if (res.status === 200) {
        const body = res.body as { results?: { id: string }[]; last_seq?: unknown };
        const results = body.results ?? [];
        if (results.length < CHANGES_PAGE && !results.some((r) => r.id.startsWith('venue:'))) return { seq: body.last_seq ?? table.seq, byOwner: table.byOwner };
      } else if (res.status >= 500) throw storeFailed('reading changes of a commune database', res);
      // 404: the database went. 400 or 412: a cluster that cannot place the sequence (taken while a
      // node was down, or before the shards moved; seen when a CouchDB node was killed): read afresh.
    }
    return this.#build(db);
  }

  async #build(db: string): Promise<Table> {
    // The sequence first: a venue written between the two reads is seen again at the next check.
    const info = await this.store.request('GET', db);
    if (info.status === 404) return { seq: 0, byOwner: new Map() };
    if (info.status !== 200) throw storeFailed('reading a commune database', info);
    const seq = (info.body as { update_seq?: unknown }).update_seq ?? 0;
    const byOwner = new Map<string, Set<string>>();
    for (const doc of (await this.store.docsByPrefix<{ type?: string; owner?: string; venueId?: string }>(db, 'venue:')) ?? []) {
      if (doc?.type !== 'venue' || !doc.owner || !doc.venueId) continue;
      let set = byOwner.get(doc.owner);
      if (!set) byOwner.set(doc.owner, (set = new Set()));
      set.add(doc.venueId);
    }
    return { seq, byOwner };
  }
}
