/**
 * Saving a check-in into the diary with IndexedDB alone, for the cold check-in link: Dexie is a third
 * of the JavaScript a phone downloads before its visit is saved, and a person stands at a door on 2G.
 * The same database, store and indexes as diary.ts declares through Dexie (Dexie's version 1 is
 * IndexedDB version 10), the same rules (core/citizen/visit: a repeat within minutes is the same
 * visit, a new one ends the visits left open), in one transaction. Everything else in the diary goes
 * through diary.ts; where this path cannot open the database (a newer schema), it hands over to it.
 */
import { closuresAfter, findRepeatCheckin, scannedVisit, REPEAT_CHECKIN_WINDOW, type Visit } from '$lib/core/citizen/visit';
import { loadedDexieWriter, type CheckinInput, type CheckinResult } from './diary-writer';

/** diary.ts: `new Dexie('luu-vet-diary')`, `version(1).stores({ visits: 'id, checkin, venueId, verification' })`. */
export const DIARY_DB = 'luu-vet-diary';
export const DIARY_IDB_VERSION = 10;
export const VISIT_INDEXES = ['checkin', 'venueId', 'verification'] as const;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDiary(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DIARY_DB, DIARY_IDB_VERSION);
    open.onupgradeneeded = (event) => {
      // Only a phone with no diary yet: any other upgrade is Dexie's, from diary.ts.
      if (event.oldVersion !== 0) {
        open.transaction?.abort();
        return;
      }
      const visits = open.result.createObjectStore('visits', { keyPath: 'id' });
      for (const index of VISIT_INDEXES) visits.createIndex(index, index);
    };
    open.onsuccess = () => {
      const db = open.result;
      // Dexie (diary.ts) may open it at a later version: let it.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    open.onerror = () => reject(open.error);
    open.onblocked = () => reject(new Error('diary blocked'));
  });
}

export async function saveVenueCheckin(input: CheckinInput): Promise<CheckinResult> {
  // Dexie already holds the diary in this page (the in-app scanner, a link opened in a running app).
  const dexie = loadedDexieWriter();
  if (dexie) return dexie(input);
  let db: IDBDatabase;
  try {
    db = await openDiary();
  } catch {
    return (await import('./diary')).recordVenueCheckin(input);
  }
  try {
    const now = input.now ?? Date.now();
    const tx = db.transaction('visits', 'readwrite');
    const store = tx.objectStore('visits');
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('diary transaction aborted'));
    });
    const recent = (await request(store.index('checkin').getAll(IDBKeyRange.lowerBound(now - REPEAT_CHECKIN_WINDOW, true)))) as Visit[];
    const repeat = findRepeatCheckin(recent, input.claims.venueId, now);
    if (repeat) {
      await done;
      return { visit: repeat, repeated: true, closed: [] };
    }
    const visit = scannedVisit(input, crypto.randomUUID(), now);
    await request(store.add(visit));
    const all = (await request(store.getAll())) as Visit[];
    const closed = closuresAfter(all);
    const byId = new Map(all.map((v) => [v.id, v]));
    for (const c of closed) {
      const earlier = byId.get(c.visitId);
      if (earlier) store.put({ ...earlier, checkout: c.checkout });
    }
    await done;
    return { visit, repeated: false, closed };
  } finally {
    db.close();
  }
}
