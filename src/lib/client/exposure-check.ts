/**
 * The on-device tracing check (DESIGN §7): fetch the signed exposure snapshots of the provinces that
 * matter to this phone (the changes since the version held, once a list is held), check their
 * signatures, match the events against the diary, and keep one alert per match.
 *
 * What goes over the network is only what every phone asks for: the commune → province table, the
 * key list, and province snapshots, with the public version of the list held. Which provinces is
 * the only thing a request can tell, and the home province is always among them. No venue id, no
 * visit time, no cookie.
 *
 * This module runs in the page and in the service worker (periodic background sync), so it keeps
 * its state in IndexedDB, never in localStorage, and takes keys and notifications from its caller.
 */
import Dexie, { type EntityTable } from 'dexie';
import { matchExposures, type ExposureEvent } from '$lib/core/exposure/exposure';
import { applySnapshot, verifySnapshot } from '$lib/core/exposure/snapshot-format';
import { MAX_EXPOSURE_AGE } from '$lib/core/exposure/exposure-rules';
import { reconcileAlerts, type ExposureAlert } from '$lib/core/exposure/exposure-alerts';
import { provinceOfCommune, readProvinceTable, type ProvinceTable } from '$lib/core/province-table';
import type { PublicKey } from '$lib/core/venue/venue-token';
import type { Visit } from '$lib/core/citizen/visit';
import { diaryDb } from './diary';

/** A verified event as the app of before version 2 of this database kept it, one row each (read once, by the upgrade). */
interface StoredEvent {
  eventId: string;
  province: string;
  /** the key that signed it (its snapshot's, or its own in the old per-event list) */
  keyId: string;
  /** rows stored from the old per-event list carry their own signature; rows from a compact snapshot do not */
  signature?: string;
  event: ExposureEvent;
}

/**
 * A province's verified events, as one record. IndexedDB pays per record: in Chromium, writing
 * 10,000 rows took 2.7–3.0 s and deleting them by province 1.8–2.1 s, reading them back 0.5–0.7 s,
 * against 0.2 s to write the same events as one record and 0.1 s to read it.
 */
interface StoredList {
  province: string;
  /** the key that signed the snapshot they came from */
  keyId: string;
  events: ExposureEvent[];
}

interface StoredSnapshot {
  province: string;
  /**
   * the compact snapshot's version the list is at; missing on a list stored from the old
   * per-event format (/api/exposures/<province>), which is matched until a compact one replaces it
   */
  version?: number;
  /** the last answer's ETag, and the address it answered (for If-None-Match at the same address only) */
  etag: string | null;
  etagUrl?: string;
  fetchedAt: number;
  /** how many events the list holds, for the status line without reading the list */
  events?: number;
}

interface MetaRow {
  key: string;
  value: unknown;
}

class ExposureDb extends Dexie {
  /** emptied by the upgrade to version 2: the lists are in `lists` */
  events!: EntityTable<StoredEvent, 'eventId'>;
  lists!: EntityTable<StoredList, 'province'>;
  snapshots!: EntityTable<StoredSnapshot, 'province'>;
  alerts!: EntityTable<ExposureAlert, 'key'>;
  meta!: EntityTable<MetaRow, 'key'>;

  constructor() {
    super('luu-vet-exposures');
    this.version(1).stores({ events: 'eventId, province', snapshots: 'province', alerts: 'key', meta: 'key' });
    // A phone updated from an app that kept one row an event keeps matching the list it holds,
    // offline too: the rows become one list a province, at the version they were at.
    this.version(2)
      .stores({ events: 'eventId, province', lists: 'province', snapshots: 'province', alerts: 'key', meta: 'key' })
      .upgrade(async (tx) => {
        const byProvince = new Map<string, StoredList>();
        await tx.table<StoredEvent, string>('events').each((row) => {
          const list = byProvince.get(row.province) ?? { province: row.province, keyId: row.keyId, events: [] };
          list.events.push(row.event);
          byProvince.set(row.province, list);
        });
        await tx.table<StoredList, string>('lists').bulkPut([...byProvince.values()]);
        await tx.table<StoredSnapshot, string>('snapshots').toCollection().modify((s) => {
          s.events = byProvince.get(s.province)?.events.length ?? 0;
        });
        await tx.table('events').clear();
      });
  }
}

export const exposureDb = new ExposureDb();

export interface CheckStatus {
  /**
   * when the events were last brought up to date from the server (null: never). This, not when a
   * check ran, is how fresh the answer is: offline, a check only compares with what was downloaded.
   */
  lastFetchedAt: number | null;
  /** when the diary was last matched against the events held (null: never) */
  lastCheckedAt: number | null;
  /** provinces whose events this phone holds */
  provinces: string[];
  eventsHeld: number;
  /** the last fetch failed: offline, or the server answered with something that is not a snapshot */
  fetchFailed: boolean;
  /** when a check last tried the server and could not get the list (null: never) */
  lastFailedAt: number | null;
  /** lists refused at the last check because their signature did not hold (the list held before is kept) */
  rejected: number;
}

export interface CheckDeps {
  /** the trusted keys; `refresh` asks for the server's current list (an event signed by an unknown key) */
  keys(refresh: boolean): Promise<PublicKey[]>;
  /** tells the citizen about new alerts (a system notification) */
  notify(raised: ExposureAlert[]): Promise<void>;
  /** skip the network: match what is held (after a check-in, or offline) */
  offline?: boolean;
  now?: number;
}

const FETCH_TIMEOUT_MS = 30_000;
/** The province table changes when an admin imports units: a day old is fresh enough. */
const TABLE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

async function meta<T>(key: string): Promise<T | undefined> {
  return (await exposureDb.meta.get(key))?.value as T | undefined;
}

function setMeta(key: string, value: unknown): Promise<unknown> {
  return exposureDb.meta.put({ key, value });
}

export async function homeProvince(): Promise<string | null> {
  return (await meta<string | null>('homeProvince')) ?? null;
}

export async function setHomeProvince(code: string | null): Promise<void> {
  await setMeta('homeProvince', code);
}

/** The provinces of the held table, for pickers and for naming what is watched ([] before the first fetch). */
export async function knownProvinces(): Promise<{ code: string; name: string }[]> {
  return (await meta<{ table: ProvinceTable }>('provinceTable'))?.table.provinces ?? [];
}

/** Fetches the province table if none is held yet (the settings picker needs it before any check). */
export async function ensureProvinceTable(): Promise<{ code: string; name: string }[]> {
  const { table } = await provinceTable(false, Date.now());
  return table?.provinces ?? [];
}

export async function checkStatus(): Promise<CheckStatus> {
  const snapshots = await exposureDb.snapshots.toArray();
  return {
    lastFetchedAt: (await meta<number>('lastFetchedAt')) ?? null,
    lastCheckedAt: (await meta<number>('lastCheckedAt')) ?? null,
    provinces: snapshots.map((s) => s.province).sort(),
    eventsHeld: snapshots.reduce((n, s) => n + (s.events ?? 0), 0),
    fetchFailed: (await meta<boolean>('fetchFailed')) ?? false,
    lastFailedAt: (await meta<number>('lastFailedAt')) ?? null,
    rejected: (await meta<number>('rejected')) ?? 0
  };
}

export function currentAlerts(): Promise<ExposureAlert[]> {
  return exposureDb.alerts.toArray().then((alerts) => alerts.sort((a, b) => b.event.from - a.event.from || a.key.localeCompare(b.key)));
}

export async function markHandled(key: string, handled: boolean, now = Date.now()): Promise<void> {
  await exposureDb.alerts.update(key, { handledAt: handled ? now : null });
}

/**
 * The province table, from the network when the held one is old; `table` is null when there is none
 * at all, `unreachable` when the network was needed and failed.
 */
async function provinceTable(offline: boolean, now: number): Promise<{ table: ProvinceTable | null; unreachable: boolean }> {
  const held = await meta<{ table: ProvinceTable; etag: string | null; fetchedAt: number }>('provinceTable');
  if (offline || (held && now - held.fetchedAt < TABLE_MAX_AGE_MS)) return { table: held?.table ?? null, unreachable: false };
  const fallback = { table: held?.table ?? null, unreachable: true };
  try {
    const res = await fetch('/api/provinces', {
      credentials: 'omit',
      cache: 'no-store',
      headers: held?.etag ? { 'If-None-Match': held.etag } : {},
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
    });
    if (res.status === 304 && held) {
      await setMeta('provinceTable', { ...held, fetchedAt: now });
      return { table: held.table, unreachable: false };
    }
    const table = res.ok ? readProvinceTable(await res.json()) : null;
    if (!table) return fallback;
    await setMeta('provinceTable', { table, etag: res.headers.get('ETag'), fetchedAt: now });
    return { table, unreachable: false };
  } catch {
    return fallback;
  }
}

/** Visits that can match: from a venue code that verified, or that is waiting for its key. */
function matchableVisits(visits: Visit[]): Visit[] {
  return visits.filter((v) => v.venueId && (v.verification === 'verified' || v.verification === 'pending'));
}

/** Provinces to hold events for: where the diary's visits were, and home. */
function wantedProvinces(visits: Visit[], table: ProvinceTable | null, home: string | null): Set<string> {
  const wanted = new Set<string>(home ? [home] : []);
  if (table) for (const v of visits) if (v.communeCode) {
    const province = provinceOfCommune(table, v.communeCode);
    if (province) wanted.add(province);
  }
  return wanted;
}

interface Refreshed {
  /** lists refused: their signature did not hold, or they were for another province */
  rejected: number;
  /** the province's list as now held, when this refresh has it in memory (the matching then need not read it back) */
  list?: ExposureEvent[];
  /** the held list is now the server's current one (false: a list was refused, the held one kept) */
  fresh: boolean;
}

/** The trusted keys for one check: asked for once, at its start, while the lists download. */
interface CheckKeys {
  held: Promise<PublicKey[]>;
  /** the server's current list, for a key id not held (asked for at most once a check) */
  fresh(): Promise<PublicKey[]>;
}

function checkKeys(deps: CheckDeps): CheckKeys {
  let fresh: Promise<PublicKey[]> | null = null;
  // A failure here is a list that cannot be checked yet (unknown key), never a crash of the check.
  const held = deps.keys(false).catch(() => []);
  return { held, fresh: () => (fresh ??= deps.keys(true).catch(() => [])) };
}

/**
 * Brings one province's events up to date from the compact snapshot (LVS2, snapshot-format.ts): the
 * changes since the version held, or the whole list when none is held (or only a list in the old
 * per-event format, which stays in use until this replaces it). A version from an LVS1 snapshot is
 * a version all the same: the delta since it is asked for. One signature checks the whole answer;
 * a forged or altered one is refused and the held list kept. Null when the fetch failed.
 */
async function refreshProvince(province: string, keys: CheckKeys, now: number, wholeList = false): Promise<Refreshed | null> {
  const held = await exposureDb.snapshots.get(province);
  const since = wholeList ? undefined : held?.version;
  const url = `/api/exposures/${province}/snapshot/v2${since === undefined ? '' : `?since=${since}`}`;
  // The list held is read while the network works: a delta applies to it, and after a 304 or an
  // empty delta it is what the check matches (reading 10,000 events takes about 0.1 s).
  const heldList = since === undefined ? Promise.resolve(undefined) : exposureDb.lists.get(province);
  heldList.catch(() => {}); // awaited below where needed; not an unhandled rejection when it is not
  let res: Response;
  let bytes: Uint8Array | null = null;
  try {
    res = await fetch(url, {
      credentials: 'omit',
      cache: 'no-store',
      headers: held?.etag && held.etagUrl === url ? { 'If-None-Match': held.etag } : {},
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS)
    });
    if (res.ok) bytes = new Uint8Array(await res.arrayBuffer());
  } catch {
    return null; // offline, or cut off mid-download
  }
  if (bytes) mark(province, 'downloaded');
  if (res.status === 304 && held) {
    await exposureDb.snapshots.put({ ...held, fetchedAt: now });
    return { rejected: 0, fresh: true, list: (await heldList)?.events };
  }
  if (!bytes) return null;

  let checked = await verifySnapshot(bytes, await keys.held, province);
  // A key this phone has not heard of yet: the server's current key list decides.
  if (!checked.ok && checked.reason === 'unknown-key') checked = await verifySnapshot(bytes, await keys.fresh(), province);
  if (!checked.ok) return checked.reason === 'not-snapshot' ? null : { rejected: 1, fresh: false };
  const { content } = checked;
  mark(province, 'verified');

  // A delta that does not follow from the list held (it cannot, unless the server's data went back): ask for the whole list once.
  if (!applySnapshot({ version: held?.version ?? null, events: [] }, content)) return wholeList ? { rejected: 0, fresh: false } : refreshProvince(province, keys, now, true);
  let events = content.events;
  if (content.kind === 'delta') {
    // An empty delta changes nothing: the list is not read nor written again.
    const heldEvents = (await heldList)?.events;
    // A version without its list (storage cleared in part): only the whole list can be trusted.
    if (!heldEvents) return wholeList ? { rejected: 0, fresh: false } : refreshProvince(province, keys, now, true);
    if (events.length === 0 && content.withdrawn.length === 0) {
      await exposureDb.snapshots.put({ ...held!, version: content.version, etag: res.headers.get('ETag'), etagUrl: url, fetchedAt: now });
      return { rejected: 0, fresh: true, list: heldEvents };
    }
    const list = applySnapshot({ version: held!.version!, events: heldEvents }, content)!;
    events = list.events;
  }
  // Withdrawals reach phones in deltas; retention's deletions do not: an event too old to match any diary goes when the list is written.
  const oldest = now - MAX_EXPOSURE_AGE;
  const stored = events.filter((e) => e.to >= oldest);
  await exposureDb.transaction('rw', exposureDb.lists, exposureDb.snapshots, async () => {
    await exposureDb.lists.put({ province, keyId: checked.keyId, events: stored });
    // The ETag goes with the address asked: the next check asks again at it only when the version did not move.
    await exposureDb.snapshots.put({ province, version: content.version, etag: res.headers.get('ETag'), etagUrl: url, fetchedAt: now, events: stored.length });
  });
  mark(province, 'stored');
  return { rejected: 0, fresh: true, list: stored };
}

/** Where a check's time goes, for bench/snapshot.mjs (User Timing marks: no cost to speak of, nothing sent anywhere). */
function mark(province: string, step: string): void {
  globalThis.performance?.mark?.(`lv-exposures:${province}:${step}`);
}

let running: Promise<CheckStatus> | null = null;

/** Runs the check; concurrent calls share one run. */
export function runExposureCheck(deps: CheckDeps): Promise<CheckStatus> {
  running ??= check(deps).finally(() => (running = null));
  return running;
}

async function check(deps: CheckDeps): Promise<CheckStatus> {
  const now = deps.now ?? Date.now();
  const offline = deps.offline ?? false;
  const visits = matchableVisits(await diaryDb.visits.toArray());
  const inMemory = new Map<string, ExposureEvent[]>();
  if (!offline) {
    // Round trips in parallel, not one after the other: the key list, the province table, and the
    // home province's list (known without the table) start at once; the lists of the provinces
    // visited follow the table, all together.
    const keys = checkKeys(deps);
    const home = await homeProvince();
    const homeRefresh = home ? refreshProvince(home, keys, now) : null;
    homeRefresh?.catch(() => {}); // awaited below with the others; not an unhandled rejection meanwhile
    const { table, unreachable } = await provinceTable(false, now);
    const wanted = wantedProvinces(visits, table, home);
    // Without the server, nothing was downloaded, even when no province is watched yet.
    let failed = unreachable || (table === null && visits.length > 0);
    let rejected = 0;
    let fresh = true;
    const provinces = [...wanted];
    const results = await Promise.all(provinces.map((province) => (province === home && homeRefresh ? homeRefresh : refreshProvince(province, keys, now))));
    results.forEach((result, i) => {
      if (result === null) failed = true;
      else {
        rejected += result.rejected;
        fresh &&= result.fresh;
        if (result.list) inMemory.set(provinces[i]!, result.list);
      }
    });
    // Provinces no longer visited (retention deleted those visits): their events go too.
    const dropped = (await exposureDb.snapshots.toCollection().primaryKeys()).filter((p) => !wanted.has(p));
    if (dropped.length) {
      await exposureDb.lists.bulkDelete(dropped);
      await exposureDb.snapshots.bulkDelete(dropped);
    }
    await setMeta('fetchFailed', failed);
    await setMeta('rejected', rejected);
    // A refused list is no failure to connect, but the list held is not today's either.
    if (!failed && fresh) await setMeta('lastFetchedAt', now);
    else if (failed) await setMeta('lastFailedAt', now);
  }
  // The lists the refreshes hold in memory are matched as they are; only the others are read.
  const others = (await exposureDb.lists.toCollection().primaryKeys()).filter((p) => !inMemory.has(p));
  const lists = [...inMemory.values(), ...(await exposureDb.lists.bulkGet(others)).map((l) => l?.events ?? [])];
  // An event too old to match any diary is not matched; it leaves the list the next time the list is written.
  const oldest = now - MAX_EXPOSURE_AGE;
  const events = lists.flat().filter((e) => e.to >= oldest);
  const previous = await exposureDb.alerts.toArray();
  const { alerts, raised, cleared } = reconcileAlerts(previous, matchExposures(visits, events), now);
  await exposureDb.transaction('rw', exposureDb.alerts, async () => {
    await exposureDb.alerts.bulkDelete(cleared.map((a) => a.key));
    await exposureDb.alerts.bulkPut(alerts);
  });
  await setMeta('lastCheckedAt', now);
  if (raised.length) await deps.notify(raised);
  return checkStatus();
}
