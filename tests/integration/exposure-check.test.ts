/**
 * The phone's exposure check (src/lib/client/exposure-check.ts) against the real server, with
 * IndexedDB from fake-indexeddb: a list stored by an app of before the compact snapshot (the
 * per-event format) is matched until the first compact download replaces it; a tampered snapshot is
 * refused and the held list kept; then only deltas go over the wire.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import type { PublishedExposureDoc } from '../../server/publisher';
import { decodeKeysDocument } from '../../src/lib/core/keys';
import type { SignedExposure } from '../../src/lib/core/exposure/exposure';
import { verifyExposures } from '../../src/lib/core/exposure/exposure-verify';
import { verifySnapshotV1 } from '../../src/lib/core/exposure/snapshot-format-v1';
import { MAX_EXPOSURE_AGE } from '../../src/lib/core/exposure/exposure-rules';
import type { ExposureAlert } from '../../src/lib/core/exposure/exposure-alerts';
import { makeVisit } from '../../src/lib/core/testing';
import type { PublicKey } from '../../src/lib/core/venue/venue-token';
import { localDb, login, remoteDb } from './sync-helpers';

const COMMUNE = '18070'; // province 42 in the demo directory
const VENUE = 'demochoducth';
const HOUR = 3_600_000;
const FROM = Math.floor(Date.now() / HOUR - 30) * HOUR; // a window of yesterday's

let server: RunningServer;
let dataDir: string;
let keys: PublicKey[];
let local: PouchDB.Database;
let remote: PouchDB.Database;
const asked: string[] = [];
/** The status of each answer to a snapshot request, in order. */
const answered: number[] = [];
/** Set by a test: what a man in the middle does to the next snapshot's bytes. */
let tamper: ((bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>) | null = null;
const realFetch = globalThis.fetch;

type CheckModule = typeof import('../../src/lib/client/exposure-check');
type DiaryModule = typeof import('../../src/lib/client/diary');
let check: CheckModule;
let diary: DiaryModule;

function draft(eventId: string, over: Record<string, unknown> = {}) {
  return {
    _id: `exposure:${VENUE}:${eventId}`,
    type: 'exposure',
    schema: 1,
    eventId,
    venueId: VENUE,
    venueName: 'Chợ Đức Thọ',
    communeCode: COMMUNE,
    from: FROM,
    to: FROM + 2 * HOUR,
    widenMinutes: 60,
    level: 'high',
    message: 'Ca F0 có mặt tại chợ',
    advice: 'Cách ly tại nhà, gọi trạm y tế',
    contactPhone: '0239123456',
    state: 'published',
    ...over
  };
}

async function push(...docs: Record<string, unknown>[]): Promise<void> {
  for (const doc of docs) {
    const existing = await local.get(doc._id as string).catch(() => null);
    await local.put({ ...doc, ...(existing ? { _rev: existing._rev } : {}) });
  }
  expect((await local.replicate.to(remote)).doc_write_failures).toBe(0);
}

/** The per-event list (the old format), once `ready` holds for it. */
async function legacyList(ready: (events: SignedExposure[]) => boolean): Promise<SignedExposure[]> {
  for (let i = 0; i < 100; i++) {
    const body = (await (await realFetch(`${server.url}/api/exposures/42`)).json()) as { events: SignedExposure[] };
    if (ready(body.events)) return body.events;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the list never showed what was awaited');
}

/** Moves every publication stamp back by two minutes: the compact snapshot's version then covers them (SETTLE_MS). */
async function settle(): Promise<void> {
  const res = await server.store.request('GET', 'lv_exposures/_all_docs', { query: new URLSearchParams({ include_docs: 'true', startkey: '"exp:"', endkey: '"exp:\ufff0"' }) });
  const docs = ((res.body as { rows: { doc: PublishedExposureDoc }[] }).rows ?? []).map((r) => ({ ...r.doc, publishedAt: (r.doc.publishedAt ?? 0) - 120_000 }));
  expect((await server.store.request('POST', 'lv_exposures/_bulk_docs', { body: { docs } })).status).toBe(201);
  await new Promise((r) => setTimeout(r, 1100)); // the server looks for changes once a second
}

const notified: ExposureAlert[][] = [];
const deps = (offline = false) => ({ offline, keys: async () => keys, notify: async (raised: ExposureAlert[]) => void notified.push(raised) });
const alertEvents = async () => (await check.currentAlerts()).map((a) => a.eventId).sort();

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-expcheck-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  await createUser(server.store, { phone: '0911000302', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  const { cookie } = await login(server.url, '0911000302', 'mat-khau-dai');
  local = localDb();
  remote = remoteDb(server.url, `lv_c_${COMMUNE}`, cookie);
  keys = decodeKeysDocument(await (await realFetch(`${server.url}/api/keys`)).json())!;

  const fake = await import('fake-indexeddb');
  Object.assign(globalThis, { indexedDB: fake.indexedDB, IDBKeyRange: fake.IDBKeyRange });
  // The phone's fetch: same-origin paths go to the test server; every address asked is noted. The
  // server in this process fetches its store with absolute addresses: those pass untouched.
  globalThis.fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith('/')) return realFetch(input, init);
    asked.push(url);
    const res = await realFetch(new URL(url, server.url), init);
    if (url.includes('/snapshot')) answered.push(res.status);
    if (!tamper || !url.includes('/snapshot') || res.status !== 200) return res;
    const bytes = tamper(new Uint8Array(await res.arrayBuffer()));
    tamper = null;
    return new Response(bytes, { status: 200, headers: res.headers });
  };
  check = await import('../../src/lib/client/exposure-check');
  diary = await import('../../src/lib/client/diary');
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the exposure check on the phone', () => {
  it('matches a list stored in the old per-event format, then replaces it with the compact snapshot', async () => {
    await push(draft('evcheck00001'));
    const old = await legacyList((events) => events.some((e) => e.event.eventId === 'evcheck00001'));
    await settle();
    // What an app of before stored: verified rows with their own signatures, and no version.
    const verified = await verifyExposures(old, keys);
    // In the database as that app left it (version 1: a row an event); opening it upgrades it.
    const { default: Dexie } = await import('dexie');
    const before = new Dexie('luu-vet-exposures');
    before.version(1).stores({ events: 'eventId, province', snapshots: 'province', alerts: 'key', meta: 'key' });
    await before.table('events').bulkPut(verified.events.map((event, i) => ({ eventId: event.eventId, province: '42', keyId: old[verified.indices[i]!]!.keyId, signature: old[verified.indices[i]!]!.signature, event })));
    await before.table('snapshots').put({ province: '42', etag: '"old-format"', fetchedAt: Date.now() - HOUR });
    before.close();
    await diary.diaryDb.visits.put(makeVisit({ id: 'visit1', venueId: VENUE, communeCode: COMMUNE, checkin: FROM + HOUR }));

    // Offline: the old list is what there is, and it matches.
    expect(await check.runExposureCheck(deps(true))).toMatchObject({ eventsHeld: 1, provinces: ['42'] });
    expect(await alertEvents()).toEqual(['evcheck00001']);
    expect(notified).toHaveLength(1);
    expect(asked).toEqual([]);
    expect(await check.exposureDb.events.count()).toBe(0); // the rows became one list
    expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId)).toEqual(['evcheck00001']);

    // Online: the compact snapshot, whole (no version held yet), replaces the old rows.
    const status = await check.runExposureCheck(deps());
    expect(asked.filter((u) => u.includes('/exposures/'))).toEqual(['/api/exposures/42/snapshot/v2']);
    expect(status).toMatchObject({ fetchFailed: false, rejected: 0, eventsHeld: 1, provinces: ['42'] });
    const held = await check.exposureDb.snapshots.get('42');
    expect(held?.version).toBeGreaterThan(0);
    expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId)).toEqual(['evcheck00001']);
    // The same alert, not raised a second time.
    expect(await alertEvents()).toEqual(['evcheck00001']);
    expect(notified).toHaveLength(1);
  });

  it('refuses a snapshot with any byte changed and keeps the list it holds', async () => {
    await push(draft('evcheck00002', { from: FROM + HOUR, to: FROM + 3 * HOUR }));
    await legacyList((events) => events.some((e) => e.event.eventId === 'evcheck00002'));
    await settle();
    const before = await check.checkStatus();
    const version = (await check.exposureDb.snapshots.get('42'))?.version;
    // The first bytes name the format: changed, the body is no snapshot (a captive portal's page),
    // which counts as a failed download. Anywhere else, it is a forgery.
    tamper = (bytes) => Uint8Array.of(bytes[0]! ^ 0x20, ...bytes.subarray(1));
    expect(await check.runExposureCheck(deps())).toMatchObject({ fetchFailed: true, rejected: 0, lastFetchedAt: before.lastFetchedAt });
    for (const at of [5, 20, 100, -5]) {
      tamper = (bytes) => {
        const out = bytes.slice();
        const i = at < 0 ? out.length + at : at;
        out[i] = out[i]! ^ 0x01;
        return out;
      };
      const status = await check.runExposureCheck(deps());
      expect(status.rejected, `byte ${at}`).toBe(1);
      expect(status.fetchFailed).toBe(false);
      expect(status.lastFetchedAt).toBe(before.lastFetchedAt);
      expect((await check.exposureDb.snapshots.get('42'))?.version).toBe(version);
      expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId)).toEqual(['evcheck00001']);
    }
  });

  it('then asks only for the changes since its version: an addition, then a withdrawal', async () => {
    const version = (await check.exposureDb.snapshots.get('42'))!.version!;
    asked.length = 0;
    const status = await check.runExposureCheck(deps());
    expect(asked.filter((u) => u.includes('/exposures/'))).toEqual([`/api/exposures/42/snapshot/v2?since=${version}`]);
    expect(status.rejected).toBe(0);
    expect(await alertEvents()).toEqual(['evcheck00001', 'evcheck00002']);
    expect(notified).toHaveLength(2);

    await push(draft('evcheck00001', { state: 'withdrawn' }));
    await legacyList((events) => events.some((e) => e.event.eventId === 'evcheck00001' && e.event.withdrawn));
    await settle();
    const next = (await check.exposureDb.snapshots.get('42'))!.version!;
    asked.length = 0;
    await check.runExposureCheck(deps());
    expect(asked.filter((u) => u.includes('/exposures/'))).toEqual([`/api/exposures/42/snapshot/v2?since=${next}`]);
    expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId)).toEqual(['evcheck00002']);
    expect(await alertEvents()).toEqual(['evcheck00002']);
    // Nothing new: an empty delta leaves the version, so the next check asks at the same address,
    // and is answered 304 to its ETag.
    const latest = (await check.exposureDb.snapshots.get('42'))!;
    asked.length = 0;
    answered.length = 0;
    await check.runExposureCheck(deps());
    await check.runExposureCheck(deps());
    expect(asked.filter((u) => u.includes('/exposures/'))).toEqual([1, 2].map(() => `/api/exposures/42/snapshot/v2?since=${latest.version}`));
    expect(answered).toEqual([200, 304]);
    expect((await check.exposureDb.snapshots.get('42'))!.version).toBe(latest.version);
    expect(await alertEvents()).toEqual(['evcheck00002']);
  });

  it('after an update from an app that fetched LVS1: asks for the LVS2 changes since the version it holds, without the LVS1 ETag', async () => {
    // What the app of before LVS2 left: rows and the version of an LVS1 snapshot, and that answer's ETag at its address.
    const res = await realFetch(`${server.url}/api/exposures/42/snapshot`);
    const v1 = await verifySnapshotV1(new Uint8Array(await res.arrayBuffer()), keys, '42');
    if (!v1.ok) throw new Error(v1.reason);
    await check.exposureDb.lists.put({ province: '42', keyId: v1.keyId, events: v1.content.events });
    await check.exposureDb.snapshots.put({ province: '42', version: v1.content.version, etag: res.headers.get('ETag'), etagUrl: '/api/exposures/42/snapshot', fetchedAt: Date.now() - HOUR, events: v1.content.events.length });
    await push(draft('evcheck00003', { from: FROM + 2 * HOUR, to: FROM + 3 * HOUR }));
    await legacyList((events) => events.some((e) => e.event.eventId === 'evcheck00003'));
    await settle();
    asked.length = 0;
    answered.length = 0;
    await check.runExposureCheck(deps());
    expect(asked.filter((u) => u.includes('/exposures/'))).toEqual([`/api/exposures/42/snapshot/v2?since=${v1.content.version}`]);
    expect(answered).toEqual([200]);
    expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId).sort()).toEqual(['evcheck00002', 'evcheck00003']);
    expect((await check.exposureDb.snapshots.get('42'))!.version).toBeGreaterThan(v1.content.version);
    expect(await alertEvents()).toEqual(['evcheck00002', 'evcheck00003']);
  });

  it('drops a held event too old to match any diary when the list is next written (retention deletes it on the server, and deltas do not say so)', async () => {
    const list = (await check.exposureDb.lists.get('42'))!;
    const [first] = list.events;
    const stale = { ...first!, eventId: 'evcheckstale1', venueId: VENUE, from: Date.now() - MAX_EXPOSURE_AGE - 3 * HOUR, to: Date.now() - MAX_EXPOSURE_AGE - HOUR };
    await check.exposureDb.lists.put({ ...list, events: [...list.events, stale] });
    // A visit at the same time and place: it would match, were the event not too old.
    await diary.diaryDb.visits.put(makeVisit({ id: 'visitstale', venueId: VENUE, communeCode: COMMUNE, checkin: stale.from + HOUR }));
    await check.runExposureCheck(deps(true));
    expect(await alertEvents()).toEqual(['evcheck00002', 'evcheck00003']);
    await push(draft('evcheck00004', { from: FROM + 3 * HOUR, to: FROM + 4 * HOUR }));
    await legacyList((events) => events.some((e) => e.event.eventId === 'evcheck00004'));
    await settle();
    const status = await check.runExposureCheck(deps());
    expect((await check.exposureDb.lists.get('42'))?.events.map((e) => e.eventId).sort()).toEqual(['evcheck00002', 'evcheck00003', 'evcheck00004']);
    expect(status.eventsHeld).toBe(3);
  });
});
