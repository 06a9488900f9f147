/**
 * Leases: one server instance at a time does a piece of background work (signing a commune, the
 * retention purge, an aggregates pass), with nothing but CouchDB shared between instances.
 *
 * A lease is the document `lease:<name>` in `lv_jobs` (server only): who holds it and until when.
 * It is taken by a conditional write (the revision read), so of two instances that read the same
 * revision one write wins and the other gets 409. On a cluster a write is answered 201 only when a
 * majority of the copies took it (w, the default majority), and a copy takes only one of two
 * edits of the same revision, so at most one taker sees 201; 202 (fewer copies answered) counts as
 * not taken. A lease is read with `conflicts=true` at the default read quorum, which meets every
 * write that was answered 201; a losing edit left on one copy as a conflict is deleted by the next
 * taker, so it never becomes the winner unseen.
 *
 * A holder that dies keeps nobody out for longer than the lease's time: it expires. Clocks of
 * instances differ a little, so two margins of `skewMs`: the holder counts its lease as ended
 * `skewMs` before its end, the others count it as free only `skewMs` after. A long piece of work
 * renews its lease (withLease does it every third of the time) and checks `held` before writing.
 *
 * `pending` says that the work the lease guards was started and not finished: a holder that
 * releases after success clears it (or deletes the lease), one that fails or dies leaves it, so
 * another instance can find the unfinished work (`unfinishedLeases`) and do it again.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from '../store/couch';

export const LEASE_DB = 'lv_jobs';
export const LEASE_TTL_MS = 30_000;
export const LEASE_SKEW_MS = 2_000;

export interface LeaseDoc {
  _id: string;
  _rev?: string;
  _conflicts?: string[];
  type: 'lease';
  schema: 1;
  name: string;
  /** null once released */
  holder: string | null;
  /** ms, the holder's clock */
  expiresAt: number;
  /** the holder that wrote it last, kept after release: a job whose state another instance moved reads it again */
  lastHolder: string | null;
  /** when the guarded work last finished (ms), null before */
  doneAt: number | null;
  /** started and not finished */
  pending: boolean;
}

export interface LeaseOptions {
  /** Who takes it: one id per job object (newHolderId), so two instances in one process differ too. */
  holder: string;
  ttlMs?: number;
  skewMs?: number;
  now?: () => number;
}

/** A holder id: the host and process for an operator reading the lease, and randomness for uniqueness. */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

const leaseId = (name: string) => `lease:${name}`;
const ensured = new WeakSet<Store>();

async function ensureLeaseDb(store: Store): Promise<void> {
  if (ensured.has(store)) return;
  await store.ensureDb(LEASE_DB);
  ensured.add(store);
}

/** The lease as stored (the winning revision), or null. */
export async function readLease(store: Store, name: string): Promise<LeaseDoc | null> {
  await ensureLeaseDb(store);
  const res = await store.request('GET', `${LEASE_DB}/${encodeURIComponent(leaseId(name))}`, { query: new URLSearchParams({ conflicts: 'true' }) });
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`reading a lease answered ${res.status}`);
  return res.body as LeaseDoc;
}

/** Leases whose names start with `prefix` whose work was started and not finished, and that nobody holds now. */
export async function unfinishedLeases(store: Store, prefix: string, opts: { skewMs?: number; now?: () => number } = {}): Promise<LeaseDoc[]> {
  await ensureLeaseDb(store);
  const now = (opts.now ?? Date.now)();
  const skew = opts.skewMs ?? LEASE_SKEW_MS;
  const docs = (await store.docsByPrefix<LeaseDoc>(LEASE_DB, leaseId(prefix))) ?? [];
  return docs.filter((d) => d.type === 'lease' && d.pending && (d.holder === null || d.expiresAt + skew <= now));
}

/**
 * Work asked for that no pass may have seen yet: `want:<name>` in `lv_jobs`, written after the
 * thing to work on is stored and before the request that stored it is answered (a venue pushed: the
 * signer must see it). The instance that took the request wakes its own pass at once; should it die
 * before that pass has run, nothing else would know the work is there (the lease is not pending: no
 * pass started). A pass that started after the want was written clears it (clearWanted); any
 * instance's recovery wakes the work of a want left standing (wantedWork).
 */
export interface WantDoc {
  _id: string;
  _rev?: string;
  type: 'want';
  schema: 1;
  name: string;
  /** when it was asked for (ms, the asking instance's clock) */
  at: number;
  /** the asking instance's holder id: its own passes compare times on its own clock */
  by: string;
}

const wantId = (name: string) => `want:${name}`;

/** Records that the work of lease `name` is wanted (see WantDoc); a want written meanwhile by another does as well. */
export async function markWanted(store: Store, name: string, by: string, now: () => number = Date.now): Promise<void> {
  await ensureLeaseDb(store);
  const path = `${LEASE_DB}/${encodeURIComponent(wantId(name))}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await store.request('GET', path);
    if (current.status !== 200 && current.status !== 404) throw new Error(`reading wanted work answered ${current.status}`);
    const rev = current.status === 200 ? (current.body as WantDoc)._rev : undefined;
    const doc: WantDoc = { _id: wantId(name), ...(rev ? { _rev: rev } : {}), type: 'want', schema: 1, name, at: now(), by };
    const res = await store.request('PUT', path, { body: doc });
    if (res.status === 201 || res.status === 202 || res.status === 200) return;
    if (res.status !== 409) throw new Error(`recording wanted work answered ${res.status}`);
  }
  // Three conflicts in a row: others are writing it this instant, as recent as this one would be.
}

/** Wants of leases whose names start with `prefix`. */
export async function wantedWork(store: Store, prefix: string): Promise<WantDoc[]> {
  await ensureLeaseDb(store);
  return ((await store.docsByPrefix<WantDoc>(LEASE_DB, wantId(prefix))) ?? []).filter((d) => d.type === 'want' && typeof d.at === 'number');
}

/**
 * Clears the want of `name` if the pass that just finished saw what it asked for: the pass started
 * after the want was written, on the asker's own clock (`mine`), or `skewMs` after it on another's.
 * A want written later stays for the next pass. Never fails the pass: a want left is only done again.
 */
export async function clearWanted(store: Store, name: string, pass: { startedAt: number; holder: string; skewMs: number }): Promise<void> {
  try {
    const path = `${LEASE_DB}/${encodeURIComponent(wantId(name))}`;
    const res = await store.request('GET', path);
    if (res.status !== 200) return;
    const want = res.body as WantDoc;
    const seen = want.by === pass.holder ? want.at <= pass.startedAt : want.at + pass.skewMs <= pass.startedAt;
    if (seen) await store.request('DELETE', path, { query: new URLSearchParams({ rev: want._rev! }) });
  } catch {
    // The next recovery wakes the work again, and that pass clears it.
  }
}

export class Lease {
  readonly name: string;
  readonly holder: string;
  readonly #store: Store;
  readonly ttlMs: number;
  readonly #skew: number;
  readonly #now: () => number;
  #rev: string | undefined;
  #expiresAt = 0;
  #held = false;
  #pending = false;
  #doneAt: number | null = null;
  /** Writes of this holder, one after the other: a renewal still on its way must not undo a release. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(store: Store, name: string, opts: LeaseOptions) {
    this.#store = store;
    this.name = name;
    this.holder = opts.holder;
    this.ttlMs = opts.ttlMs ?? LEASE_TTL_MS;
    this.#skew = opts.skewMs ?? LEASE_SKEW_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** Whether this holder may still act under the lease, by its own clock less the skew margin. */
  get held(): boolean {
    return this.#held && this.#now() < this.#expiresAt - this.#skew;
  }

  /**
   * Takes the lease when nobody holds it, its holder let it expire, or this holder has it already.
   * Returns the lease as it was before (null when it never existed), or false when another holds it.
   */
  acquire(): Promise<LeaseDoc | null | false> {
    return this.#serial(() => this.#acquire());
  }

  async #acquire(): Promise<LeaseDoc | null | false> {
    const before = await readLease(this.#store, this.name);
    const now = this.#now();
    if (before && before.holder !== null && before.holder !== this.holder && before.expiresAt + this.#skew > now) return false;
    if (before?._conflicts?.length) await this.#dropConflicts(before._conflicts);
    this.#rev = before?._rev;
    this.#doneAt = before?.doneAt ?? null;
    this.#pending = true;
    this.#held = false;
    if (!(await this.#write(now + this.ttlMs))) return false;
    return before;
  }

  /** Extends the lease by its time; false when it was lost (expired and taken, or the store refused). */
  renew(): Promise<boolean> {
    return this.#serial(async () => (this.#held ? this.#write(this.#now() + this.ttlMs) : false));
  }

  /**
   * Lets the lease go. `done`: the work it guarded is finished (clears pending, records doneAt);
   * `remove`: and the document goes (leases per commune would otherwise pile up). A release that
   * meets a conflict (the lease expired and was taken) changes nothing.
   */
  release(opts: { done: boolean; remove?: boolean }): Promise<void> {
    return this.#serial(() => this.#release(opts));
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#writes.catch(() => {}).then(op);
    this.#writes = next;
    return next;
  }

  async #release(opts: { done: boolean; remove?: boolean }): Promise<void> {
    if (!this.#rev) return;
    const wasHeld = this.#held;
    this.#held = false;
    if (!wasHeld) return;
    const id = encodeURIComponent(leaseId(this.name));
    if (opts.done && opts.remove) {
      await this.#store.request('DELETE', `${LEASE_DB}/${id}`, { query: new URLSearchParams({ rev: this.#rev }) });
      this.#rev = undefined;
      return;
    }
    if (opts.done) {
      this.#pending = false;
      this.#doneAt = this.#now();
    }
    const res = await this.#store.request('PUT', `${LEASE_DB}/${id}`, { body: this.#doc(null, 0) });
    if (res.status === 201 || res.status === 200) this.#rev = (res.body as { rev: string }).rev;
  }

  #doc(holder: string | null, expiresAt: number): LeaseDoc {
    return {
      _id: leaseId(this.name),
      ...(this.#rev ? { _rev: this.#rev } : {}),
      type: 'lease',
      schema: 1,
      name: this.name,
      holder,
      expiresAt,
      lastHolder: this.holder,
      doneAt: this.#doneAt,
      pending: this.#pending
    };
  }

  async #write(expiresAt: number): Promise<boolean> {
    const doc = this.#doc(this.holder, expiresAt);
    const put = () => this.#store.request('PUT', `${LEASE_DB}/${encodeURIComponent(doc._id)}`, { body: doc });
    let res = await put();
    if (res.status === 404) {
      // The database went (a store wiped under a running server): made again, once.
      ensured.delete(this.#store);
      await ensureLeaseDb(this.#store);
      res = await put();
    }
    // 202: fewer copies than the quorum took it, so another taker may have its own copies: not taken.
    if (res.status === 201 || res.status === 200) {
      this.#rev = (res.body as { rev: string }).rev;
      this.#expiresAt = expiresAt;
      this.#held = true;
      return true;
    }
    if (res.status === 409 || res.status === 202) {
      this.#held = false;
      return false;
    }
    throw new Error(`writing a lease answered ${res.status}`);
  }

  async #dropConflicts(revs: string[]): Promise<void> {
    const docs = revs.map((rev) => ({ _id: leaseId(this.name), _rev: rev, _deleted: true }));
    await this.#store.request('POST', `${LEASE_DB}/_bulk_docs`, { body: { docs } });
  }
}

export type LeaseRun<T> = { ran: true; value: T; before: LeaseDoc | null } | { ran: false };

/**
 * Runs `work` under the lease: takes it (or answers `{ran: false}` when another holds it), renews
 * it every third of its time while the work runs, and releases it, done when the work succeeded.
 * A failed work leaves the lease pending and rethrows.
 */
export async function withLease<T>(lease: Lease, work: (lease: Lease, before: LeaseDoc | null) => Promise<T>, opts: { remove?: boolean } = {}): Promise<LeaseRun<T>> {
  const before = await lease.acquire();
  if (before === false) return { ran: false };
  const every = Math.max(50, Math.floor(lease.ttlMs / 3));
  const timer = setInterval(() => void lease.renew().catch(() => {}), every);
  timer.unref();
  let value: T;
  try {
    value = await work(lease, before);
  } catch (err) {
    clearInterval(timer);
    await lease.release({ done: false }).catch(() => {});
    throw err;
  }
  clearInterval(timer);
  await lease.release({ done: true, remove: opts.remove });
  return { ran: true, value, before };
}

export interface SharedSchedule {
  /** Runs now if nobody else runs it (whenever it last ran); true when this instance ran it. */
  runNow(): Promise<boolean>;
  stop(): void;
}

/**
 * A job every instance schedules and one runs at a time, about once per `everyMs` across all of
 * them: each instance looks every `checkMs` and runs it when the last run finished longer than
 * `everyMs` ago, or one was left unfinished (its instance failed or was killed), and nobody holds
 * the lease. So a killed instance's run is taken up within the lease's time, the skew margin and
 * `checkMs`. The first look is at start.
 */
export function sharedSchedule(
  store: Store,
  name: string,
  opts: { everyMs: number; checkMs: number; holder?: string; ttlMs?: number; skewMs?: number; now?: () => number; run: (lease: Lease) => Promise<void>; log: (msg: string) => void }
): SharedSchedule {
  const lease = new Lease(store, name, { holder: opts.holder ?? newHolderId(), ttlMs: opts.ttlMs, skewMs: opts.skewMs, now: opts.now });
  const now = opts.now ?? Date.now;
  let stopped = false;
  let running: Promise<boolean> | null = null;
  const attempt = (force: boolean): Promise<boolean> => {
    // A look under way may decide not to run: a forced run waits for it, then runs.
    if (running) return force ? running.catch(() => false).then(() => attempt(true)) : running;
    running = (async () => {
      if (!force) {
        const doc = await readLease(store, name);
        if (doc && !doc.pending && doc.doneAt !== null && now() - doc.doneAt < opts.everyMs) return false;
      }
      const out = await withLease(lease, (l) => opts.run(l));
      return out.ran;
    })().finally(() => (running = null));
    return running;
  };
  const tick = () =>
    void attempt(false).catch((err: Error) => {
      // Words only: a store error's message names no document. The next look tries again.
      opts.log(`${name}: failed, will try again: ${err.message.split('\n')[0]}`);
    });
  tick();
  const timer = setInterval(() => {
    if (!stopped) tick();
  }, opts.checkMs);
  timer.unref();
  return {
    runNow: () => attempt(true),
    stop() {
      stopped = true;
      clearInterval(timer);
    }
  };
}
