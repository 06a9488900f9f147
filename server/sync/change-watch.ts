/**
 * One watch of the store per database, shared by every client waiting for changes there.
 *
 * Opening a long-poll costs the embedded store 15–20 ms of CPU (a plain `_changes` read 3–4 ms),
 * and phones on the unit picker open theirs together: 200 of them, relayed one to one, returned
 * together at the bound and opened again together, and the store stalled every other request for
 * a second or two each time (bench/longpoll.mjs). Here a database has at most one long-poll open
 * to the store, whatever the number of clients; a change wakes every client waiting on it, and
 * each reads what it may see with a plain read.
 */
import type { Store } from '../store/couch';
import { deadline } from '../deadline';

export interface Waiting {
  /** True when the database changed, false at the deadline (or when the wait was given up). */
  readonly changed: Promise<boolean>;
  /** Stops waiting (the client got its answer another way). */
  cancel(): void;
}

interface Watch {
  waiters: Set<(changed: boolean) => void>;
  running: boolean;
}

/** Pause after the store failed a watch, before trying again (waiting clients keep their own deadline). */
const RETRY_MS = 1_000;

export class ChangeWatch {
  readonly #watches = new Map<string, Watch>();

  constructor(
    private readonly store: Store,
    /** The longest one store long-poll is left open (the embedded store ignores `timeout`). */
    private readonly boundMs: number,
    /** Aborted at shutdown: every waiter is let go. */
    private readonly closing: AbortSignal
  ) {
    closing.addEventListener('abort', () => {
      for (const watch of this.#watches.values()) this.#wake(watch, false);
    });
  }

  /**
   * Registers a waiter now; it resolves at the next change of `db` seen by the shared watch, or
   * false when `deadline` aborts. Register BEFORE reading the changes the client may already have
   * missed: a change between that read and the wait is then caught by one or the other.
   */
  wait(db: string, deadline: AbortSignal): Waiting {
    let watch = this.#watches.get(db);
    if (!watch) this.#watches.set(db, (watch = { waiters: new Set(), running: false }));
    const w = watch;
    let settle!: (changed: boolean) => void;
    const changed = new Promise<boolean>((resolve) => (settle = resolve));
    const done = (value: boolean) => {
      w.waiters.delete(done);
      deadline.removeEventListener('abort', onAbort);
      settle(value);
    };
    const onAbort = () => done(false);
    if (deadline.aborted || this.closing.aborted) done(false);
    else {
      w.waiters.add(done);
      deadline.addEventListener('abort', onAbort, { once: true });
      if (!w.running) void this.#run(db, w);
    }
    return { changed, cancel: () => done(false) };
  }

  /** Clients waiting now, over all databases. */
  get waiting(): number {
    let n = 0;
    for (const watch of this.#watches.values()) n += watch.waiters.size;
    return n;
  }

  #wake(watch: Watch, changed: boolean) {
    for (const done of [...watch.waiters]) done(changed);
  }

  /** The shared long-poll of one database, for as long as anyone waits on it. */
  async #run(db: string, watch: Watch) {
    watch.running = true;
    // A real sequence to wait from, so that nothing slips between one store long-poll and the next.
    let since = 'now';
    try {
      const now = await this.store.request('GET', `${db}/_changes`, { query: new URLSearchParams({ since: 'now' }) });
      const seq = (now.body as { last_seq?: unknown } | null)?.last_seq;
      if (now.status === 200 && seq !== undefined) since = typeof seq === 'string' ? seq : String(seq);
    } catch {
      // The store is not answering: the loop below tries again.
    }
    try {
      while (watch.waiters.size > 0 && !this.closing.aborted) {
        const limit = deadline(this.boundMs, this.closing);
        const bound = limit.signal;
        try {
          const res = await this.store.request('GET', `${db}/_changes`, {
            query: new URLSearchParams({ feed: 'longpoll', since, timeout: String(this.boundMs) }),
            signal: bound,
            pool: 'longpoll',
            timeoutMs: this.boundMs + 10_000
          });
          if (res.status !== 200) throw new Error(`watching ${db} answered ${res.status}`);
          const body = res.body as { results?: unknown[]; last_seq?: unknown };
          since = typeof body.last_seq === 'string' ? body.last_seq : String(body.last_seq ?? since);
          if ((body.results ?? []).length > 0) this.#wake(watch, true);
        } catch {
          // At the bound the long-poll is opened again (the store may have ignored its timeout);
          // a failing store is tried again shortly, while each client keeps its own deadline.
          if (!bound.aborted) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        } finally {
          limit.clear();
        }
      }
    } finally {
      watch.running = false;
      if (watch.waiters.size === 0) this.#watches.delete(db);
      else if (!this.closing.aborted) void this.#run(db, watch);
    }
  }
}
