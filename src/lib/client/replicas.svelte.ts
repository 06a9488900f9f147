/**
 * Replicas of shared databases on this device (PouchDB over IndexedDB), kept in step with the
 * server through the sync gateway. A device works on its replica offline; replication resumes
 * by itself when a signal returns, and the sync bar says what waits to go up and what went wrong.
 */
import PouchDB from 'pouchdb-browser';
import { readable, type Readable } from 'svelte/store';
import { reportSessionExpired } from './session-expiry';
import { firstLoad, FirstLoadRefused, mayFirstLoad, type FirstLoadProgress, type SyncStart } from './first-load';
import { changesWithDocs } from './changes-with-docs';
import { guardPullSource } from './pull-guard';

/** Sync and one-way replication emit the same events; one shape for both. */
interface Emitter {
  on(event: string, listener: (arg?: unknown) => void): Emitter;
  cancel(): void;
}

export type SyncState = 'idle' | 'syncing' | 'done' | 'offline' | 'error' | 'login';

/** What went wrong, in terms a team member can act on (the sync bar says it in words). */
export type SyncProblem = 'network' | 'server' | 'forbidden' | 'storage' | 'other';

export function syncProblemOf(err: unknown): SyncProblem {
  const e = err as { status?: number; name?: string; message?: string } | null;
  const status = e?.status ?? 0;
  if (status === 403) return 'forbidden';
  if (status >= 500) return 'server';
  if (e?.name === 'QuotaExceededError' || /quota/i.test(e?.message ?? '')) return 'storage';
  if (!status || status === 408 || (typeof navigator !== 'undefined' && !navigator.onLine)) return 'network';
  return 'other';
}

/**
 * The first load (first-load.ts) is for the devices of the team and of venue owners and stations:
 * their layouts turn it on before any replica starts. Elsewhere (a citizen's pages, which hold no
 * commune) replicas sync as before.
 */
let firstLoadAllowed = false;
export function allowFirstLoad(): void {
  firstLoadAllowed = true;
}
/** Retries back off to at most a minute: a village signal may last only a few minutes. */
const MAX_BACKOFF_MS = 60_000;

export class Replica<T extends object = Record<string, unknown>> {
  readonly db: PouchDB.Database<T>;
  #state = $state<SyncState>('idle');
  #lastSync = $state<number | null>(null);
  #pendingUp = $state(0);
  /** Bumped each time both directions are caught up and the mark is stored: pages that read the mark re-read it then. */
  #caughtUp = $state(0);
  #refused = $state<{ id: string; reason: string }[]>([]);
  #error = $state<string | null>(null);
  #problem = $state<SyncProblem | null>(null);
  #pendingDown = $state<number | null>(null);
  #handle: Emitter | null = null;
  /** A first load under way (see first-load.ts); aborted by stop(). */
  #loading: AbortController | null = null;
  #loadRetry: ReturnType<typeof setTimeout> | undefined;
  #loadBackoff = 0;

  constructor(
    readonly name: string,
    private readonly mode: 'sync' | 'pull'
  ) {
    this.db = new PouchDB<T>(name, { auto_compaction: true });
    this.#lastSync = Number(localStorage.getItem(`lv.lastSync.${name}`)) || null;
  }

  get state() {
    return this.#state;
  }
  get lastSync() {
    return this.#lastSync;
  }
  /**
   * Changes each time the caught-up mark (`lv.pushedSeq.<db>`) is stored, after it is stored: a
   * page that asks whether a document went up asks again then. (`state` turns 'done' before the
   * mark is written, and `pendingUp` may already be 0, so neither says when to ask.)
   */
  get caughtUp() {
    return this.#caughtUp;
  }
  /** Local changes not yet accepted by the server. */
  get pendingUp() {
    return this.#pendingUp;
  }
  /** Documents the server refused, with its reason (they stay on the device). */
  get refused() {
    return this.#refused;
  }
  get error() {
    return this.#error;
  }
  /** The kind of the last error, while it lasts. */
  get problem() {
    return this.#problem;
  }
  /** Changes the server still has for this device, as the server last said; null when unknown. */
  get pendingDown() {
    return this.#pendingDown;
  }

  start(): void {
    if (this.#handle || this.#loading) return;
    // A device that holds nothing of a commune yet loads it in pages first (first-load.ts), then syncs.
    if (firstLoadAllowed && this.mode === 'sync' && localStorage.getItem(this.#syncFromKey) === null && (localStorage.getItem(this.#loadKey) !== null || localStorage.getItem(`lv.pushedSeq.${this.name}`) === null)) {
      void this.#loadThenSync();
      return;
    }
    this.#startSync();
  }

  get #loadKey() {
    return `lv.firstLoad.${this.name}`;
  }
  /** Where the live sync starts after a first load, until it has caught up once (its checkpoints are then past it). */
  get #syncFromKey() {
    return `lv.syncFrom.${this.name}`;
  }

  async #loadThenSync() {
    const loading = new AbortController();
    this.#loading = loading;
    const saved = localStorage.getItem(this.#loadKey);
    try {
      if (saved === null && !(await mayFirstLoad(this.db as PouchDB.Database))) {
        this.#loading = null;
        if (!loading.signal.aborted) this.#startSync();
        return;
      }
      this.#state = 'syncing';
      this.#error = null;
      const url = `${location.origin}/sync/${this.name}`;
      const start = await firstLoad(this.db as PouchDB.Database, {
        url,
        signal: loading.signal,
        progress: saved ? (JSON.parse(saved) as FirstLoadProgress) : null,
        // Not after a stop: signing out removes the replica and its marks, and a mark written after
        // that would make the next account's load resume past documents it never stored.
        save: (progress) => {
          if (!loading.signal.aborted) localStorage.setItem(this.#loadKey, JSON.stringify(progress));
        },
        onPage: (pending) => {
          if (typeof pending === 'number') this.#pendingDown = pending;
          this.#problem = null;
          this.#error = null;
        },
        pullIds: async (ids) => {
          await this.db.replicate.from(new PouchDB<T>(url, { skip_setup: true }), { doc_ids: ids });
        },
        pushIds: async (ids) => {
          await this.db.replicate.to(new PouchDB<T>(url, { skip_setup: true }), { doc_ids: ids });
        }
      });
      if (loading.signal.aborted) return;
      localStorage.setItem(this.#syncFromKey, JSON.stringify(start));
      // What waits to go up is counted from where the push starts: the load's own documents are the server's.
      localStorage.setItem(`lv.pushedSeq.${this.name}`, String(start.push));
      localStorage.removeItem(this.#loadKey);
      this.#loadBackoff = 0;
      this.#loading = null;
      this.#startSync();
    } catch (err) {
      if (loading.signal.aborted) return;
      this.#loading = null;
      const status = (err as { status?: number }).status ?? 0;
      if (status === 401) {
        this.#state = 'login';
        this.#error = (err as Error).message;
        this.#problem = syncProblemOf(err);
        reportSessionExpired();
        return;
      }
      if (err instanceof FirstLoadRefused && status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // A gateway without the first-load read (or a refusal of it): the replicator does the whole
        // sync, as before. Its pull starts from nothing, so nothing loaded so far is lost.
        localStorage.removeItem(this.#loadKey);
        this.#startSync();
        return;
      }
      this.#state = navigator.onLine ? 'error' : 'offline';
      this.#problem = syncProblemOf(err);
      this.#error = (err as { message?: string }).message ?? String(err);
      this.#loadBackoff = Math.min(MAX_BACKOFF_MS, this.#loadBackoff ? this.#loadBackoff * 2 : 1000);
      this.#loadRetry = setTimeout(() => this.start(), this.#loadBackoff);
    }
  }

  #startSync(): void {
    // Each batch's documents come with its changes (changes-with-docs.ts): no ids sent up to ask for them.
    // Guarded: a pull whose read of changes failed must not go on past what it had read ahead (pull-guard.ts).
    const remote = guardPullSource(new PouchDB<T>(`${location.origin}/sync/${this.name}`, { skip_setup: true, fetch: changesWithDocs((input, init) => fetch(input, init)) } as PouchDB.Configuration.RemoteDatabaseConfiguration));
    const from = JSON.parse(localStorage.getItem(this.#syncFromKey) ?? 'null') as SyncStart | null;
    const options = {
      live: true,
      retry: true,
      // Each batch cost round trips (_bulk_get, then the checkpoint read and written on the server):
      // at 300 ms a trip and 1 Mbit/s, batches of 100 made a commune's 50,000 documents a 22-minute
      // first sync; batches of 1,000 and the gateway's gzip, 4 minutes (bench/replica.mjs). A batch
      // is ~0.5 MB of JSON, ~100 KB gzip; the gateway's read of a batch with its documents takes
      // 1,000 rows at most (changes-with-docs.ts).
      batch_size: 1000,
      back_off_function: (delay: number) => Math.min(MAX_BACKOFF_MS, delay === 0 ? 1000 : delay * 2),
      // The pull's checkpoint stays on both sides although the server's copy costs two round trips a
      // batch (bench/replica.mjs, the day's delta): a commune database restored from a backup or
      // recreated has no checkpoint of its own (local documents are not replicated), and that is how
      // PouchDB knows to read it again from the start instead of trusting a sequence from the old
      // database. Right after a first load, each direction starts where the load left it.
      pull: {
        ...(from ? { since: from.pull } : {})
      },
      push: {
        filter: this.#skipPulled,
        ...(from ? { since: from.push } : {})
      }
    };
    const handle = (
      this.mode === 'sync'
        ? this.db.sync(remote, options)
        : // Public databases: the checkpoint stays here, the gateway takes no writes from readers.
          this.db.replicate.from(remote, { ...options, checkpoint: 'target' } as PouchDB.Replication.ReplicateOptions)
    ) as unknown as Emitter;
    this.#handle = handle;
    handle
      .on('active', () => {
        this.#state = 'syncing';
        this.#error = null;
      })
      .on('paused', (err?: unknown) => {
        if (err) {
          this.#state = navigator.onLine ? 'error' : 'offline';
          this.#problem = syncProblemOf(err);
          this.#error = (err as { message?: string }).message ?? String(err);
          return;
        }
        this.#problem = null;
        if (navigator.onLine) this.#pendingDown = 0;
        this.#state = navigator.onLine ? 'done' : 'offline';
        if (navigator.onLine) {
          this.#markSynced();
          void this.#markCaughtUp();
        } else void this.countPending();
      })
      .on('change', (info?: unknown) => {
        // A sync's change says its direction; a one-way pull's change is the pull itself.
        const i = info as { direction?: string; change?: { pending?: number; docs?: { _id: string; _rev?: string }[] }; pending?: number } | undefined;
        if (i?.direction === 'pull') this.#notePulled(i.change?.docs);
        const pending = i?.direction ? (i.direction === 'pull' ? i.change?.pending : undefined) : i?.pending;
        if (typeof pending === 'number') this.#pendingDown = pending;
        // Only what went up changes what waits to go up. Counting after every pulled batch cost about
        // a second of CPU each during a first sync (bench/replica.mjs), and counted the pulled
        // documents as waiting until the sync caught up.
        if (i?.direction === 'push') this.#countSoon();
      })
      .on('denied', (err: unknown) => {
        const e = err as { id?: string; reason?: string; message?: string };
        this.#refused = [...this.#refused, { id: e.id ?? '?', reason: e.reason ?? e.message ?? 'refused' }].slice(-20);
      })
      .on('error', (err: unknown) => {
        const status = (err as { status?: number }).status;
        this.#state = status === 401 ? 'login' : 'error';
        this.#error = (err as { message?: string }).message ?? String(err);
        this.#problem = syncProblemOf(err);
        this.#handle = null;
        if (status === 401) reportSessionExpired();
      });
    void this.countPending();
  }

  stop(): void {
    this.#loading?.abort();
    this.#loading = null;
    clearTimeout(this.#loadRetry);
    this.#handle?.cancel();
    this.#handle = null;
    this.#state = 'idle';
  }

  /** Restarts replication now (a reconnect, a fresh login), instead of waiting for the back-off. */
  restart(): void {
    this.stop();
    this.start();
  }

  #countTimer: ReturnType<typeof setTimeout> | undefined;

  /** Revisions the pull wrote and the push has not read yet ("id rev"). */
  #pulled = new Set<string>();

  /**
   * The push's filter. What the pull just wrote is the server's: asking the server about it again
   * (`_revs_diff`) sent as many bytes up as a day's delta brought down (bench/replica.mjs). A
   * revision written by the pull is noted before the push reads it (#notePulled); one missed is
   * offered back, as before, so nothing written here can be skipped. Its name is fixed: PouchDB
   * keys the push's checkpoint by the filter's text, which a new build of the app would change.
   */
  readonly #skipPulled = Object.assign((doc: { _id: string; _rev?: string }) => !this.#pulled.delete(`${doc._id} ${doc._rev}`), {
    toString: () => 'lv:skip-revisions-just-pulled'
  });

  /**
   * The pull's change event comes as soon as its batch is written; the push reads the same changes
   * from IndexedDB after that, so the note is there first. Bounded: a note never read (the push
   * stopped) only costs a revision offered back.
   */
  #notePulled(docs: { _id: string; _rev?: string }[] | undefined) {
    if (!docs) return;
    if (this.#pulled.size > 50_000) this.#pulled.clear();
    for (const doc of docs) this.#pulled.add(`${doc._id} ${doc._rev}`);
  }

  /** A first sync brings thousands of changes: count once they settle, not once per batch. */
  /** After a write on this device: what waits to go up has grown (the sync bar says so, offline too). */
  noteLocalWrite(): void {
    if (this.mode === 'sync') this.#countSoon();
  }

  #countSoon() {
    clearTimeout(this.#countTimer);
    this.#countTimer = setTimeout(() => void this.countPending(), 500);
  }

  #markSynced() {
    this.#lastSync = Date.now();
    localStorage.setItem(`lv.lastSync.${this.name}`, String(this.#lastSync));
  }

  /**
   * Counts local documents the server does not have yet: changes since the last moment both
   * directions were caught up. Offline, nothing is pulled, so every change since then is a local
   * write waiting to go up.
   */
  async countPending(): Promise<number> {
    if (this.mode !== 'sync') return 0;
    // During a first load, what it wrote is the server's: only writes after its last page wait to go up.
    const load = JSON.parse(localStorage.getItem(this.#loadKey) ?? 'null') as FirstLoadProgress | null;
    const since = load ? String(load.localSeq) : (localStorage.getItem(`lv.pushedSeq.${this.name}`) ?? '0');
    const round = this.#caughtUp;
    const changes = await this.db.changes({ since: Number(since) || 0, limit: 10_000, return_docs: true });
    // Caught up while this was read: the count is from before, and would leave "1 waiting" behind.
    if (round !== this.#caughtUp) return this.#pendingUp;
    this.#pendingUp = changes.results.length;
    return this.#pendingUp;
  }

  async #markCaughtUp() {
    const info = await this.db.info();
    localStorage.setItem(`lv.pushedSeq.${this.name}`, String(info.update_seq));
    // Both directions have written checkpoints past where the first load left them.
    localStorage.removeItem(this.#syncFromKey);
    this.#pendingUp = 0;
    this.#caughtUp++;
  }
}

/**
 * A live reading of local databases: loaded once, then again when they change (only for ids that
 * `concerns`, when given), debounced because a sync brings changes in bursts.
 */
export function liveQuery<T, D extends object>(databases: readonly PouchDB.Database<D>[], load: () => Promise<T>, concerns?: (id: string) => boolean): Readable<T | undefined> {
  return readable<T | undefined>(undefined, (set) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => void load().then(set);
    run();
    const feeds = databases.map((db) =>
      db.changes({ live: true, since: 'now' }).on('change', (change) => {
        if (concerns && !concerns(change.id)) return;
        clearTimeout(timer);
        timer = setTimeout(run, 150);
      })
    );
    return () => {
      clearTimeout(timer);
      feeds.forEach((f) => f.cancel());
    };
  });
}

const replicas = new Map<string, Replica>();

export function replica<T extends object = Record<string, unknown>>(name: string, mode: 'sync' | 'pull'): Replica<T> {
  let r = replicas.get(name);
  if (!r) {
    r = new Replica(name, mode);
    replicas.set(name, r);
    r.start();
  }
  return r as unknown as Replica<T>;
}

export function allReplicas(): Replica[] {
  return [...replicas.values()];
}

if (typeof window !== 'undefined') {
  addEventListener('online', () => {
    for (const r of replicas.values()) if (r.state !== 'login') r.restart();
  });
}

/**
 * The local databases of an account's scope: the commune replicas (venues, station entries, cases,
 * contacts, arrivals: names and phone numbers). The unit directory is public and stays, as citizens'
 * forms use it too.
 */
const ACCOUNT_DB = /^lv_c_/;
/** PouchDB's IndexedDB adapter stores database `x` as `_pouch_x`. */
const IDB_PREFIX = '_pouch_';
/** What the device noted about those databases and the team's work (sync marks, cached counts, last checkpoint, contact). */
const ACCOUNT_KEYS = [/^lv\.(lastSync|pushedSeq|firstLoad|syncFrom)\.lv_c_/, /^lv\.team\./, /^lv\.checkpoint\./];

/**
 * Records on this device the server does not have yet, across every commune replica this device
 * holds (opened on this screen or not): what signing out would lose.
 */
export async function countWaiting(): Promise<number> {
  const names = await accountDatabases();
  const counts = await Promise.all(
    names.map(async (name) => {
      const open = replicas.get(name);
      if (open) return open.countPending();
      // Not open on this screen: counted without starting its sync, then closed.
      const closed = new Replica(name, 'sync');
      const n = await closed.countPending();
      await closed.db.close();
      return n;
    })
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Names of the account's databases on this device: those open now and those left by earlier visits. */
async function accountDatabases(): Promise<string[]> {
  const names = new Set([...replicas.keys()].filter((n) => ACCOUNT_DB.test(n)));
  const stored = (await indexedDB.databases?.().catch(() => [])) ?? [];
  for (const { name } of stored) {
    const local = name?.startsWith(IDB_PREFIX) ? name.slice(IDB_PREFIX.length) : '';
    if (ACCOUNT_DB.test(local)) names.add(local);
  }
  return [...names];
}

/**
 * Removes the account's shared data from this device (sign-out, or another account signing in):
 * every commune replica, open or not, and what the device noted about them. A shared phone must not
 * keep the names and phone numbers of a commune's people for the next person who picks it up.
 */
export async function destroyReplicas(): Promise<void> {
  const names = await accountDatabases();
  for (const name of names) {
    const open = replicas.get(name);
    open?.stop();
    replicas.delete(name);
    const db = open?.db ?? new PouchDB(name);
    await db.destroy().catch(() => {});
  }
  for (const key of Object.keys(localStorage)) if (ACCOUNT_KEYS.some((k) => k.test(key))) localStorage.removeItem(key);
}
