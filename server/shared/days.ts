/**
 * State that every server instance must share and that matters for a day or two only: limit windows
 * (login failures, share-code guesses, tally senders) and the tallies' memory of batch ids.
 *
 * It lives in CouchDB, in one server-only database per Vietnamese day, `lv_shared_<yyyymmdd>`
 * (the gateway serves no such name). Why a database per day rather than one database: these are
 * many small documents (a claim per tally batch: up to 10^7 a day at national scale) that are worthless
 * after two days. Deleting documents leaves a tombstone each, for ever; deleting a database frees
 * everything at once, on the embedded store and on a cluster alike. Old days are dropped by the first
 * instance that opens a new day (`purge`): no job, no schedule.
 *
 * Ids never name a person: phone numbers and client addresses appear only as HMACs under keys
 * derived from the server secret (SESSION_SECRET, the same on every instance), and the day's
 * database goes with the day.
 */
import { createHmac } from 'node:crypto';
import { DAY, dayKey } from '../../src/lib/core/time';
import type { CouchResponse, Store } from '../store/couch';
import { storeFailed } from '../store/unavailable';

export const SHARED_DB_PREFIX = 'lv_shared_';
/**
 * Days kept: today and the three before. The longest memory is a tally batch's 48 hours, which
 * reaches into the day before yesterday.
 */
export const SHARED_DAYS_KEPT = 4;

export function sharedDbName(day: string): string {
  return SHARED_DB_PREFIX + day.replaceAll('-', '');
}

/** A key for ids: an HMAC of `text` under a key of its own `purpose`, derived from the server secret. */
export function secretKey(secret: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(`lv-shared:${purpose}`).digest());
}

export function hashed(key: Uint8Array, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url').slice(0, 22);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SharedDays {
  /** Day databases this process knows exist (made, or written to). */
  readonly #known = new Set<string>();
  #purgedFor: string | null = null;

  constructor(
    readonly store: Store,
    readonly now: () => number = Date.now,
    readonly log: (message: string) => void = () => {}
  ) {}

  /** The database of the Vietnamese day holding `ms`. */
  dbAt(ms: number): string {
    return sharedDbName(dayKey(ms));
  }

  /**
   * A write (PUT of a document, `_bulk_docs`) into a day's database, made on first need. Only a
   * missing database answers 404 to these; on a cluster a database just made by another instance
   * may take a moment to be known on every node, hence a few tries.
   */
  async write(method: 'PUT' | 'POST' | 'DELETE', db: string, path: string, body?: unknown, query?: URLSearchParams): Promise<CouchResponse> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.store.request(method, `${db}/${path}`, { body, query });
      // A cluster answers 500 for a moment after a database is made, or while a node is going
      // down: tried again, then a 503 for the client (try later), not a server fault.
      if (res.status >= 500) {
        if (attempt >= 4) throw storeFailed('writing shared state', res);
        await pause(50 * (attempt + 1));
        continue;
      }
      if (res.status !== 404 || attempt >= 4) {
        if (res.status < 300 || res.status === 409) this.#known.add(db);
        return res;
      }
      if (attempt) await pause(50 * attempt);
      try {
        await this.store.ensureDb(db);
      } catch (err) {
        // Another instance making the same day's database at the same moment: its _security write won.
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      }
      this.#known.add(db);
      void this.purge();
    }
  }

  /** A document, or null (also when its day's database does not exist yet). */
  async get<T>(db: string, id: string): Promise<T | null> {
    const res = await this.store.request('GET', `${db}/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw storeFailed('reading shared state', res);
    return res.body as T;
  }

  /** Documents by id from one day's database: absent ones are null. */
  async getMany<T>(db: string, ids: string[]): Promise<Map<string, T | null>> {
    const out = new Map<string, T | null>(ids.map((id) => [id, null]));
    if (!ids.length) return out;
    const res = await this.store.request('POST', `${db}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
    if (res.status === 404) return out;
    if (res.status !== 200) throw storeFailed('reading shared state', res);
    for (const row of (res.body as { rows?: { key: string; doc?: T | null }[] }).rows ?? []) if (row.doc) out.set(row.key, row.doc);
    return out;
  }

  /**
   * Drops the day databases older than SHARED_DAYS_KEPT days. Run when this process first opens a
   * new day; several instances doing it at once only meet 404s.
   */
  async purge(): Promise<number> {
    const today = dayKey(this.now());
    if (this.#purgedFor === today) return 0;
    this.#purgedFor = today;
    const oldest = sharedDbName(dayKey(this.now() - (SHARED_DAYS_KEPT - 1) * DAY));
    try {
      const res = await this.store.request('GET', '_all_dbs');
      if (res.status !== 200 || !Array.isArray(res.body)) return 0;
      const old = (res.body as string[]).filter((name) => name.startsWith(SHARED_DB_PREFIX) && /^lv_shared_[0-9]{8}$/.test(name) && name < oldest);
      for (const name of old) {
        const gone = await this.store.request('DELETE', name);
        if (gone.status >= 300 && gone.status !== 404) throw new Error(`deleting an old day of shared state answered ${gone.status}`);
        this.#known.delete(name);
      }
      return old.length;
    } catch (err) {
      this.#purgedFor = null;
      this.log(`purging old shared state failed: ${(err as Error).message}`);
      return 0;
    }
  }
}
