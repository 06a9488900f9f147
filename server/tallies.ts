/**
 * `POST /api/tallies`: anonymous check-in tallies from phones (DESIGN §3), added into `lv_reports`,
 * one document per commune per day (`tally:<commune>:<day>`, counts only).
 *
 * Privacy: a report has no identifier (core/citizen/tally.ts). The sender's address is used for one thing,
 * the per-client limits, and only as an HMAC under a key derived from the server secret and the
 * Vietnamese day (client-limit.ts), in a day's database of shared state dropped after four days
 * (server/shared/days.ts); never logged. Nothing about the sender reaches `lv_reports`.
 *
 * Every instance interchangeable (DESIGN §8): the limits are windows in CouchDB
 * (server/shared/windows.ts), and a batch's memory is a claim document there, so a retry that reaches
 * another instance, or this one after a restart, is answered without counting again, and two
 * instances getting the same batch at once count it once. Store round trips per batch besides the
 * tally write itself (group-committed): the client's limit (read, write), the claim (one, with the
 * earlier days' look-up beside it), the venue limits (read, write), the claim's outcome (write).
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
import { DAY, HOUR, MINUTE } from '../src/lib/core/time';
import type { VenueRecord } from '../src/lib/core/documents';
import { communeDbName, DB, STORE_TIMEOUT_MS, type Store } from './store/couch';
import { sharedClientKey } from './client-limit';
import { hashed, secretKey, SharedDays } from './shared/days';
import { perMinuteSpec, SharedWindows, type WindowRef, type WindowSpec } from './shared/windows';

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
  /** The server secret shared by all instances (SESSION_SECRET): client keys and batch ids are HMACs under keys derived from it. */
  secret?: Uint8Array;
  now?: () => number;
}

export const VENUE_DAY_MAX = 100_000;
/**
 * Six phones' worth at the per-report maximum (48), or 300 phones checking in once: more than one
 * address plausibly contributes to one venue's day, even behind carrier-grade NAT, whose pools
 * spread a province's phones over many addresses.
 */
export const CLIENT_VENUE_DAY_MAX = 300;
/** Phones' clocks drift, and a cheap phone's may be set a little ahead: allowed at the day window's edges. */
const CLOCK_SKEW = HOUR;
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
 * Ids of the last contributions kept in each tally document (random, one per report and document,
 * 12 characters: about 7 KB at most). After a write whose answer was lost, or an instance that died
 * while counting, the re-read shows whether a contribution landed; that works while fewer than this
 * many contributions followed it (minutes, even for a busy commune-day).
 */
const WRITES_KEPT = 500;
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
  /**
   * The id this contribution leaves in the document's recent writes (drawn at random when not
   * given). The route records it in the batch's claim before counting, so that any instance can tell
   * later whether it landed.
   */
  writeId?: string;
  /** The id of a write that may hold this contribution, whose answer was lost. */
  maybeIn?: string;
  committed?: boolean;
}

interface Queued {
  contributions: Contribution[];
  resolve(reason: string | null): void;
}

export class StoreUnavailableError extends Error {}

export const newWriteId = () => randomBytes(9).toString('base64url');

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
   * and only then is the document read. Spares a read per flush on a lone instance; never wrong,
   * with any number of instances: the revision is the version marker.
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
      const writes: { doc: TallyDoc; contributions: Contribution[] }[] = [];
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
        for (const c of open) {
          c.result = addTallyCounts(doc, c.counts, this.venueDayMax);
          c.writeId ??= newWriteId();
        }
        doc.writes = [...doc.writes, ...open.map((c) => c.writeId!)].slice(-WRITES_KEPT);
        writes.push({ doc, contributions: open });
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
        for (const w of writes) for (const c of w.contributions) c.maybeIn = c.writeId;
        this.onStoreError(`writing tallies failed: ${(err as Error).message}`);
        problem = 'writing to the report store failed';
        continue;
      }
      // Matched by id, not position: the embedded store does not always answer in the order sent.
      const rowOf = new Map(rows.map((r) => [r.id, r]));
      for (const w of writes) {
        const row = rowOf.get(w.doc._id);
        if (!row) {
          for (const c of w.contributions) c.maybeIn = c.writeId;
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

const noneIgnored = (): Ignored => ({ unknownVenue: 0, venueLimit: 0, venueDayFull: 0, clientVenueDay: 0 });

interface Outcome {
  status: 200 | 503;
  body: Record<string, unknown>;
}

/**
 * A batch's claim, shared by every instance (`batch:<HMAC of the batch id>` in the day database of
 * shared state where it was first seen, server/shared/days.ts). Its creation is the claim: of two
 * instances getting the same batch at once, CouchDB lets one create it. It holds what a retry needs
 * to give the same answer (`done`), or to finish the work of an attempt that failed (`open`) or of
 * an instance that died while counting (`counting` past its lease): the id each contribution leaves
 * in its tally document, and what is stored already. No venue, no count of a venue: once done, only
 * the answer stays.
 */
interface BatchClaim {
  _id: string;
  _rev?: string;
  type: 'tallybatch';
  state: 'counting' | 'open' | 'done';
  /** while counting: until when the counting instance may write (its lease) */
  until: number;
  /** tally document id → the id its contribution leaves there; dropped once done */
  writes?: Record<string, string>;
  /** tally documents settled already (stored, or nothing to store) */
  settled?: string[];
  accepted: number;
  ignoredBy: Ignored;
}

/** A batch is remembered this long: a retried POST within it is acknowledged without counting again. */
const DUPLICATE_WINDOW = 48 * HOUR;
/**
 * How long an instance may go on counting a batch it claimed: longer than the writer's worst case
 * (its attempts with back-off, each store call bounded by STORE_TIMEOUT_MS). Only then may another
 * instance take the batch over, once a write sent just before the lease ended has landed or failed.
 */
const LEASE_MS = 15 * MINUTE;
const LEASE_MARGIN_MS = STORE_TIMEOUT_MS * 2;
/** Near a day's edge, a claim in the neighbouring day's database is looked for after ours is made. */
const DAY_EDGE_MS = 2 * MINUTE;
/** How long a request waits for another instance counting the same batch, before answering 503. */
const WAIT_FOR_OTHER_MS = 5_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function registerTallies(api: FastifyInstance, store: Store, limits: TallyLimits): TallyWriter {
  const now = limits.now ?? Date.now;
  // The server log gets the store's errors; never anything about the sender.
  const writer = new TallyWriter(store, limits.venueDayMax ?? VENUE_DAY_MAX, (message) => api.log.warn(message), limits.flushAttempts);
  // Without the server secret (tests that run the route alone) keys are this process's own.
  const secret = limits.secret ?? new Uint8Array(randomBytes(32));
  const days = new SharedDays(store, now, (message) => api.log.warn(message));
  const windows = new SharedWindows(days);
  const batchKey = secretKey(secret, 'tally-batch');
  const venueKey = secretKey(secret, 'tally-client-venue-day');
  const clientReports = perMinuteSpec('tc', limits.clientReportsPerMinute);
  const venueRate = perMinuteSpec('tv', limits.venueCountsPerMinute);
  const clientVenueDay: WindowSpec = { kind: 'tcvd', max: limits.clientVenueDayMax ?? CLIENT_VENUE_DAY_MAX, windowMs: DAY };

  // Active venues per commune, as `/api/communes/:code/venues` serves them. A bounded, short
  // lifetime, not a version check: reports carry complete days only, so a venue registered minutes
  // ago (on any instance) has no counts to miss yet, and one suspended minutes ago gains a few
  // minutes of counts at most. With N instances, each holds its own copy for at most VENUE_CACHE_MS.
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

  // The same batch sent twice to this instance while the first is still being stored: one answer.
  const inflight = new Map<string, Promise<Outcome>>();

  const busyOther = (): Outcome => ({ status: 503, body: { error: 'busy', reason: 'this report is being stored by another server: send the same report again later' } });
  const duplicate = (c: BatchClaim): Outcome => {
    const ignored = c.ignoredBy.unknownVenue + c.ignoredBy.venueLimit + c.ignoredBy.venueDayFull + c.ignoredBy.clientVenueDay;
    return { status: 200, body: { ok: true, duplicate: true, accepted: c.accepted, ignored } };
  };

  /**
   * Finds or makes the batch's claim. Returns the claim to count under (ours: new, or taken over),
   * or the outcome to answer (counted already; being counted elsewhere).
   */
  async function claim(report: TallyReport): Promise<{ mine: BatchClaim; db: string; resumed: boolean } | { outcome: Outcome }> {
    const id = `batch:${hashed(batchKey, report.batch)}`;
    const t = now();
    const today = days.dbAt(t);
    const docIds = [...new Set(report.days.flatMap((d) => d.venues.map((x) => tallyDocId(x.communeCode, d.day))))];
    const fresh: BatchClaim = {
      _id: id,
      type: 'tallybatch',
      state: 'counting',
      until: t + LEASE_MS,
      writes: Object.fromEntries(docIds.map((docId) => [docId, newWriteId()])),
      settled: [],
      accepted: 0,
      ignoredBy: noneIgnored()
    };
    // Where an earlier claim of this batch may be: the days its 48 hours reach back to, and, within
    // minutes of midnight, the day on the other side (an instance whose clock or request is a little
    // behind or ahead may have claimed it there at the same moment).
    const earlier = [...new Set([days.dbAt(t - DAY), days.dbAt(t - DUPLICATE_WINDOW)])].filter((db) => db !== today);
    const edge = [days.dbAt(t - DAY_EDGE_MS), days.dbAt(t + DAY_EDGE_MS)].filter((db) => db !== today);
    const others = [...new Set([...earlier, ...edge])];
    // Ours is made first and the others read after it when a claim in them could be being made at
    // this same moment (near midnight); otherwise both at once: one round trip.
    const made = days.write('PUT', today, encodeURIComponent(id), fresh);
    if (edge.length) await made.catch(() => null);
    const [res, found] = await Promise.all([made, Promise.all(others.map((db) => days.get<BatchClaim>(db, id).then((c) => (c?.type === 'tallybatch' ? { db, c } : null))))]);
    const elsewhere = found.filter((x): x is { db: string; c: BatchClaim } => !!x);
    if (res.status !== 201 && res.status !== 202 && res.status !== 409) throw new Error(`claiming a tally batch answered ${res.status}`);
    if (elsewhere.length) {
      // Whoever sees another's claim after making its own steps back: at most one counts (if both
      // see each other, neither does, and the phone's retry finds the other's claim alone).
      if (res.status !== 409) await days.store.request('DELETE', `${today}/${encodeURIComponent(id)}`, { query: new URLSearchParams({ rev: (res.body as { rev: string }).rev }) });
      return settleFound(elsewhere[0]!.db, elsewhere[0]!.c, report);
    }
    if (res.status !== 409) return { mine: { ...fresh, _rev: (res.body as { rev: string }).rev }, db: today, resumed: false };
    const there = await days.get<BatchClaim>(today, id);
    if (!there) return { outcome: busyOther() };
    return settleFound(today, there, report);
  }

  /** A claim made before this request: its answer, a wait for another instance, or a takeover. */
  async function settleFound(db: string, found: BatchClaim, report: TallyReport): Promise<{ mine: BatchClaim; db: string; resumed: boolean } | { outcome: Outcome }> {
    let c = found;
    for (const started = now(); ; ) {
      if (c.state === 'done') return { outcome: duplicate(c) };
      const t = now();
      const free = c.state === 'open' || c.until + LEASE_MARGIN_MS <= t;
      if (free) {
        // Taken over against its revision: of several instances trying, one gets it.
        const mine: BatchClaim = { ...c, state: 'counting', until: t + LEASE_MS };
        // A claim made by an instance that knew fewer documents (none: a bug) gets ids for the rest.
        const writes = { ...(c.writes ?? {}) };
        for (const d of report.days) for (const x of d.venues) writes[tallyDocId(x.communeCode, d.day)] ??= newWriteId();
        mine.writes = writes;
        const res = await days.write('PUT', db, encodeURIComponent(c._id), mine);
        if (res.status === 409) return { outcome: busyOther() };
        if (res.status !== 201 && res.status !== 202) throw new Error(`taking over a tally batch answered ${res.status}`);
        return { mine: { ...mine, _rev: (res.body as { rev: string }).rev }, db, resumed: true };
      }
      // Another instance is counting it now: its answer is usually a moment away.
      if (t - started >= WAIT_FOR_OTHER_MS) return { outcome: busyOther() };
      await pause(100 + Math.random() * 200);
      const again = await days.get<BatchClaim>(db, c._id);
      if (!again) return { outcome: busyOther() };
      c = again;
    }
  }

  async function count(report: TallyReport, client: string): Promise<Outcome> {
    const claimed = await claim(report);
    if ('outcome' in claimed) return claimed.outcome;
    const { mine, db, resumed } = claimed;
    const settledBefore = new Set(mine.settled ?? []);
    // Looked up together: one round of store reads for a report's uncached communes.
    const communes = [...new Set(report.days.flatMap((d) => d.venues.map((x) => x.communeCode)))];
    const active = new Map(await Promise.all(communes.map(async (code) => [code, await activeVenues(code)] as const)));
    // Ignored counts per document, so that a retry after a partial failure reports each once.
    const ignoredByDoc = new Map<string, Ignored>();
    const unknownVenues = new Set<string>();
    const t = now();
    // The venue-days to count, with the shared limits they spend: read together, written together.
    const wanted: { docId: string; communeCode: string; day: string; venueId: string; n: number; cvd: WindowRef; venue: WindowRef }[] = [];
    for (const { day, venues } of report.days) {
      for (const { venueId, communeCode, count: n } of venues) {
        const docId = tallyDocId(communeCode, day);
        if (settledBefore.has(docId)) continue;
        let ignored = ignoredByDoc.get(docId);
        if (!ignored) ignoredByDoc.set(docId, (ignored = noneIgnored()));
        if (!active.get(communeCode)?.has(venueId)) {
          ignored.unknownVenue += n;
          unknownVenues.add(venueId);
          continue;
        }
        wanted.push({ docId, communeCode, day, venueId, n, cvd: { spec: clientVenueDay, key: hashed(venueKey, `${client}|${venueId}|${day}`) }, venue: { spec: venueRate, key: venueId } });
      }
    }
    const refs = wanted.flatMap((w) => [w.cvd, w.venue]);
    const contributions = await (async () => {
      const states = await windows.read(refs, t, true);
      const left = new Map<WindowRef, number>();
      const leftOf = (ref: WindowRef) => {
        for (const [r, l] of left) if (r.spec === ref.spec && r.key === ref.key) return { r, l };
        return { r: ref, l: SharedWindows.of(states, ref).left };
      };
      const out = new Map<string, Contribution>();
      const spent: { ref: WindowRef; n: number }[] = [];
      for (const w of wanted) {
        const ignored = ignoredByDoc.get(w.docId)!;
        const cvd = leftOf(w.cvd);
        const plausible = Math.max(0, Math.min(w.n, Math.floor(cvd.l)));
        ignored.clientVenueDay += w.n - plausible;
        const venue = leftOf(w.venue);
        const granted = Math.max(0, Math.min(plausible, Math.floor(venue.l)));
        ignored.venueLimit += plausible - granted;
        if (!granted) continue;
        left.set(cvd.r, cvd.l - granted);
        left.set(venue.r, venue.l - granted);
        spent.push({ ref: w.cvd, n: granted }, { ref: w.venue, n: granted });
        let c = out.get(w.docId);
        if (!c) {
          // A document an earlier attempt may have written is checked for its id before anything is added.
          const writeId = mine.writes?.[w.docId] ?? newWriteId();
          out.set(w.docId, (c = { docId: w.docId, communeCode: w.communeCode, day: w.day, counts: new Map(), writeId, ...(resumed ? { maybeIn: writeId } : {}) }));
        }
        c.counts.set(w.venueId, (c.counts.get(w.venueId) ?? 0) + granted);
      }
      // Decided on this process's copy (read with cached = true) and written by its group commit:
      // a busy venue costs one write per round trip, whatever the number of reports.
      // Not waited for: the decision is made, this process's copy holds it at once (see
      // SharedWindows.count), and a busy venue's window written by several instances would otherwise
      // make every report wait out their conflicts. Should it keep changing past the retries, the
      // limit is short of a few counts: better than a report refused.
      void windows.count(spent, t).catch((err: Error) => api.log.warn(`counting the tally limits: ${err.message}`));
      return out;
    })();
    const list = [...contributions.values()];
    const problem = list.length ? await writer.add(list) : null;
    for (const c of list) {
      if (!c.committed) continue;
      let i = ignoredByDoc.get(c.docId);
      if (!i) ignoredByDoc.set(c.docId, (i = noneIgnored()));
      if (c.result) i.venueDayFull += c.result.overCap;
    }
    // Documents settled by this request: stored, or nothing to store (every count ignored).
    const settled = [...ignoredByDoc.keys()].filter((docId) => !contributions.has(docId) || contributions.get(docId)!.committed);
    const ignored = { ...mine.ignoredBy };
    for (const docId of settled) {
      const i = ignoredByDoc.get(docId)!;
      ignored.unknownVenue += i.unknownVenue;
      ignored.venueLimit += i.venueLimit;
      ignored.venueDayFull += i.venueDayFull;
      ignored.clientVenueDay += i.clientVenueDay;
    }
    // A contribution found stored by an earlier attempt has no result of this one: its counts were added.
    const added = (c: Contribution) => (c.result ? c.result.accepted : [...c.counts.values()].reduce((a, n) => a + n, 0));
    const accepted = mine.accepted + list.reduce((a, c) => a + (c.committed ? added(c) : 0), 0);
    if (problem) {
      // Open for whoever gets the retry (this instance or another); the ids of the documents still
      // to settle stay, so that a write whose answer was lost is recognised.
      await release({ ...mine, state: 'open', until: 0, settled: [...settledBefore, ...settled], accepted, ignoredBy: ignored }, db);
      return { status: 503, body: { error: 'store_unavailable', reason: `${problem}; send the same report again later` } };
    }
    const { writes: _done, settled: _all, ...rest } = mine;
    await release({ ...rest, state: 'done', until: 0, accepted, ignoredBy: ignored }, db);
    const ignoredTotal = ignored.unknownVenue + ignored.venueLimit + ignored.venueDayFull + ignored.clientVenueDay;
    return {
      status: 200,
      body: { ok: true, duplicate: false, accepted, ignored: ignoredTotal, ignoredBy: ignored, ...(unknownVenues.size ? { unknownVenues: [...unknownVenues].slice(0, 100) } : {}) }
    };
  }

  /**
   * Writes the claim's new state. Should that fail, the claim stays `counting` and its lease runs
   * out: a retry then takes it over and finds the counts stored by their ids, so nothing is added twice.
   */
  async function release(c: BatchClaim, db: string): Promise<void> {
    try {
      const res = await days.write('PUT', db, encodeURIComponent(c._id), c);
      if (res.status !== 201 && res.status !== 202) api.log.warn(`recording a tally batch answered ${res.status}`);
    } catch (err) {
      api.log.warn(`recording a tally batch failed: ${(err as Error).message}`);
    }
  }

  const clientKeyOf = new WeakMap<FastifyRequest, string>();
  async function limitClient(req: FastifyRequest, reply: FastifyReply) {
    const t = now();
    const key = sharedClientKey(secret, req.ip, t);
    clientKeyOf.set(req, key);
    if (clientReports.max <= 0) return;
    const ref: WindowRef = { spec: clientReports, key };
    try {
      const [got] = await windows.take([{ ref, want: 1 }], t, true);
      if (got) return;
      const wait = SharedWindows.of(await windows.read([ref], t), ref).wait || 1;
      return reply
        .status(429)
        .header('Retry-After', String(wait))
        .send({ error: 'too_many_reports', reason: `too many reports from this network: try again in ${wait} s` });
    } catch (err) {
      api.log.warn(`the tally limits could not be read: ${(err as Error).message}`);
      return reply.status(503).header('Retry-After', '60').send({ error: 'store_unavailable', reason: 'the server could not reach its database: send the same report again later' });
    }
  }

  api.post('/tallies', { bodyLimit: TALLY_BODY_LIMIT, onRequest: limitClient }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    // Fastify also parses text/plain; a report is JSON only.
    if (typeof req.body === 'string') return reply.status(415).send({ error: 'bad_request', reason: 'send the report as application/json' });
    const check = checkTallyReport(req.body, now(), CLOCK_SKEW);
    if (!check.ok) return reply.status(400).send({ error: 'bad_tally', reason: check.reason });
    const { batch } = check.report;
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
      api.log.warn(`counting tallies failed: ${err.message}`);
      return { status: 503, body: { error: 'store_unavailable', reason: 'the report store could not be reached; send the same report again later' } };
    });
    inflight.set(batch, outcome);
    try {
      const { status, body } = await outcome;
      if (status === 503) reply.header('Retry-After', '60');
      return reply.status(status).send(body);
    } finally {
      inflight.delete(batch);
    }
  });

  return writer;
}
