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
  addTallyCounts,
  checkTallyReport,
  emptyTallyDoc,
  TALLY_BODY_LIMIT,
  tallyDocId,
  type TallyDoc,
  type TallyReport
} from '../src/lib/core/citizen/tally';
import { HOUR, MINUTE } from '../src/lib/core/time';
import type { VenueRecord } from '../src/lib/core/documents';
import { communeDbName, DB, type Store } from './store/couch';
import { Buckets, ClientKeys } from './client-limit';

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
   * Check-ins per minute added to one venue (all its days together), with a burst of ten minutes'
   * worth; counts beyond are ignored and said so. A market of 20,000 visitors a day, whose phones send
   * once a day each, averages 14 a minute; the default 1,200 is ~100 times that, while one abuser
   * cannot inflate a venue faster. 0 = no limit (benchmarks).
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
  now?: () => number;
}

export const VENUE_DAY_MAX = 100_000;
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
/**
 * Ids of the last writes kept in each tally document. After a write whose answer was lost, the
 * re-read shows whether it landed; that works while fewer than this many writes followed it.
 */
const WRITES_KEPT = 64;
/** Tally documents whose last written state a writer keeps (a few MB at most). */
const MAX_KNOWN_DOCS = 20_000;
const VENUE_CACHE_MS = 5 * MINUTE;
const MAX_CACHED_COMMUNES = 20_000;

// ---------------------------------------------------------------------------------------------
// Group commit into lv_reports
// ---------------------------------------------------------------------------------------------

/** One report's counts for one commune-day document. */
export interface Contribution {
  docId: string;
  communeCode: string;
  day: string;
  counts: Map<string, number>;
  /** What adding gave, in the write that stored it (or may have: see `maybeIn`). */
  result?: { accepted: number; overCap: number };
  /** The id of a write that may hold this contribution, whose answer was lost. */
  maybeIn?: string;
  committed?: boolean;
}

interface Queued {
  contributions: Contribution[];
  resolve(reason: string | null): void;
}

export class StoreUnavailableError extends Error {}

/**
 * The single serialized flusher. `add` resolves when every contribution was committed, or with the
 * contributions marked: those with `committed` are stored, the rest are not, except those with a
 * `maybeIn` (a write whose outcome is unknown), which a later `add` of the same contribution checks.
 */
export class TallyWriter {
  readonly #queue: Queued[] = [];
  #running = false;
  /**
   * The documents as this writer last wrote them (with their new _rev): the next flush adds onto
   * them without reading first. If another instance wrote in between, the store answers conflict,
   * and only then is the document read. Spares a read per flush on a lone instance; never wrong.
   */
  readonly #lastWritten = new Map<string, TallyDoc>();

  /**
   * @param onStoreError told the store's own error messages (for the server log); answers to phones
   *   say only what failed, not the store's address or internals.
   */
  constructor(
    readonly store: Store,
    readonly venueDayMax = VENUE_DAY_MAX,
    readonly onStoreError: (message: string) => void = () => {},
    readonly maxAttempts = MAX_ATTEMPTS
  ) {}

  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves with null once all are committed, or with the reason some were not. */
  add(contributions: Contribution[]): Promise<string | null> {
    return new Promise((resolve) => {
      this.#queue.push({ contributions, resolve });
      if (!this.#running) void this.#run();
    });
  }

  async #run() {
    this.#running = true;
    try {
      while (this.#queue.length) {
        const reports = this.#queue.splice(0, MAX_REPORTS_PER_FLUSH);
        let problem: string | null = null;
        try {
          problem = await this.#flush(reports.flatMap((r) => r.contributions));
        } catch (err) {
          this.onStoreError(`tally flush failed: ${(err as Error).message}`);
          problem = 'the report store failed';
        }
        for (const r of reports) r.resolve(r.contributions.every((c) => c.committed) ? null : (problem ?? 'the report store did not take the counts'));
      }
    } finally {
      this.#running = false;
    }
  }

  async #flush(all: Contribution[]): Promise<string | null> {
    const byDoc = new Map<string, Contribution[]>();
    for (const c of all) {
      if (c.committed) continue;
      let list = byDoc.get(c.docId);
      if (!list) byDoc.set(c.docId, (list = []));
      list.push(c);
    }
    let problem: string | null = null;
    for (let attempt = 0; attempt < this.maxAttempts && byDoc.size; attempt++) {
      // Another writer got there first: step aside a little, differently each time.
      if (attempt) await new Promise((r) => setTimeout(r, Math.min(1000, 5 * 2 ** attempt) * (0.25 + Math.random())));
      let current: Map<string, TallyDoc | null>;
      try {
        // A document that may hold a write whose answer was lost is always read afresh.
        const toRead = [...byDoc.keys()].filter((id) => !this.#lastWritten.has(id) || byDoc.get(id)!.some((c) => c.maybeIn));
        current = toRead.length ? await this.#read(toRead) : new Map();
        for (const id of byDoc.keys()) if (!current.has(id) && this.#lastWritten.has(id)) current.set(id, this.#lastWritten.get(id)!);
      } catch (err) {
        this.onStoreError(`reading tallies failed: ${(err as Error).message}`);
        problem = 'reading the report store failed';
        continue;
      }
      const writes: { doc: TallyDoc; contributions: Contribution[]; writeId: string }[] = [];
      for (const [docId, contributions] of byDoc) {
        const stored = current.get(docId) ?? null;
        // A write whose answer was lost shows in the document's recent writes if it landed.
        for (const c of contributions) {
          if (c.maybeIn && stored?.writes.includes(c.maybeIn)) c.committed = true;
          delete c.maybeIn;
        }
        const open = contributions.filter((c) => !c.committed);
        if (!open.length) {
          byDoc.delete(docId);
          continue;
        }
        byDoc.set(docId, open);
        const first = open[0]!;
        const doc: TallyDoc = stored ? { ...stored, venues: { ...stored.venues }, writes: [...(stored.writes ?? [])] } : emptyTallyDoc(first.communeCode, first.day);
        for (const c of open) c.result = addTallyCounts(doc, c.counts, this.venueDayMax);
        const writeId = randomBytes(9).toString('base64url');
        doc.writes = [...doc.writes, writeId].slice(-WRITES_KEPT);
        writes.push({ doc, contributions: open, writeId });
      }
      if (!writes.length) break;
      // Until the answer says otherwise, what this writer knew of these documents is stale.
      for (const w of writes) this.#lastWritten.delete(w.doc._id);
      let rows: { id?: string; ok?: boolean; rev?: string; error?: string; reason?: string }[];
      try {
        const res = await this.store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs: writes.map((w) => w.doc) } });
        if (res.status !== 201 && res.status !== 200) throw new Error(`_bulk_docs answered ${res.status}`);
        rows = res.body as typeof rows;
        if (!Array.isArray(rows)) throw new Error('_bulk_docs answered something unexpected');
      } catch (err) {
        // Maybe stored, maybe not: the next read tells.
        for (const w of writes) for (const c of w.contributions) c.maybeIn = w.writeId;
        this.onStoreError(`writing tallies failed: ${(err as Error).message}`);
        problem = 'writing to the report store failed';
        continue;
      }
      // Matched by id, not position: the embedded store does not always answer in the order sent.
      const rowOf = new Map(rows.map((r) => [r.id, r]));
      for (const w of writes) {
        const row = rowOf.get(w.doc._id);
        if (!row) {
          for (const c of w.contributions) c.maybeIn = w.writeId;
          problem = `the report store did not say what became of ${w.doc._id}`;
        } else if (row.ok) {
          for (const c of w.contributions) c.committed = true;
          byDoc.delete(w.doc._id);
          if (row.rev) {
            if (this.#lastWritten.size >= MAX_KNOWN_DOCS) this.#lastWritten.clear();
            this.#lastWritten.set(w.doc._id, { ...w.doc, _rev: row.rev });
          }
        } else if (row.error !== 'conflict') {
          problem = `the report store refused ${w.doc._id}: ${row.error ?? ''} ${row.reason ?? ''}`.trim();
        } else problem = `${w.doc._id} kept changing under concurrent writers`;
      }
    }
    return byDoc.size ? problem : null;
  }

  async #read(ids: string[]): Promise<Map<string, TallyDoc | null>> {
    const res = await this.store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (res.status !== 200) throw new Error(`_all_docs answered ${res.status}`);
    const out = new Map<string, TallyDoc | null>();
    for (const row of (res.body as { rows?: { key: string; doc?: TallyDoc | null }[] }).rows ?? []) out.set(row.key, row.doc ?? null);
    return out;
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
  partial?: { accepted: number; ignored: Ignored; committedDocs: Set<string>; maybe: Map<string, Contribution> };
}

export function registerTallies(api: FastifyInstance, store: Store, limits: TallyLimits): TallyWriter {
  const now = limits.now ?? Date.now;
  // The server log gets the store's errors; never anything about the sender.
  const writer = new TallyWriter(store, limits.venueDayMax ?? VENUE_DAY_MAX, (message) => api.log.warn(message), limits.flushAttempts);
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

  // In memory only: after a restart a retried batch is counted again. That needs a lost answer and
  // a restart within the phone's retry, and costs one phone's counts of a few days, once.
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
    const unknownVenues = new Set<string>();
    const contributions = new Map<string, Contribution>();
    const t = now();
    for (const { day, venues } of report.days) {
      for (const { venueId, communeCode, count: n } of venues) {
        const docId = tallyDocId(communeCode, day);
        if (memory?.committedDocs.has(docId)) continue;
        // A contribution that may already be stored (its write's answer was lost) is retried exactly
        // as it was, so that the re-read can recognise it.
        const maybe = memory?.maybe.get(docId);
        if (maybe?.maybeIn) {
          contributions.set(docId, maybe);
          continue;
        }
        let ignored = ignoredByDoc.get(docId);
        if (!ignored) ignoredByDoc.set(docId, (ignored = { unknownVenue: 0, venueLimit: 0, venueDayFull: 0, clientVenueDay: 0 }));
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
        if (!c) contributions.set(docId, (c = { docId, communeCode, day, counts: new Map() }));
        c.counts.set(venueId, granted);
      }
    }
    const list = [...contributions.values()];
    const problem = list.length ? await writer.add(list) : null;
    for (const c of list) {
      if (!c.committed || !c.result) continue;
      let i = ignoredByDoc.get(c.docId);
      if (!i) ignoredByDoc.set(c.docId, (i = { unknownVenue: 0, venueLimit: 0, venueDayFull: 0, clientVenueDay: 0 }));
      i.venueDayFull += c.result.overCap;
    }
    // Documents settled by this request: stored, or nothing to store (every count ignored).
    const settled = [...ignoredByDoc.keys()].filter((docId) => !contributions.has(docId) || contributions.get(docId)!.committed);
    const ignored = memory ? { ...memory.ignored } : { unknownVenue: 0, venueLimit: 0, venueDayFull: 0, clientVenueDay: 0 };
    for (const docId of settled) {
      const i = ignoredByDoc.get(docId)!;
      ignored.unknownVenue += i.unknownVenue;
      ignored.venueLimit += i.venueLimit;
      ignored.venueDayFull += i.venueDayFull;
      ignored.clientVenueDay += i.clientVenueDay;
    }
    const accepted = (memory?.accepted ?? 0) + list.reduce((a, c) => a + (c.committed && c.result ? c.result.accepted : 0), 0);
    if (problem) {
      remember(report.batch, {
        at: now(),
        partial: {
          accepted,
          ignored,
          committedDocs: new Set([...(memory?.committedDocs ?? []), ...settled]),
          maybe: new Map(list.filter((c) => !c.committed && c.maybeIn).map((c) => [c.docId, c]))
        }
      });
      return { status: 503, body: { error: 'store_unavailable', reason: `${problem}; send the same report again later` } };
    }
    const ignoredTotal = ignored.unknownVenue + ignored.venueLimit + ignored.venueDayFull + ignored.clientVenueDay;
    remember(report.batch, { at: now(), done: { accepted, ignored: ignoredTotal } });
    return {
      status: 200,
      body: { ok: true, duplicate: false, accepted, ignored: ignoredTotal, ignoredBy: ignored, ...(unknownVenues.size ? { unknownVenues: [...unknownVenues].slice(0, 100) } : {}) }
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
