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

interface Pending {
  db: string;
  id: string;
  n: number;
  until: number;
  doc: WindowDoc | null;
}

const refId = (r: WindowRef) => `${r.spec.kind}\u0000${r.key}`;
const ATTEMPTS = 6;

export class SharedWindows {
  constructor(readonly days: SharedDays) {}

  #place(spec: WindowSpec, key: string, index: number): { db: string; id: string } {
    return { db: this.days.dbAt(index * spec.windowMs), id: `w:${spec.kind}:${index}:${key}` };
  }

  /** Reads the windows of several keys: one request (two at a day's edge). */
  async read(refs: WindowRef[], now: number): Promise<Map<string, WindowState>> {
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
        const got = await this.days.getMany<WindowDoc>(db, [...new Set(list.map((x) => x.id))]);
        for (const [id, doc] of got) docs.set(`${db}/${id}`, doc);
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
      const current = docs.get(`${cur.db}/${cur.id}`) ?? null;
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
   * Adds events to keys' current windows. `known` (from `read`) spares reading before writing;
   * conflicting documents are read again and the same amounts added again.
   */
  async add(adds: { ref: WindowRef; n: number }[], now: number, known?: Map<string, WindowState>): Promise<void> {
    let pending = new Map<string, Pending>();
    for (const { ref, n } of adds) {
      if (ref.spec.max <= 0 || n <= 0) continue;
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
        await new Promise((r) => setTimeout(r, 5 * attempt * Math.random()));
        const byDb = new Map<string, string[]>();
        for (const p of pending.values()) byDb.set(p.db, [...(byDb.get(p.db) ?? []), p.id]);
        for (const [db, ids] of byDb) for (const [id, doc] of await this.days.getMany<WindowDoc>(db, ids)) pending.get(`${db}/${id}`)!.doc = doc;
      }
      const byDb = new Map<string, Pending[]>();
      for (const p of pending.values()) byDb.set(p.db, [...(byDb.get(p.db) ?? []), p]);
      const next = new Map<string, Pending>();
      for (const [db, list] of byDb) {
        const docs: WindowDoc[] = list.map((p) => ({ _id: p.id, ...(p.doc?._rev ? { _rev: p.doc._rev } : {}), type: 'window', count: (p.doc?.count ?? 0) + p.n, until: p.until }));
        const res = await this.days.write('POST', db, '_bulk_docs', { docs });
        if (res.status !== 201 && res.status !== 200) throw new Error(`counting a shared limit answered ${res.status}`);
        const rows = new Map((res.body as { id?: string; ok?: boolean; error?: string }[]).map((r) => [r.id, r]));
        for (const p of list) {
          const row = rows.get(p.id);
          if (row?.ok) continue;
          if (row && row.error !== 'conflict') throw new Error(`counting a shared limit: ${row.error ?? 'refused'}`);
          next.set(`${db}/${p.id}`, p);
        }
      }
      pending = next;
    }
  }

  /** Ends a key's count (the current and previous windows), e.g. a number whose owner logged in. */
  async forget(ref: WindowRef, now: number, known: WindowState): Promise<void> {
    const gone = [known.current, known.previous].filter((d): d is WindowDoc => !!d?._rev);
    const index = Math.floor(now / ref.spec.windowMs);
    await Promise.all(
      gone.map((d) => {
        const db = this.days.dbAt((d._id === this.#place(ref.spec, ref.key, index).id ? index : index - 1) * ref.spec.windowMs);
        // A 409 or 404: someone counted or forgot meanwhile; the next failure counts from there.
        return this.days.store.request('DELETE', `${db}/${encodeURIComponent(d._id)}`, { query: new URLSearchParams({ rev: d._rev! }) });
      })
    );
  }

  /**
   * Takes up to `want` events for each ref at once (what a request spends), reading once and writing
   * once; returns what each got.
   */
  async take(items: { ref: WindowRef; want: number }[], now: number): Promise<number[]> {
    const states = await this.read(
      items.map((i) => i.ref),
      now
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

/** A token bucket of `perMinute` with ten minutes' burst, as a window: `perMinute × 10` in ten minutes. */
export function perMinuteSpec(kind: string, perMinute: number): WindowSpec {
  return { kind, max: perMinute * 10, windowMs: 10 * MINUTE };
}
