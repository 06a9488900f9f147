/**
 * Limits that hold across server instances: counts of events per key in fixed windows, one CouchDB
 * document per key per window, with a deterministic id (`w:<kind>:<window number>:<key>`) in the
 * day database of the window's start (days.ts).
 *
 * Why counters per window and not a document per event counted by an `_all_docs` range: a check
 * reads a known id, so the checks of one request (a login checks its number and its address) are one
 * `_all_docs` by keys, and a count is one `_bulk_docs` with the revisions just read. A range per key
 * would cost a request per key, and a document per event many more documents to drop.
 *
 * The estimate weighs the previous window by how much of it still lies within one window's length
 * (the sliding-window approximation): no burst of twice the limit across a window's edge.
 *
 * Writes carry the revision read; a conflict (another instance counted in between) is read again and
 * the same amount added again, a few times. Decisions are made on what was read, so instances racing
 * for the same key may each let one more through: a limit can be passed by the number of requests in
 * flight at once, never multiplied by the number of instances.
 */
import { MINUTE } from '../../src/lib/core/time';
import type { SharedDays } from './days';

export interface WindowSpec {
  /** short name in ids: `lf-n`, `tc`… */
  kind: string;
  /** events allowed in one window's length */
  max: number;
  windowMs: number;
}

interface WindowDoc {
  _id: string;
  _rev?: string;
  type: 'window';
  count: number;
  /** end of the window: documents of ended windows are worthless (their day's database goes) */
  until: number;
}

export interface WindowRef {
  spec: WindowSpec;
  key: string;
}

export interface WindowState {
  /** the estimate of events in the last window length */
  used: number;
  /** what may still happen now (0 when the limit is reached) */
  left: number;
  /** seconds until one more event is allowed (0 when allowed now) */
  wait: number;
  current: WindowDoc | null;
  previous: WindowDoc | null;
}

interface Flow {
  db: string;
  id: string;
  until: number;
  /** decided, waiting for the next write */
  pending: number;
  /** decided and not yet stored: pending and the write in flight */
  unwritten: number;
  waiters: { resolve(): void; reject(err: Error): void }[];
  running: boolean;
}

interface Pending {
  db: string;
  id: string;
  n: number;
  until: number;
  doc: WindowDoc | null;
}

const refId = (r: WindowRef) => `${r.spec.kind}\u0000${r.key}`;
const ATTEMPTS = 12;
const MAX_SEEN = 100_000;

export class SharedWindows {
  /**
   * Takes of one key in this process go one after another: parallel requests from one address (a
   * burst of guesses) are each decided on what the one before spent, and do not conflict with each
   * other in the store. Only other instances' writes meet as conflicts.
   */
  readonly #queues = new Map<string, Promise<unknown>>();

  /**
   * Window documents as this process last read or wrote them (null: known absent). `read` with
   * `cached` decides on them without asking the store; the write that follows carries their revision,
   * so if another instance counted meanwhile the store answers conflict, the document is read again
   * and the memory corrected. A decision on a stale copy lets one request more through per instance,
   * at most, before the copy is fresh again.
   */
  readonly #seen = new Map<string, WindowDoc | null>();

  /**
   * Counts decided in this process and not yet written, per window document: `count` adds to them,
   * and one write at a time per document carries all that gathered meanwhile (group commit), so a
   * key many requests share (a busy venue) costs one write per round trip, not one per request.
   */
  readonly #flows = new Map<string, Flow>();

  constructor(readonly days: SharedDays) {}

  #remember(path: string, doc: WindowDoc | null) {
    if (this.#seen.size >= MAX_SEEN) this.#seen.clear();
    this.#seen.set(path, doc);
  }

  #place(spec: WindowSpec, key: string, index: number): { db: string; id: string } {
    return { db: this.days.dbAt(index * spec.windowMs), id: `w:${spec.kind}:${index}:${key}` };
  }

  /**
   * Reads the windows of several keys: one request (two at a day's edge), none for documents this
   * process knows when `cached` (see #seen).
   */
  async read(refs: WindowRef[], now: number, cached = false): Promise<Map<string, WindowState>> {
    const wanted = new Map<string, { db: string; id: string; ref: WindowRef; index: number; which: 'current' | 'previous' }[]>();
    for (const ref of refs) {
      if (ref.spec.max <= 0) continue;
      const index = Math.floor(now / ref.spec.windowMs);
      for (const [which, i] of [['current', index], ['previous', index - 1]] as const) {
        const place = this.#place(ref.spec, ref.key, i);
        let list = wanted.get(place.db);
        if (!list) wanted.set(place.db, (list = []));
        list.push({ ...place, ref, index: i, which });
      }
    }
    const docs = new Map<string, WindowDoc | null>();
    await Promise.all(
      [...wanted].map(async ([db, list]) => {
        const ids = [...new Set(list.map((x) => x.id))].filter((id) => {
          const path = `${db}/${id}`;
          if (cached && this.#seen.has(path)) docs.set(path, this.#seen.get(path)!);
          return !docs.has(path);
        });
        if (!ids.length) return;
        const got = await this.days.getMany<WindowDoc>(db, ids);
        for (const [id, doc] of got) {
          docs.set(`${db}/${id}`, doc);
          this.#remember(`${db}/${id}`, doc);
        }
      })
    );
    const out = new Map<string, WindowState>();
    for (const ref of refs) {
      const { spec } = ref;
      if (spec.max <= 0) {
        out.set(refId(ref), { used: 0, left: Infinity, wait: 0, current: null, previous: null });
        continue;
      }
      const index = Math.floor(now / spec.windowMs);
      const cur = this.#place(spec, ref.key, index);
      const prev = this.#place(spec, ref.key, index - 1);
      let current = docs.get(`${cur.db}/${cur.id}`) ?? null;
      const unwritten = cached ? (this.#flows.get(`${cur.db}/${cur.id}`)?.unwritten ?? 0) : 0;
      if (unwritten) current = { ...(current ?? { _id: cur.id, type: 'window', until: (index + 1) * spec.windowMs }), count: (current?.count ?? 0) + unwritten };
      const previous = docs.get(`${prev.db}/${prev.id}`) ?? null;
      out.set(refId(ref), estimate(spec, now, current, previous));
    }
    return out;
  }

  /** The state of one key from a `read`. */
  static of(states: Map<string, WindowState>, ref: WindowRef): WindowState {
    return states.get(refId(ref)) ?? { used: 0, left: Infinity, wait: 0, current: null, previous: null };
  }

  /**
   * Adds events to keys' current windows (a negative number gives back what a request took and
   * turned out not to spend). `known` (from `read`) spares reading before writing;
   * conflicting documents are read again and the same amounts added again.
   */
  async add(adds: { ref: WindowRef; n: number }[], now: number, known?: Map<string, WindowState>): Promise<void> {
    let pending = new Map<string, Pending>();
    for (const { ref, n } of adds) {
      if (ref.spec.max <= 0 || n === 0) continue;
      const index = Math.floor(now / ref.spec.windowMs);
      const { db, id } = this.#place(ref.spec, ref.key, index);
      const k = `${db}/${id}`;
      const same = pending.get(k);
      if (same) same.n += n;
      else pending.set(k, { db, id, n, until: (index + 1) * ref.spec.windowMs, doc: known?.get(refId(ref))?.current ?? null });
    }
    for (let attempt = 0; pending.size; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error('a shared limit kept changing under concurrent writers');
      if (attempt) {
        // Read again what conflicted, then add onto what is there now.
        await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random())));
        const byDb = new Map<string, string[]>();
        for (const p of pending.values()) byDb.set(p.db, [...(byDb.get(p.db) ?? []), p.id]);
        for (const [db, ids] of byDb)
          for (const [id, doc] of await this.days.getMany<WindowDoc>(db, ids)) {
            pending.get(`${db}/${id}`)!.doc = doc;
            this.#remember(`${db}/${id}`, doc);
          }
      }
      const byDb = new Map<string, Pending[]>();
      for (const p of pending.values()) byDb.set(p.db, [...(byDb.get(p.db) ?? []), p]);
      const next = new Map<string, Pending>();
      for (const [db, list] of byDb) {
        const docs: WindowDoc[] = list.map((p) => ({ _id: p.id, ...(p.doc?._rev ? { _rev: p.doc._rev } : {}), type: 'window', count: Math.max(0, (p.doc?.count ?? 0) + p.n), until: p.until }));
        const res = await this.days.write('POST', db, '_bulk_docs', { docs });
        // 202: stored on fewer cluster nodes than the write quorum (one was slow); the others get it
        // from that node. Enough for a limit's count; refusing the request over it is not.
        if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw new Error(`counting a shared limit answered ${res.status}`);
        const rows = new Map((res.body as { id?: string; ok?: boolean; rev?: string; error?: string }[]).map((r) => [r.id, r]));
        for (const [i, p] of list.entries()) {
          const row = rows.get(p.id);
          if (row?.ok) {
            this.#remember(`${db}/${p.id}`, row.rev ? { ...docs[i]!, _rev: row.rev } : null);
            continue;
          }
          this.#seen.delete(`${db}/${p.id}`);
          if (row && row.error !== 'conflict') throw new Error(`counting a shared limit: ${row.error ?? 'refused'}`);
          next.set(`${db}/${p.id}`, p);
        }
      }
      pending = next;
    }
  }

  /**
   * Adds decided counts through this process's group commit (see #flows); resolves once they are
   * stored. For keys many requests share, with decisions made on `read(…, cached = true)`.
   */
  count(adds: { ref: WindowRef; n: number }[], now: number): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const { ref, n } of adds) {
      if (ref.spec.max <= 0 || n === 0) continue;
      const index = Math.floor(now / ref.spec.windowMs);
      const { db, id } = this.#place(ref.spec, ref.key, index);
      const path = `${db}/${id}`;
      let flow = this.#flows.get(path);
      if (!flow) this.#flows.set(path, (flow = { db, id, until: (index + 1) * ref.spec.windowMs, pending: 0, unwritten: 0, waiters: [], running: false }));
      flow.pending += n;
      flow.unwritten += n;
      const f = flow;
      waits.push(new Promise<void>((resolve, reject) => f.waiters.push({ resolve, reject })));
      if (!flow.running) void this.#runFlow(path, flow);
    }
    return Promise.all(waits).then(() => {});
  }

  async #runFlow(path: string, flow: Flow): Promise<void> {
    flow.running = true;
    try {
      while (flow.pending) {
        const n = flow.pending;
        const waiters = flow.waiters.splice(0);
        flow.pending = 0;
        try {
          await this.#write(flow, n);
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err as Error);
        } finally {
          flow.unwritten -= n;
        }
      }
    } finally {
      flow.running = false;
      if (!flow.pending && this.#flows.get(path) === flow) this.#flows.delete(path);
    }
  }

  /** Adds n to one window document, against the revision last seen; a conflict reads it again. */
  async #write(flow: Flow, n: number): Promise<void> {
    const path = `${flow.db}/${flow.id}`;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= ATTEMPTS * 2) throw new Error('a shared limit kept changing under concurrent writers');
      let doc = this.#seen.get(path);
      if (doc === undefined || attempt) {
        if (attempt) await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random())));
        doc = (await this.days.getMany<WindowDoc>(flow.db, [flow.id])).get(flow.id) ?? null;
      }
      const next: WindowDoc = { _id: flow.id, ...(doc?._rev ? { _rev: doc._rev } : {}), type: 'window', count: Math.max(0, (doc?.count ?? 0) + n), until: flow.until };
      const res = await this.days.write('PUT', flow.db, encodeURIComponent(flow.id), next);
      if (res.status === 201 || res.status === 202) {
        this.#remember(path, { ...next, _rev: (res.body as { rev: string }).rev });
        return;
      }
      if (res.status !== 409) throw new Error(`counting a shared limit answered ${res.status}`);
      this.#seen.delete(path);
    }
  }

  /** Ends a key's count (the current and previous windows), e.g. a number whose owner logged in. */
  async forget(ref: WindowRef, now: number, known: WindowState): Promise<void> {
    const gone = [known.current, known.previous].filter((d): d is WindowDoc => !!d?._rev);
    const index = Math.floor(now / ref.spec.windowMs);
    await Promise.all(
      gone.map((d) => {
        const db = this.days.dbAt((d._id === this.#place(ref.spec, ref.key, index).id ? index : index - 1) * ref.spec.windowMs);
        this.#seen.delete(`${db}/${d._id}`);
        // A 409 or 404: someone counted or forgot meanwhile; the next failure counts from there.
        return this.days.store.request('DELETE', `${db}/${encodeURIComponent(d._id)}`, { query: new URLSearchParams({ rev: d._rev! }) });
      })
    );
  }

  /**
   * Takes up to `want` events for each ref at once (what a request spends), reading once and writing
   * once; returns what each got.
   */
  take(items: { ref: WindowRef; want: number }[], now: number, cached = false): Promise<number[]> {
    return this.exclusive(
      items.map((i) => i.ref),
      () => this.#take(items, now, cached)
    );
  }

  /**
   * Gives back one event taken from each ref (a request that turned out not to spend it: a right
   * code, a try refused by another limit), in the keys' queue, so that this process's next request
   * for them sees it.
   */
  giveBack(refs: WindowRef[], now: number): Promise<void> {
    if (!refs.length) return Promise.resolve();
    return this.exclusive(refs, () => this.add(refs.map((ref) => ({ ref, n: -1 })), now));
  }

  /**
   * Runs `work` (a read, a decision, an add) after every other piece of work of this process on any
   * of these keys: one instance never races itself for a key, so only other instances' writes
   * conflict in the store.
   */
  exclusive<T>(refs: WindowRef[], work: () => Promise<T>): Promise<T> {
    const keys = [...new Set(refs.map(refId))];
    const before = Promise.all(keys.map((k) => this.#queues.get(k)?.catch(() => {})));
    const run = before.then(work);
    for (const k of keys) this.#queues.set(k, run);
    void run.then(
      () => keys.forEach((k) => this.#queues.get(k) === run && this.#queues.delete(k)),
      () => keys.forEach((k) => this.#queues.get(k) === run && this.#queues.delete(k))
    );
    return run;
  }

  async #take(items: { ref: WindowRef; want: number }[], now: number, cached: boolean): Promise<number[]> {
    const states = await this.read(
      items.map((i) => i.ref),
      now,
      cached
    );
    const left = new Map<string, number>();
    const got = items.map(({ ref, want }) => {
      const k = refId(ref);
      const l = left.get(k) ?? SharedWindows.of(states, ref).left;
      const g = Math.max(0, Math.min(want, Math.floor(l)));
      left.set(k, l - g);
      return g;
    });
    await this.add(
      items.map((i, n) => ({ ref: i.ref, n: got[n]! })),
      now,
      states
    );
    return got;
  }
}

function estimate(spec: WindowSpec, now: number, current: WindowDoc | null, previous: WindowDoc | null): WindowState {
  const start = Math.floor(now / spec.windowMs) * spec.windowMs;
  const weight = 1 - (now - start) / spec.windowMs;
  const cur = current?.count ?? 0;
  const prev = previous?.count ?? 0;
  const used = cur + prev * weight;
  const left = Math.max(0, spec.max - used);
  let wait = 0;
  if (left < 1) {
    // When will prev·w(t) + cur ≤ max − 1? Past the window's end the current one becomes the previous.
    const until =
      cur <= spec.max - 1 && prev > 0 ? start + (1 - (spec.max - 1 - cur) / prev) * spec.windowMs : start + spec.windowMs + (1 - (spec.max - 1) / Math.max(cur, 1)) * spec.windowMs;
    wait = Math.max(1, Math.ceil((until - now) / 1000));
  }
  return { used, left, wait, current, previous };
}

/**
 * A token bucket of `perMinute` with ten minutes' burst, as a window: `perMinute × 10` in ten
 * minutes. The rate is part of the kind: instances configured differently (while a change of limits
 * rolls out) keep their own counts rather than judging one count by two limits.
 */
export function perMinuteSpec(kind: string, perMinute: number): WindowSpec {
  return { kind: `${kind}${perMinute}`, max: perMinute * 10, windowMs: 10 * MINUTE };
}
