/**
 * `POST /api/tallies`: anonymous check-in tallies from phones (DESIGN §3), added into `lv_reports`,
 * one document per commune per day (`tally:<commune>:<day>`, counts only).
 *
 * Privacy: a report has no identifier (core/citizen/tally.ts). The sender's address is used for one thing,
 * the per-client limit, and only as an HMAC under a random salt that lives in memory and is replaced
 * every day: it is never stored, logged, or kept past that day, and cannot be turned back into the
 * address. Nothing about the sender reaches the store.
 *
 * Lossless under concurrency: requests put their counts into a queue; one flusher at a time reads
 * the documents concerned, adds, and writes them back with `_bulk_docs` (group commit: one read and
 * one write for many reports). A document that conflicts (another server wrote it in between) is
 * read again and retried alone. Each request is answered only once the flush that holds its counts
 * has committed, so a 200 means the counts are stored.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  addContribution,
  checkTallyReport,
  CONTRIBUTION_ID_LENGTH,
  emptyTallyDoc,
  mergeTallyRevisions,
  pruneTallyRecent,
  recentVenueCounts,
  seenIds,
  storedContribution,
  TALLY_BODY_LIMIT,
  tallyDocId,
  TALLY_RECENT_MS,
  type TallyAddition,
  type TallyDoc,
  type TallyReport,
  type VenuePace
} from '../src/lib/core/citizen/tally';
import { HOUR, MINUTE } from '../src/lib/core/time';
import type { VenueRecord } from '../src/lib/core/documents';
import { communeDbName, DB, type Store } from './store/couch';
import { Buckets, ClientKeys } from './client-limit';
import { hashed, secretKey } from './shared/days';

export { clientOf } from './client-limit';

export interface TallyLimits {
  /** Rounds of one flush at conflicting documents before 503 (default MAX_ATTEMPTS; tests lower it). */
  flushAttempts?: number;
  /**
   * Reports per minute from one client address (an IPv6 /64 counts as one address), with a burst of
   * ten minutes' worth. Generous on purpose: Vietnamese mobile carriers put thousands of phones behind
   * one public IPv4 address (carrier-grade NAT), and phones open the app at the same moments (after
   * an announcement, in the evening). At the default 60 (1 a second, 86,400 a day) an address would
   * need about 1 % of the country's 10^7 phones behind it, each sending its one daily report, to be
   * slowed; a single abuser is held to one report a second. 0 = no limit (benchmarks).
   */
  clientReportsPerMinute: number;
  /**
   * Check-ins per minute added to one venue, with a burst of ten minutes' worth; counts beyond are
   * ignored and said so. A market of 20,000 visitors a day, whose phones send once a day each,
   * averages 14 a minute; the default 1,200 is ~100 times that, while one abuser cannot inflate a
   * venue faster. Held twice: for each venue-day across every server, in the tally document itself
   * (venuePaceOf: at most ten minutes' worth in any ten minutes), and for all of a venue's days
   * together in each server's memory (so that spreading counts over the days a report may name does
   * not multiply a single server's allowance). 0 = no limit (benchmarks).
   */
  venueCountsPerMinute: number;
  /** Ceiling of one venue-day: above the busiest real places (a wholesale market, a bus station). */
  venueDayMax?: number;
  /**
   * Check-ins one client address may add to one venue-day, over the whole day (plausibility, not
   * rate): a phone reports at most TALLY_MAX_COUNT for a venue-day, and even a carrier's shared
   * address sees few of the same venue's visitors. Without it, one address could add the venue's
   * whole burst (12,000) to a venue-day in seconds. Default CLIENT_VENUE_DAY_MAX; 0 = no limit.
   */
  clientVenueDayMax?: number;
  /** The secret every server shares (SESSION_SECRET): contribution ids are HMACs under a key derived from it. */
  secret?: Uint8Array;
  now?: () => number;
}

export const VENUE_DAY_MAX = 100_000;

/** The shared venue pace of `venueCountsPerMinute`: ten minutes' worth in any ten minutes (null: none). */
export function venuePaceOf(perMinute: number): VenuePace | null {
  if (!(perMinute > 0)) return null;
  const windowMs = Math.min(10 * MINUTE, TALLY_RECENT_MS);
  return { max: Math.max(1, Math.round((perMinute * windowMs) / MINUTE)), windowMs };
}
/**
 * Six phones' worth at the per-report maximum (48), or 300 phones checking in once: more than one
 * address plausibly contributes to one venue's day, even behind carrier-grade NAT, whose pools
 * spread a province's phones over many addresses.
 */
export const CLIENT_VENUE_DAY_MAX = 300;
/** (client, venue, day) counters kept at most; a flood of keys forgets the oldest. */
const MAX_CLIENT_VENUE_DAYS = 500_000;
/** Phones' clocks drift, and a cheap phone's may be set a little ahead: allowed at the day window's edges. */
const CLOCK_SKEW = HOUR;
/** A retried POST (same batch id) within this time is acknowledged without counting again. */
const DUPLICATE_WINDOW = 48 * HOUR;
/**
 * Batch ids remembered at most. At national scale (10^7 phones, one report a day, spread over N
 * instances) 48 h could hold more than this; the oldest are forgotten first, so the window then
 * shrinks to some hours, which still covers phones' retries (minutes to hours after a failure).
 */
const MAX_BATCHES = 500_000;
/** Answer 503 "busy" instead of queueing without bound when the store falls behind. */
const MAX_QUEUED_REPORTS = 10_000;
/** Reports taken into one flush: bounds the size of one `_all_docs` / `_bulk_docs` pair. */
const MAX_REPORTS_PER_FLUSH = 500;
/**
 * Attempts of one flush at documents that conflict or fail, before their requests get 503. Two
 * instances hammering the same commune-days on a loaded machine were seen losing 10 rounds in a row;
 * with the back-off below, 30 rounds span several seconds, which a background report can wait.
 */
const MAX_ATTEMPTS = 30;
/** After a write refused as a conflict or not confirmed: when to look for a forked revision. */
const RECHECK_AFTER_MS = [3_000, 30_000];
/** Tally documents whose last written state a writer keeps (a few MB at most). */
const MAX_KNOWN_DOCS = 20_000;
const VENUE_CACHE_MS = 5 * MINUTE;
const MAX_CACHED_COMMUNES = 20_000;

// ---------------------------------------------------------------------------------------------
// Group commit into lv_reports
// ---------------------------------------------------------------------------------------------

/** One report's counts for one commune-day document. */
export interface Contribution {
  /**
   * Derived from the report's batch id and the document id under a server key (contributionId): the
   * same for every try of the report, on every server, so the document itself tells whether it holds it.
   */
  id: string;
  docId: string;
  communeCode: string;
  day: string;
  counts: Map<string, number>;
  /** What adding gave, in the write that stored it; for one found stored already, what it added then (storedContribution). */
  result?: TallyAddition;
  /**
   * Per venue, what this request's writes added (for the in-memory pace to take back the rest): what
   * was decided for a new contribution, nothing for one an earlier try stored.
   */
  added?: Record<string, number>;
  /** The document held it already: an earlier try of the same report stored it. */
  duplicate?: boolean;
  /** Sent in a write of this writer whose outcome is unknown: found stored, it is that write's. */
  maybeWritten?: boolean;
  committed?: boolean;
}

interface Queued {
  contributions: Contribution[];
  /** documents to read for conflicting revisions and merge, with or without counts to add */
  check?: string[];
  resolve(reason: string | null): void;
}

export class StoreUnavailableError extends Error {}

/** A contribution's id: the shared state's HMAC (shared/days.ts `hashed`) cut to 11 characters, 66 bits. */
export function contributionId(key: Uint8Array, batch: string, docId: string): string {
  return hashed(key, `${batch}|${docId}`).slice(0, CONTRIBUTION_ID_LENGTH);
}

/** A tally document as read, with the bodies of the revisions that lost a conflict against it. */
interface ReadTally {
  doc: TallyDoc | null;
  losers: TallyDoc[];
}

/**
 * Reads tally documents with their conflicting revisions (a CouchDB cluster keeps both sides of two
 * writes made from the same revision that reached different nodes first).
 */
async function readTallies(store: Store, ids: string[]): Promise<Map<string, ReadTally>> {
  const res = await store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true', conflicts: 'true' }), body: { keys: ids } });
  if (res.status !== 200) throw new Error(`_all_docs answered ${res.status}`);
  const out = new Map<string, ReadTally>();
  for (const row of (res.body as { rows?: { key: string; doc?: TallyDoc | null }[] }).rows ?? []) {
    const doc = row.doc?.type === 'tally' ? row.doc : null;
    out.set(row.key, { doc, losers: doc?._conflicts?.length ? await readRevisions(store, doc._id, doc._conflicts) : [] });
  }
  return out;
}

async function readRevisions(store: Store, id: string, revs: string[]): Promise<TallyDoc[]> {
  const res = await store.request('GET', `${DB.reports}/${encodeURIComponent(id)}`, { query: new URLSearchParams({ open_revs: JSON.stringify(revs) }) });
  if (res.status !== 200 || !Array.isArray(res.body)) throw new Error(`reading the conflicting revisions of ${id} answered ${res.status}`);
  return (res.body as { ok?: TallyDoc }[]).flatMap((r) => (r.ok?.type === 'tally' && !(r.ok as { _deleted?: boolean })._deleted ? [r.ok] : []));
}

/**
 * The single serialized flusher. `add` resolves when every contribution was committed (stored by
 * this write, or found stored already), or with the reason some were not.
 */
export class TallyWriter {
  readonly #queue: Queued[] = [];
  #running = false;
  /**
   * The documents as this writer last wrote them (with their new _rev): the next flush adds onto
   * them without reading first. If another server wrote in between, the store answers conflict,
   * and only then is the document read. Spares a read per flush on a lone server; never wrong.
   */
  readonly #lastWritten = new Map<string, TallyDoc>();
  /** Documents whose last write had an unknown outcome: read afresh (with conflicts) next time. */
  readonly #mustRead = new Set<string>();
  readonly #seenSets = new Map<string, { text: string; set: Set<string> }>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  readonly venueDayMax: number;
  /** The venue pace kept in the documents (core VenuePace), or null: none. */
  readonly venuePace: VenuePace | null;
  /**
   * Told the store's own error messages (for the server log); answers to phones say only what
   * failed, not the store's address or internals.
   */
  readonly onStoreError: (message: string) => void;
  readonly maxAttempts: number;
  readonly now: () => number;

  constructor(
    readonly store: Store,
    opts: { venueDayMax?: number; venuePace?: VenuePace | null; onStoreError?: (message: string) => void; maxAttempts?: number; now?: () => number } = {}
  ) {
    this.venueDayMax = opts.venueDayMax ?? VENUE_DAY_MAX;
    this.venuePace = opts.venuePace?.max ? opts.venuePace : null;
    this.onStoreError = opts.onStoreError ?? (() => {});
    this.maxAttempts = opts.maxAttempts ?? MAX_ATTEMPTS;
    this.now = opts.now ?? Date.now;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves with null once all are committed, or with the reason some were not. */
  add(contributions: Contribution[]): Promise<string | null> {
    return this.#enqueue({ contributions });
  }

  /**
   * Reads the documents with their conflicting revisions and folds the losers into the winner
   * (mergeTallyRevisions), then deletes them. Nothing to do on a single node, where writes never fork.
   */
  check(docIds: string[]): Promise<string | null> {
    return docIds.length ? this.#enqueue({ contributions: [], check: docIds }) : Promise.resolve(null);
  }

  /** Stops the later checks this writer scheduled (server shutdown). */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #enqueue(item: Omit<Queued, 'resolve'>): Promise<string | null> {
    return new Promise((resolve) => {
      this.#queue.push({ ...item, resolve });
      if (!this.#running) void this.#run();
    });
  }

  /**
   * A write refused as a conflict, or whose answer was lost or partial, may have left a second
   * revision on some node that reaches the others only later: looked at again after a while.
   */
  #checkLater(docIds: Iterable<string>) {
    const ids = [...docIds];
    if (!ids.length || this.#closed) return;
    for (const delay of RECHECK_AFTER_MS) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void this.check(ids);
      }, delay);
      timer.unref?.();
      this.#timers.add(timer);
    }
  }

  async #run() {
    this.#running = true;
    try {
      while (this.#queue.length) {
        const items = this.#queue.splice(0, MAX_REPORTS_PER_FLUSH);
        let problem: string | null = null;
        try {
          problem = await this.#flush(
            items.flatMap((r) => r.contributions),
            items.flatMap((r) => r.check ?? [])
          );
        } catch (err) {
          this.#seenSets.clear(); // some may hold ids of a write that never happened
          this.onStoreError(`tally flush failed: ${(err as Error).message}`);
          problem = 'the report store failed';
        }
        for (const r of items) r.resolve(r.contributions.every((c) => c.committed) && (!r.check || !problem) ? null : (problem ?? 'the report store did not take the counts'));
      }
    } finally {
      this.#running = false;
    }
  }

  async #flush(all: Contribution[], check: string[]): Promise<string | null> {
    const byDoc = new Map<string, { communeCode?: string; day?: string; open: Contribution[] }>();
    for (const id of check) {
      if (!byDoc.has(id)) byDoc.set(id, { open: [] });
      this.#mustRead.add(id);
    }
    for (const c of all) {
      if (c.committed) continue;
      let entry = byDoc.get(c.docId);
      if (!entry) byDoc.set(c.docId, (entry = { open: [] }));
      entry.communeCode = c.communeCode;
      entry.day = c.day;
      entry.open.push(c);
    }
    let problem: string | null = null;
    const suspects = new Set<string>();
    for (let attempt = 0; attempt < this.maxAttempts && byDoc.size; attempt++) {
      // Another writer got there first: step aside a little, differently each time.
      if (attempt) await new Promise((r) => setTimeout(r, Math.min(1000, 5 * 2 ** attempt) * (0.25 + Math.random())));
      let current: Map<string, ReadTally>;
      try {
        const toRead = [...byDoc.keys()].filter((id) => !this.#lastWritten.has(id) || this.#mustRead.has(id));
        current = toRead.length ? await readTallies(this.store, toRead) : new Map();
        for (const id of toRead) this.#mustRead.delete(id);
      } catch (err) {
        this.onStoreError(`reading tallies failed: ${(err as Error).message}`);
        problem = 'reading the report store failed';
        continue;
      }
      const at = this.now();
      const writes: { doc: TallyDoc; contributions: Contribution[]; losers: TallyDoc[] }[] = [];
      for (const [docId, entry] of byDoc) {
        const read = current.get(docId);
        const stored = read ? read.doc : (this.#lastWritten.get(docId) ?? null);
        const losers = read?.losers ?? [];
        const base = stored ?? (entry.communeCode && entry.day ? emptyTallyDoc(entry.communeCode, entry.day) : null);
        if (!base) {
          byDoc.delete(docId); // a check of a document that does not exist
          continue;
        }
        const doc: TallyDoc = { ...base, venues: { ...base.venues } };
        pruneTallyRecent(doc, at); // a fresh object: what this writer keeps of the base is not touched
        delete doc._conflicts;
        const merged = losers.length ? mergeTallyRevisions(doc, losers, { venueDayMax: this.venueDayMax, at }) : 0;
        const seen = this.#seenOf(doc);
        // After the fold: what the other branch took counts against the pace too.
        const pace = this.venuePace && entry.open.length ? { max: this.venuePace.max, used: recentVenueCounts(doc, at - this.venuePace.windowMs) } : undefined;
        const added: Contribution[] = [];
        for (const c of entry.open) {
          const result = addContribution(doc, c.id, c.counts, { venueDayMax: this.venueDayMax, at, seen, pace });
          if (result) {
            c.result = result;
            c.added = doc.recent?.[c.id]?.venues;
            added.push(c);
          } else {
            // Stored already: by this writer's own write whose answer was lost or partial, or by an
            // earlier try of the same report (here or on another server). What it added then is read
            // back from `recent`, not what an earlier attempt of this flush decided.
            c.duplicate = !c.maybeWritten;
            c.committed = true;
            const stored = storedContribution(doc, c.id, c.counts, this.venueDayMax);
            if (stored) c.result = stored;
            else delete c.result;
            // This writer's own write: what it decided then (or, past `recent`, everything asked).
            c.added = c.maybeWritten ? (doc.recent?.[c.id]?.venues ?? Object.fromEntries(c.counts)) : {};
          }
        }
        if (!added.length && !merged) {
          if (losers.length) void this.#deleteLosers(losers); // folded in already: only their deletion was left
          byDoc.delete(docId);
          continue;
        }
        writes.push({ doc, contributions: added, losers });
      }
      if (!writes.length) break;
      // Until the answer says otherwise, what this writer knew of these documents is stale.
      for (const w of writes) this.#lastWritten.delete(w.doc._id);
      let rows: { id?: string; ok?: boolean; rev?: string; error?: string; reason?: string }[];
      let quorum: boolean;
      try {
        const res = await this.store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs: writes.map((w) => w.doc) } });
        // 202: stored on fewer nodes than the write quorum; they may still be refused or forked.
        if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw new Error(`_bulk_docs answered ${res.status}`);
        quorum = res.status !== 202;
        rows = res.body as typeof rows;
        if (!Array.isArray(rows)) throw new Error('_bulk_docs answered something unexpected');
      } catch (err) {
        // Maybe stored, maybe not: the next read tells, by the contributions' ids.
        for (const w of writes) {
          this.#settleSeen(w.doc, false);
          for (const c of w.contributions) c.maybeWritten = true;
          this.#mustRead.add(w.doc._id);
          suspects.add(w.doc._id);
        }
        this.onStoreError(`writing tallies failed: ${(err as Error).message}`);
        problem = 'writing to the report store failed';
        continue;
      }
      // Matched by id, not position: the embedded store does not always answer in the order sent.
      const rowOf = new Map(rows.map((r) => [r.id, r]));
      for (const w of writes) {
        const row = rowOf.get(w.doc._id);
        this.#settleSeen(w.doc, !!row?.ok && quorum);
        if (!row || (row.ok && !quorum)) {
          for (const c of w.contributions) c.maybeWritten = true;
          this.#mustRead.add(w.doc._id);
          suspects.add(w.doc._id);
          problem = `the report store did not confirm ${w.doc._id}`;
        } else if (row.ok) {
          for (const c of w.contributions) c.committed = true;
          byDoc.delete(w.doc._id);
          if (row.rev) {
            if (this.#lastWritten.size >= MAX_KNOWN_DOCS) this.#lastWritten.clear();
            this.#lastWritten.set(w.doc._id, { ...w.doc, _rev: row.rev });
          }
          // Only once the merged revision is stored may the ones folded into it go.
          if (w.losers.length) await this.#deleteLosers(w.losers);
        } else if (row.error !== 'conflict') {
          problem = `the report store refused ${w.doc._id}: ${row.error ?? ''} ${row.reason ?? ''}`.trim();
        } else {
          this.#mustRead.add(w.doc._id);
          suspects.add(w.doc._id);
          problem = `${w.doc._id} kept changing under concurrent writers`;
        }
      }
    }
    this.#checkLater([...suspects].filter((id) => !check.includes(id)));
    return byDoc.size ? problem : null;
  }

  /**
   * The contribution ids of a document, as a set. Kept per document between flushes and extended
   * by what was appended since: a busy document's `seen` grows by a few ids a write, and splitting
   * all of it every time cost more than the write itself.
   */
  #seenOf(doc: TallyDoc): Set<string> {
    const text = typeof doc.seen === 'string' ? doc.seen : '';
    const known = this.#seenSets.get(doc._id);
    let set: Set<string>;
    if (known && text.startsWith(known.text)) {
      set = known.set;
      for (const id of seenIds({ seen: text.slice(known.text.length) })) set.add(id);
    } else set = seenIds(doc);
    if (this.#seenSets.size >= MAX_KNOWN_DOCS) this.#seenSets.clear();
    // The set gains this flush's ids as they are added: it matches `text` again only once the write
    // is stored (then `text` becomes the written one), else it is dropped (#settleSeen).
    this.#seenSets.set(doc._id, { text, set });
    return set;
  }

  #settleSeen(doc: TallyDoc, stored: boolean) {
    const known = this.#seenSets.get(doc._id);
    if (!known) return;
    if (stored && typeof doc.seen === 'string') known.text = doc.seen;
    else this.#seenSets.delete(doc._id);
  }

  async #deleteLosers(losers: TallyDoc[]) {
    try {
      const res = await this.store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs: losers.map((l) => ({ _id: l._id, _rev: l._rev, _deleted: true })) } });
      if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw new Error(`_bulk_docs answered ${res.status}`);
    } catch (err) {
      // Harmless: the next read folds them in again, adding nothing (their ids are seen), and retries.
      this.onStoreError(`deleting merged tally revisions failed: ${(err as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The route
// ---------------------------------------------------------------------------------------------

interface Ignored {
  /** counts for venues that are not active venues of the commune they name */
  unknownVenue: number;
  /** counts beyond the per-venue rate */
  venueLimit: number;
  /** counts that would take a venue-day past its ceiling */
  venueDayFull: number;
  /** counts beyond what one address plausibly adds to one venue-day */
  clientVenueDay: number;
}

const IGNORED_KINDS = ['unknownVenue', 'venueLimit', 'venueDayFull', 'clientVenueDay'] as const satisfies readonly (keyof Ignored)[];
const noneIgnored = (): Ignored => ({ unknownVenue: 0, venueLimit: 0, venueDayFull: 0, clientVenueDay: 0 });

interface Outcome {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/** What a batch left behind, for a retry of it. */
interface BatchMemory {
  at: number;
  /** the answer, once every count is stored */
  done?: { accepted: number; ignored: number };
  /** a failed attempt: what is stored already, what may be */
  partial?: { accepted: number; ignored: Ignored; committedDocs: Set<string> };
}

export function registerTallies(api: FastifyInstance, store: Store, limits: TallyLimits): TallyWriter {
  const now = limits.now ?? Date.now;
  // The server log gets the store's errors; never anything about the sender.
  const writer = new TallyWriter(store, {
    venueDayMax: limits.venueDayMax,
    venuePace: venuePaceOf(limits.venueCountsPerMinute),
    onStoreError: (message) => api.log.warn(message),
    maxAttempts: limits.flushAttempts,
    now
  });
  api.addHook('onClose', async () => writer.close());
  // Shared by every server (derived from the session secret): a report's contributions carry the
  // same ids whichever server counts it. Without the secret (the route run alone in tests), this
  // process's own.
  const contributionKey = limits.secret ? secretKey(limits.secret, 'tally-contribution') : new Uint8Array(randomBytes(32));
  const clientKeys = new ClientKeys();
  const clients = new Buckets(limits.clientReportsPerMinute);
  const venueRate = new Buckets(limits.venueCountsPerMinute);
  const clientVenueDayMax = limits.clientVenueDayMax ?? CLIENT_VENUE_DAY_MAX;
  // Counts per (client key, venue, day), for today's salt only: replaced with it (see limitClient).
  const clientVenueDays = new Map<string, number>();

  // Active venues per commune, as `/api/communes/:code/venues` serves them; a venue registered
  // minutes ago has no complete day of check-ins yet, so a few minutes of staleness costs nothing.
  const venueCache = new Map<string, { at: number; active: Promise<Set<string>> }>();
  function activeVenues(communeCode: string): Promise<Set<string>> {
    const hit = venueCache.get(communeCode);
    if (hit && now() - hit.at < VENUE_CACHE_MS) return hit.active;
    if (venueCache.size >= MAX_CACHED_COMMUNES) venueCache.clear();
    const active = store.docsByPrefix<VenueRecord>(communeDbName(communeCode), 'venue:').then(
      (venues) => new Set((venues ?? []).filter((x) => x.type === 'venue' && x.status === 'active' && x.token && x.communeCode === communeCode).map((x) => x.venueId))
    );
    venueCache.set(communeCode, { at: now(), active });
    // A failed read is not remembered: the next report tries again.
    active.catch(() => venueCache.delete(communeCode));
    return active;
  }

  // A fast answer to a retry that comes back here. Not what prevents counting twice: the documents'
  // contribution ids do that, for retries to any server, after restarts, forever.
  const batches = new Map<string, BatchMemory>();
  const inflight = new Map<string, Promise<Outcome>>();
  function remember(batch: string, memory: BatchMemory) {
    batches.delete(batch); // re-inserted at the end: the map stays in time order
    batches.set(batch, memory);
    const t = now();
    for (const [key, m] of batches) {
      if (t - m.at < DUPLICATE_WINDOW && batches.size <= MAX_BATCHES) break;
      batches.delete(key);
    }
  }

  /** Takes up to `want` of what this client may still add to a venue-day; returns how many it got. */
  function takeClientVenueDay(client: string, venueId: string, day: string, want: number): number {
    if (clientVenueDayMax <= 0) return want;
    const key = `${client}|${venueId}|${day}`;
    const used = clientVenueDays.get(key) ?? 0;
    const got = Math.max(0, Math.min(want, clientVenueDayMax - used));
    if (got) {
      clientVenueDays.delete(key);
      if (clientVenueDays.size >= MAX_CLIENT_VENUE_DAYS) clientVenueDays.delete(clientVenueDays.keys().next().value!);
      clientVenueDays.set(key, used + got);
    }
    return got;
  }

  async function count(report: TallyReport, client: string): Promise<Outcome> {
    const memory = batches.get(report.batch)?.partial;
    // Looked up together: one round of store reads for a report's uncached communes.
    const communes = [...new Set(report.days.flatMap((d) => d.venues.map((x) => x.communeCode)))];
    const active = new Map(await Promise.all(communes.map(async (code) => [code, await activeVenues(code)] as const)));
    // Ignored counts per document, so that a retry after a partial failure reports each once.
    const ignoredByDoc = new Map<string, Ignored>();
    const ignoredOf = (docId: string): Ignored => {
      let i = ignoredByDoc.get(docId);
      if (!i) ignoredByDoc.set(docId, (i = noneIgnored()));
      return i;
    };
    const unknownVenues = new Set<string>();
    const contributions = new Map<string, Contribution>();
    const t = now();
    for (const { day, venues } of report.days) {
      for (const { venueId, communeCode, count: n } of venues) {
        const docId = tallyDocId(communeCode, day);
        if (memory?.committedDocs.has(docId)) continue;
        const ignored = ignoredOf(docId);
        if (!active.get(communeCode)?.has(venueId)) {
          ignored.unknownVenue += n;
          unknownVenues.add(venueId);
          continue;
        }
        const plausible = takeClientVenueDay(client, venueId, day, n);
        ignored.clientVenueDay += n - plausible;
        if (!plausible) continue;
        const granted = venueRate.take(venueId, plausible, t);
        ignored.venueLimit += plausible - granted;
        if (!granted) continue;
        let c = contributions.get(docId);
        if (!c) contributions.set(docId, (c = { id: contributionId(contributionKey, report.batch, docId), docId, communeCode, day, counts: new Map() }));
        c.counts.set(venueId, granted);
      }
    }
    const list = [...contributions.values()];
    const problem = list.length ? await writer.add(list) : null;
    // What the in-memory pace granted and the document did not take (the shared pace of the venue-day,
    // its ceiling, or an earlier try that stored the report) goes back: it was not added here.
    for (const c of list) {
      if (!c.committed) continue;
      for (const [venueId, n] of c.counts) {
        const back = c.added ? n - (c.added[venueId] ?? 0) : 0;
        if (back > 0) venueRate.giveBack(venueId, back);
      }
      if (!c.result) continue;
      const i = ignoredOf(c.docId);
      i.venueDayFull += c.result.overCap;
      i.venueLimit += c.result.overPace;
    }
    // Documents settled by this request: stored, or nothing to store (every count ignored).
    const settled = [...ignoredByDoc.keys()].filter((docId) => !contributions.has(docId) || contributions.get(docId)!.committed);
    const ignored = memory ? { ...memory.ignored } : noneIgnored();
    for (const docId of settled) {
      const i = ignoredByDoc.get(docId)!;
      for (const kind of IGNORED_KINDS) ignored[kind] += i[kind];
    }
    // A contribution found stored already (an earlier try on another server, or before a restart)
    // is answered with what it added then, read from the document's `recent`; past that (30
    // minutes) with what this try asked for, which is all that is known.
    const sum = (c: Contribution) => (c.result ? c.result.accepted : [...c.counts.values()].reduce((a, n) => a + n, 0));
    const accepted = (memory?.accepted ?? 0) + list.reduce((a, c) => a + (c.committed ? sum(c) : 0), 0);
    // Every count of this report was stored by an earlier try: the same report, said as such.
    const duplicate = !memory && list.length > 0 && list.every((c) => c.duplicate);
    if (problem) {
      remember(report.batch, {
        at: now(),
        partial: {
          accepted,
          ignored,
          committedDocs: new Set([...(memory?.committedDocs ?? []), ...settled])
        }
      });
      return { status: 503, body: { error: 'store_unavailable', reason: `${problem}; send the same report again later` } };
    }
    const ignoredTotal = IGNORED_KINDS.reduce((a, kind) => a + ignored[kind], 0);
    remember(report.batch, { at: now(), done: { accepted, ignored: ignoredTotal } });
    return {
      status: 200,
      body: { ok: true, duplicate, accepted, ignored: ignoredTotal, ignoredBy: ignored, ...(unknownVenues.size ? { unknownVenues: [...unknownVenues].slice(0, 100) } : {}) }
    };
  }

  const clientKeyOf = new WeakMap<FastifyRequest, string>();
  async function limitClient(req: FastifyRequest, reply: FastifyReply) {
    const { key, rotated } = clientKeys.keyOf(req.ip, now());
    if (rotated) {
      clients.clear();
      clientVenueDays.clear();
    }
    clientKeyOf.set(req, key);
    if (clients.take(key, 1, now()) === 0) {
      const wait = clients.waitSeconds(key);
      return reply
        .status(429)
        .header('Retry-After', String(wait))
        .send({ error: 'too_many_reports', reason: `too many reports from this network: try again in ${wait} s` });
    }
  }

  api.post('/tallies', { bodyLimit: TALLY_BODY_LIMIT, onRequest: limitClient }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    // Fastify also parses text/plain; a report is JSON only.
    if (typeof req.body === 'string') return reply.status(415).send({ error: 'bad_request', reason: 'send the report as application/json' });
    const check = checkTallyReport(req.body, now(), CLOCK_SKEW);
    if (!check.ok) return reply.status(400).send({ error: 'bad_tally', reason: check.reason });
    const { batch } = check.report;
    const done = batches.get(batch)?.done;
    if (done) return { ok: true, duplicate: true, ...done };
    const running = inflight.get(batch);
    if (running) {
      // The same report sent again while the first is still being stored: one answer for both.
      const outcome = await running;
      return reply.status(outcome.status).send(outcome.status === 200 ? { ...outcome.body, duplicate: true } : outcome.body);
    }
    if (writer.queued >= MAX_QUEUED_REPORTS) {
      return reply.status(503).header('Retry-After', '60').send({ error: 'busy', reason: 'the server is busy storing reports: send again later' });
    }
    const outcome = count(check.report, clientKeyOf.get(req) ?? '').catch((err: Error): Outcome => {
      api.log.warn(`reading venues for tallies failed: ${err.message}`);
      return { status: 503, body: { error: 'store_unavailable', reason: 'the venue list could not be read; send the same report again later' } };
    });
    inflight.set(batch, outcome);
    try {
      const { status, body } = await outcome;
      return reply.status(status).send(body);
    } finally {
      inflight.delete(batch);
    }
  });

  return writer;
}
