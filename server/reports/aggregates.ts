/**
 * The aggregates job (DESIGN §12): keeps `agg:<unit>:<day>` documents in `lv_reports`, counts only,
 * from the commune databases' `_changes` and the tallies' changes in lv_reports. The arithmetic is
 * src/lib/core/reports/aggregate.ts; this file reads, remembers where it stopped, and writes.
 *
 * Documents it keeps in lv_reports:
 * - `agg:<unit>:<day>` for every commune, district and province with data, every day from its
 *   first to today: `{ figures, children, active }` (DayAggregate). A unit's day holds its
 *   children's figures and its communes' active-venue bitmaps, so `/api/reports/stats` reads one
 *   key range per question (7 documents for a week), whatever the size of the unit.
 * - `aggstate:<commune>`: the commune's ledger and the `_changes` sequence it has read up to.
 * - `aggjob`: the tallies' sequence, the signature of the unit tree the roll-ups were made with,
 *   and `updatedAt`, the end of the last complete pass (the freshness the statistics show).
 *
 * Order of a pass, so that a crash or a second server never counts a change twice: the ledger is
 * saved (with the day its figures must be recomputed from) before any aggregate is written; a
 * ledger whose save meets a conflict (another instance saved first) is dropped from memory and read
 * again on the next pass, and its aggregates are left to the instance that saved. Unchanged
 * aggregates are not rewritten.
 *
 * N server instances: a pass runs under a lease (`aggregates`, server/shared/lease.ts), so one
 * instance at a time passes, whatever instance's timer fires; the saves above stay the second
 * wall for a pass that outlived its lease. An instance that takes the lease after another held it
 * reads the ledgers again first, by key at the read quorum (on a cluster a range read may come from
 * a copy behind the last holder's writes, and a ledger saved from a stale revision could come back
 * as a conflict). Each instance looks every minute and passes when the last pass by any instance
 * finished over half a minute ago, so the figures are a minute or so old whatever the number of
 * instances; a pass cut off by a killed instance leaves its lease pending and is run again by the
 * next instance that looks once the lease has expired (within a minute and the lease's time).
 *
 * It runs at start (after the demo data), then every minute (not at each push: a pass reads every commune's changes); a pass never
 * overlaps another. A store that does not answer fails the pass, logged in words without ids, and
 * the next pass tries again: the job never takes the server down.
 */
import { createHash } from 'node:crypto';
import {
  ancestorsOf,
  applyChanges,
  applyTally,
  communeDays,
  emptyLedger,
  firstDay,
  ledgerFromJson,
  ledgerToJson,
  rollUpTree,
  startRebuild,
  treeSignature,
  unitTree,
  unknownVenues,
  type CommuneLedger,
  type DayAggregate,
  type DocChange,
  type LedgerJson,
  type UnitTree
} from '../../src/lib/core/reports/aggregate';
import type { Figures } from '../../src/lib/core/reports/figures';
import { daysBetween, addDays } from '../../src/lib/core/reports/period';
import { retentionCutoff } from '../../src/lib/core/citizen/retention';
import { dayKey } from '../../src/lib/core/time';
import type { TallyDoc } from '../../src/lib/core/citizen/tally';
import type { UnitDoc } from '../../src/lib/core/units';
import { DB, type Store } from '../store/couch';
import { loadUnits } from '../units';
import { Lease, newHolderId, readLease, withLease } from '../shared/lease';
import { TallyWriter } from '../tallies';

/** `agg:<unit>:<day>` in lv_reports. */
export interface AggDoc extends DayAggregate {
  _id: string;
  _rev?: string;
  type: 'agg';
  schema: 1;
  unit: string;
}

interface StateDoc {
  _id: string;
  _rev?: string;
  type: 'aggstate';
  schema: 1;
  commune: string;
  /** the commune database's `_changes` sequence read up to (opaque on CouchDB) */
  since: string | number;
  /** figures from this day on still have to be (re)written; null when all are */
  dirtyFrom: string | null;
  /** the last day whose aggregates were written */
  through: string | null;
  ledger: LedgerJson;
}

interface JobDoc {
  _id: 'aggjob';
  _rev?: string;
  type: 'aggjob';
  schema: 1;
  tallySince: string | number;
  /** sha-256 of the unit tree's parent links the roll-ups were made with */
  tree: string | null;
  updatedAt: string | null;
}

export const AGG_JOB_ID = 'aggjob';

export function aggDocId(unit: string, day: string): string {
  return `agg:${unit}:${day}`;
}

const stateDocId = (commune: string) => `aggstate:${commune}`;
/** Changes read per request: a page of entries with their bodies is a few hundred kB. */
const CHANGES_PAGE = 1000;
/** Documents per `_all_docs` / `_bulk_docs` request. */
const WRITE_BATCH = 500;
/** Commune databases read at once. */
const PARALLEL = 4;
export const AGGREGATES_INTERVAL_MS = 60_000;
export const AGGREGATES_LEASE = 'aggregates';

interface Commune {
  ledger: CommuneLedger;
  since: string | number;
  dirtyFrom: string | null;
  through: string | null;
  rev?: string;
  /** changed since last saved */
  unsaved: boolean;
}

export interface PassResult {
  communes: number;
  changes: number;
  tallies: number;
  written: number;
  ms: number;
}

const running = new Set<AggregatesJob>();
let held = false;

/**
 * Holds the passes that the minute's timer starts (true) or lets them run again; passes
 * asked for with run()/rebuild() still run. For a bench that must time one pass alone.
 */
export function holdAggregates(hold: boolean): void {
  held = hold;
}

/** Runs a pass of every aggregates job of this process now (tests and benches), after any pass under way. */
export async function runAggregatesNow(): Promise<(PassResult | null)[]> {
  const out: (PassResult | null)[] = [];
  for (const job of running) out.push(await job.run());
  return out;
}

/** A full rebuild by every aggregates job of this process (benches; an operator's repair). */
export async function rebuildAggregatesNow(): Promise<(PassResult | null)[]> {
  const out: (PassResult | null)[] = [];
  for (const job of running) out.push(await job.rebuild());
  return out;
}

export class AggregatesJob {
  readonly #store: Store;
  readonly #retentionDays: number;
  readonly #log: (msg: string) => void;
  readonly #now: () => number;
  #communes = new Map<string, Commune>();
  #job: JobDoc | null = null;
  #loaded = false;
  #pass: Promise<PassResult | null> = Promise.resolve(null);
  #timer: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  readonly #lease: Lease;
  /** Folds tallies forked on a cluster that no new report happens to touch (server/tallies.ts). */
  readonly #tallyMerger: TallyWriter;

  constructor(store: Store, opts: { retentionDays: number; log?: (msg: string) => void; now?: () => number; holder?: string; leaseTtlMs?: number; leaseSkewMs?: number }) {
    this.#store = store;
    this.#retentionDays = opts.retentionDays;
    this.#log = opts.log ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#lease = new Lease(store, AGGREGATES_LEASE, { holder: opts.holder ?? newHolderId(), ttlMs: opts.leaseTtlMs, skewMs: opts.leaseSkewMs });
    this.#tallyMerger = new TallyWriter(store, { onStoreError: this.#log, now: this.#now });
  }

  /** A pass now, then every minute until stop(). */
  start(): this {
    running.add(this);
    void this.#safeRun();
    this.#timer = setInterval(() => void this.#safeRun(), AGGREGATES_INTERVAL_MS);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    this.#stopped = true;
    running.delete(this);
    if (this.#timer) clearInterval(this.#timer);
    this.#tallyMerger.close();
  }

  async #safeRun(): Promise<void> {
    if (held) return;
    try {
      // Another instance passed a moment ago: this minute's pass is done.
      const last = await readLease(this.#store, AGGREGATES_LEASE);
      if (last && !last.pending && last.doneAt !== null && Date.now() - last.doneAt < AGGREGATES_INTERVAL_MS / 2) return;
      await this.run();
    } catch (err) {
      // Words only: a store error's message names no document.
      this.#log(`aggregates: pass failed, will try again: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  /** One incremental pass (after the one under way, if any); null when another instance is passing. */
  run(): Promise<PassResult | null> {
    const next = this.#pass.catch(() => null).then(() => (this.#stopped ? null : this.#exclusive(false)));
    this.#pass = next;
    return next;
  }

  /**
   * Rebuilds every aggregate from the commune databases as they are, and the tallies. What retention
   * has deleted cannot be read again: the entry counts of days it may have emptied are kept from the
   * ledgers (core startRebuild).
   */
  rebuild(): Promise<PassResult | null> {
    const next = this.#pass.catch(() => null).then(() => (this.#stopped ? null : this.#exclusive(true)));
    this.#pass = next;
    return next;
  }

  /** A pass under the lease; null when another instance holds it. */
  async #exclusive(rebuild: boolean): Promise<PassResult | null> {
    const out = await withLease(this.#lease, (lease, before) => {
      // The ledgers in memory are this instance's; another instance may have moved them since.
      if (before?.lastHolder !== this.#lease.holder) this.#loaded = false;
      return this.#incremental(rebuild, lease);
    }).catch((err: unknown) => {
      this.#loaded = false;
      throw err;
    });
    return out.ran ? out.value : null;
  }

  async #load(): Promise<void> {
    const states = await this.#stateDocs();
    this.#communes.clear();
    for (const s of states) {
      if (s.type !== 'aggstate') continue;
      this.#communes.set(s.commune, { ledger: ledgerFromJson(s.ledger), since: s.since, dirtyFrom: s.dirtyFrom, through: s.through, rev: s._rev, unsaved: false });
    }
    const job = await this.#get<JobDoc>(AGG_JOB_ID);
    this.#job = job ?? { _id: AGG_JOB_ID, type: 'aggjob', schema: 1, tallySince: 0, tree: null, updatedAt: null };
    this.#loaded = true;
  }

  /** The ledgers: ids by range, bodies by key (the read quorum on a cluster). */
  async #stateDocs(): Promise<StateDoc[]> {
    const ids = await this.#store.request('GET', `${DB.reports}/_all_docs`, {
      query: new URLSearchParams({ startkey: JSON.stringify('aggstate:'), endkey: JSON.stringify('aggstate:\ufff0') })
    });
    if (ids.status !== 200) throw new Error(`listing the aggregates' state answered ${ids.status}`);
    const keys = ((ids.body as { rows?: { id: string }[] }).rows ?? []).map((r) => r.id);
    const out: StateDoc[] = [];
    for (let i = 0; i < keys.length; i += WRITE_BATCH) {
      const res = await this.#store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: keys.slice(i, i + WRITE_BATCH) } });
      if (res.status !== 200) throw new Error(`reading the aggregates' state answered ${res.status}`);
      for (const row of (res.body as { rows?: { doc?: StateDoc | null }[] }).rows ?? []) if (row.doc) out.push(row.doc);
    }
    return out;
  }

  async #get<T>(id: string): Promise<T | null> {
    const res = await this.#store.request('GET', `${DB.reports}/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`reading the aggregates' state answered ${res.status}`);
    return res.body as T;
  }

  async #incremental(rebuild: boolean, lease: Lease): Promise<PassResult> {
    const t0 = performance.now();
    if (!this.#loaded) await this.#load();
    const now = this.#now();
    const today = dayKey(now);
    const units = await loadUnits(this.#store);
    const tree = unitTree(units);
    const signature = createHash('sha256').update(treeSignature(units)).digest('base64url');
    const treeChanged = this.#job!.tree !== signature;

    const dbs = (await this.#store.couch.db.list()).filter((name) => /^lv_c_[0-9]{5}$/.test(name)).map((name) => name.slice(5));
    const keepThrough = dayKey(retentionCutoff(now, this.#retentionDays));
    if (rebuild) {
      for (const code of new Set([...dbs, ...this.#communes.keys()])) {
        const old = this.#communes.get(code);
        this.#communes.set(code, {
          ledger: startRebuild(old?.ledger ?? null, code, keepThrough),
          since: 0,
          dirtyFrom: null,
          through: null,
          rev: old?.rev,
          unsaved: true
        });
      }
      this.#job!.tallySince = 0;
    }

    // 1. The commune databases' changes.
    let changes = 0;
    const queue = [...dbs];
    const worker = async () => {
      for (let code = queue.shift(); code !== undefined; code = queue.shift()) {
        const read = await this.#readCommune(code, now, rebuild ? { keepThrough: this.#communes.get(code)?.rev ? keepThrough : null } : undefined);
        changes += read;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    // 2. The tallies: ids from lv_reports' changes (its own aggregates pass by too), bodies by key.
    const tallies = await this.#readTallies();

    // 3. Every commune with days to write: from its dirty day (or the day after the last written) to today.
    for (const c of this.#communes.values()) {
      const start = c.through === null ? firstDay(c.ledger) : addDays(c.through, 1) <= today ? addDays(c.through, 1) : null;
      const from = [c.dirtyFrom, start].filter((d): d is string => d !== null).sort()[0] ?? null;
      if (from !== null && from <= today && from !== c.dirtyFrom) {
        c.dirtyFrom = from;
        c.unsaved = true;
      }
    }

    // 4. Save the ledgers before writing what they give (see the header); conflicts drop out.
    this.#checkLease(lease);
    await this.#saveStates();
    // A ledger went to another instance: sums made without it would be wrong. Read again next pass.
    if (!this.#loaded) return { communes: dbs.length, changes, tallies, written: 0, ms: performance.now() - t0 };

    // 5. Commune days, then the units above them for every day any of their communes changed.
    const dirtyDays = new Map<string, Set<string>>(); // day → communes changed that day
    const byDay = new Map<string, Map<string, DayAggregate>>();
    const docs: AggDoc[] = [];
    for (const [code, c] of this.#communes) {
      if (c.dirtyFrom === null || c.dirtyFrom > today) continue;
      for (const agg of communeDays(c.ledger, daysBetween(c.dirtyFrom, today))) {
        docs.push(toDoc(code, agg));
        let set = dirtyDays.get(agg.day);
        if (!set) dirtyDays.set(agg.day, (set = new Set()));
        set.add(code);
        let m = byDay.get(agg.day);
        if (!m) byDay.set(agg.day, (m = new Map()));
        m.set(code, agg);
      }
    }
    if (treeChanged || rebuild) {
      // The tree changed: every day of every unit is summed again under the new parents.
      const starts = [...this.#communes.values()].map((c) => firstDay(c.ledger)).filter((d): d is string => d !== null);
      if (starts.length) for (const day of daysBetween(starts.sort()[0]!, today)) if (!dirtyDays.has(day)) dirtyDays.set(day, new Set(this.#communes.keys()));
    }
    this.#checkLease(lease);
    let written = await this.#writeDocs(docs);
    written += await this.#writeUnits(tree, dirtyDays, byDay);

    // 6. Done: the communes' dirty days are written.
    for (const c of this.#communes.values()) {
      if (c.dirtyFrom !== null) {
        c.dirtyFrom = null;
        c.through = today;
        c.unsaved = true;
      }
    }
    await this.#saveStates();
    this.#job!.tree = signature;
    this.#job!.updatedAt = new Date(now).toISOString();
    await this.#saveJob();
    return { communes: dbs.length, changes, tallies, written, ms: performance.now() - t0 };
  }

  /** A pass that outlived its lease stops before writing: another instance may be passing. */
  #checkLease(lease: Lease): void {
    if (lease.held) return;
    this.#loaded = false;
    throw new Error('the aggregates lease ran out during the pass');
  }

  #commune(code: string): Commune {
    let c = this.#communes.get(code);
    if (!c) this.#communes.set(code, (c = { ledger: emptyLedger(code), since: 0, dirtyFrom: null, through: null, unsaved: true }));
    return c;
  }

  #markDirty(c: Commune, day: string | null): void {
    if (day === null) return;
    if (c.dirtyFrom === null || day < c.dirtyFrom) c.dirtyFrom = day;
    c.unsaved = true;
  }

  async #readCommune(code: string, now: number, rebuild?: { keepThrough: string | null }): Promise<number> {
    const c = this.#commune(code);
    const db = `lv_c_${code}`;
    let count = 0;
    for (;;) {
      const res = await this.#store.request('GET', `${db}/_changes`, {
        query: new URLSearchParams({ since: String(c.since), include_docs: 'true', limit: String(CHANGES_PAGE) })
      });
      if (res.status === 404) return count; // deleted meanwhile
      if (res.status !== 200) throw new Error(`reading a commune's changes answered ${res.status}`);
      const body = res.body as { results?: DocChange[]; last_seq?: string | number };
      const results = (body.results ?? []).filter((r) => typeof r.id === 'string' && !r.id.startsWith('_design/'));
      const missing = unknownVenues(c.ledger, results);
      const venues = missing.length ? await this.#venueDocs(db, missing) : [];
      this.#markDirty(c, applyChanges(c.ledger, [...venues, ...results], { now, rebuild }));
      count += results.length;
      if (body.last_seq !== undefined && body.last_seq !== c.since) {
        c.since = body.last_seq;
        c.unsaved = true;
      }
      if ((body.results ?? []).length < CHANGES_PAGE) return count;
    }
  }

  async #venueDocs(db: string, venueIds: string[]): Promise<DocChange[]> {
    const res = await this.#store.request('POST', `${db}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: venueIds.map((id) => `venue:${id}`) } });
    const rows = (res.body as { rows?: { id?: string; key: string; doc?: Record<string, unknown> | null }[] }).rows ?? [];
    return rows.filter((r) => r.doc).map((r) => ({ id: r.key, doc: r.doc! }));
  }

  async #readTallies(): Promise<number> {
    let count = 0;
    for (;;) {
      const res = await this.#store.request('GET', `${DB.reports}/_changes`, { query: new URLSearchParams({ since: String(this.#job!.tallySince), limit: String(CHANGES_PAGE * 5) }) });
      if (res.status !== 200) throw new Error(`reading the tallies' changes answered ${res.status}`);
      const body = res.body as { results?: { id: string; deleted?: boolean }[]; last_seq?: string | number };
      const ids = [...new Set((body.results ?? []).filter((r) => r.id.startsWith('tally:') && !r.deleted).map((r) => r.id))];
      for (let i = 0; i < ids.length; i += WRITE_BATCH) {
        const found = await this.#store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true', conflicts: 'true' }), body: { keys: ids.slice(i, i + WRITE_BATCH) } });
        if (found.status !== 200) throw new Error(`reading tallies answered ${found.status}`);
        const forked: string[] = [];
        for (const row of (found.body as { rows?: { doc?: TallyDoc | null }[] }).rows ?? []) {
          const doc = row.doc;
          if (doc?.type !== 'tally' || !/^[0-9]{5}$/.test(doc.communeCode) || typeof doc.venues !== 'object') continue;
          // A tally whose servers forked it on a cluster: folded into one revision, which this pass
          // reads as a new change next time. Until then the winner's counts stand.
          if (doc._conflicts?.length) forked.push(doc._id);
          const c = this.#commune(doc.communeCode);
          this.#markDirty(c, applyTally(c.ledger, doc));
          count++;
        }
        if (forked.length) {
          const problem = await this.#tallyMerger.check(forked);
          if (problem) this.#log(`folding forked tallies: ${problem}`);
        }
      }
      if (body.last_seq !== undefined) this.#job!.tallySince = body.last_seq;
      if ((body.results ?? []).length < CHANGES_PAGE * 5) return count;
    }
  }

  async #saveStates(): Promise<void> {
    const pending = [...this.#communes.entries()].filter(([, c]) => c.unsaved);
    for (let i = 0; i < pending.length; i += 50) {
      const batch = pending.slice(i, i + 50);
      const docs: StateDoc[] = batch.map(([code, c]) => ({
        _id: stateDocId(code),
        ...(c.rev ? { _rev: c.rev } : {}),
        type: 'aggstate',
        schema: 1,
        commune: code,
        since: c.since,
        dirtyFrom: c.dirtyFrom,
        through: c.through,
        ledger: ledgerToJson(c.ledger)
      }));
      const res = await this.#store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs } });
      if (res.status !== 201 && res.status !== 200) throw new Error(`saving the aggregates' state answered ${res.status}`);
      const results = res.body as { id: string; rev?: string; error?: string }[];
      for (const r of results) {
        const code = r.id.slice('aggstate:'.length);
        const c = this.#communes.get(code);
        if (!c) continue;
        if (r.rev && !r.error) {
          c.rev = r.rev;
          c.unsaved = false;
        } else {
          // Another instance saved first: its ledger is the one that counts; read it next pass.
          this.#communes.delete(code);
          this.#loaded = false;
        }
      }
    }
  }

  async #saveJob(): Promise<void> {
    const res = await this.#store.request('PUT', `${DB.reports}/${AGG_JOB_ID}`, { body: this.#job });
    if (res.status === 201 || res.status === 200) this.#job!._rev = (res.body as { rev: string }).rev;
    else if (res.status === 409) this.#loaded = false;
    else throw new Error(`saving the aggregates' job state answered ${res.status}`);
  }

  /** The units' days: for each changed day, every unit above a commune that changed, summed again. */
  async #writeUnits(tree: UnitTree, dirtyDays: Map<string, Set<string>>, byDay: Map<string, Map<string, DayAggregate>>): Promise<number> {
    let written = 0;
    let docs: AggDoc[] = [];
    for (const [day, changed] of [...dirtyDays].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const tops = new Set<string>();
      for (const code of changed) {
        const up = ancestorsOf(tree, code);
        if (up.length) tops.add(up[up.length - 1]!);
      }
      if (!tops.size) continue;
      // The day of every commune under those provinces (the changed ones are computed already).
      const known = byDay.get(day) ?? new Map<string, DayAggregate>();
      const communes = new Map<string, DayAggregate>();
      for (const [code, c] of this.#communes) {
        const up = ancestorsOf(tree, code);
        if (!up.length || !tops.has(up[up.length - 1]!)) continue;
        const first = firstDay(c.ledger);
        if (first === null || first > day) continue;
        communes.set(code, known.get(code) ?? communeDays(c.ledger, [day])[0]!);
      }
      for (const [unit, agg] of rollUpTree(tree, day, communes)) docs.push(toDoc(unit, agg));
      if (docs.length >= WRITE_BATCH * 4) {
        written += await this.#writeDocs(docs);
        docs = [];
      }
    }
    return written + (await this.#writeDocs(docs));
  }

  /** Writes the documents that differ from what is stored; returns how many were written. */
  async #writeDocs(docs: AggDoc[]): Promise<number> {
    let written = 0;
    for (let i = 0; i < docs.length; i += WRITE_BATCH) {
      const batch = docs.slice(i, i + WRITE_BATCH);
      const found = await this.#store.request('POST', `${DB.reports}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: batch.map((d) => d._id) } });
      if (found.status !== 200) throw new Error(`reading aggregates answered ${found.status}`);
      const stored = new Map<string, { rev: string; doc: AggDoc | null }>();
      for (const row of (found.body as { rows?: { key: string; value?: { rev: string; deleted?: boolean }; doc?: AggDoc | null }[] }).rows ?? []) {
        if (row.value) stored.set(row.key, { rev: row.value.rev, doc: row.value.deleted ? null : (row.doc ?? null) });
      }
      const changed: AggDoc[] = [];
      for (const doc of batch) {
        const s = stored.get(doc._id);
        if (s?.doc && sameAgg(s.doc, doc)) continue;
        // A deleted one comes back without its tombstone's rev (CouchDB refuses that rev as a conflict).
        changed.push(s?.doc ? { ...doc, _rev: s.rev } : doc);
      }
      if (!changed.length) continue;
      const res = await this.#store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs: changed } });
      if (res.status !== 201 && res.status !== 200) throw new Error(`writing aggregates answered ${res.status}`);
      // A conflict: another instance wrote the same day meanwhile, from the same ledger; left as it is.
      written += (res.body as { ok?: boolean }[]).filter((r) => r.ok).length;
    }
    return written;
  }
}

function toDoc(unit: string, agg: DayAggregate): AggDoc {
  return { _id: aggDocId(unit, agg.day), type: 'agg', schema: 1, unit, day: agg.day, figures: agg.figures, children: agg.children, active: agg.active };
}

function sameAgg(a: AggDoc, b: AggDoc): boolean {
  return JSON.stringify([a.figures, a.children, a.active]) === JSON.stringify([b.figures, b.children, b.active]) && a.day === b.day && a.unit === b.unit;
}

/** Starts the job on a store (server/main.ts); returns it, to stop it at close. */
export function startAggregates(store: Store, opts: { retentionDays: number; log?: (msg: string) => void }): AggregatesJob {
  return new AggregatesJob(store, opts).start();
}

export type { Figures, UnitDoc };
