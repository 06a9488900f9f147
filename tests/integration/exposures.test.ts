/**
 * Exposure snapshots end to end: a commune team's drafts pushed through the /sync gateway are
 * signed by the server and served per province at /api/exposures/:province, from the in-memory
 * snapshot cache (server/snapshot.ts), with gzip, ETag/304 and CDN headers; phones verify them.
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync as gunzipBuffer } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { purgeExpiredExposures } from '../../server/retention';
import { decodeKeysDocument } from '../../src/lib/core/keys';
import type { ExposureEvent, SignedExposure } from '../../src/lib/core/exposure/exposure';
import { verifyExposure } from '../../src/lib/core/exposure/exposure-sign';
import { verifyExposures } from '../../src/lib/core/exposure/exposure-verify';
import type { PublicKey } from '../../src/lib/core/venue/venue-token';
import { localDb, login, remoteDb } from './sync-helpers';

/** Hours of the day before yesterday (UTC): exposure windows recent enough to be published (over 28 days old they are not). */
const DAY0 = Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000;
const recent = (hour: number) => DAY0 + hour * 3_600_000;

const COMMUNE = '18070'; // demo commune, in province 42 (Hà Tĩnh) of the demo directory
const PROVINCE = '42';
const VENUE = 'demochoducth';

let server: RunningServer;
let dataDir: string;
let base: string;
let keys: PublicKey[];
let local: PouchDB.Database;
let remote: PouchDB.Database;

/** Buffer and zlib's input types disagree under TS 5.9 with these @types/node: hand zlib a plain view. */
const gunzipSync = (b: Buffer) => gunzipBuffer(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** node:http, not fetch: fetch adds its own Accept-Encoding and decompresses, hiding what is served. */
function get(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${url}`, { headers }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on('data', (c: Uint8Array) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

interface SnapshotBody {
  format: string;
  version: number;
  province: string;
  events: SignedExposure[];
}

async function snapshot(province = PROVINCE): Promise<SnapshotBody> {
  const res = await get(`/api/exposures/${province}`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body.toString('utf8')) as SnapshotBody;
}

/** The verified event of that id in the province snapshot, once `ready` says it is the one awaited. */
async function published(eventId: string, ready: (e: ExposureEvent) => boolean): Promise<ExposureEvent> {
  // The signer runs 150 ms after a push and the snapshot cache looks for changes once a second.
  for (let i = 0; i < 100; i++) {
    const signed = (await snapshot()).events.find((s) => s.event.eventId === eventId);
    const event = signed ? verifyExposure(signed, keys) : null;
    if (event && ready(event)) return event;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`event ${eventId} was not published as expected`);
}

function draft(eventId: string, over: Record<string, unknown> = {}) {
  return {
    _id: `exposure:${VENUE}:${eventId}`,
    type: 'exposure',
    schema: 1,
    eventId,
    venueId: VENUE,
    venueName: 'Chợ Đức Thọ',
    communeCode: COMMUNE,
    from: recent(1),
    to: recent(3),
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
  const result = await local.replicate.to(remote);
  expect(result.doc_write_failures).toBe(0);
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-exp-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  await createUser(server.store, { phone: '0911000301', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  const { cookie } = await login(base, '0911000301', 'mat-khau-dai');
  local = localDb();
  remote = remoteDb(base, `lv_c_${COMMUNE}`, cookie);
  keys = decodeKeysDocument(await (await fetch(`${base}/api/keys`)).json())!;
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('exposure snapshots', () => {
  it('a published draft reaches its province snapshot, signed, and verifies on the phone', async () => {
    await push(draft('evsnap00001'));
    const event = await published('evsnap00001', () => true);
    expect(event).toMatchObject({ eventId: 'evsnap00001', version: 1, withdrawn: false, venueId: VENUE, communeCode: COMMUNE });
    const body = await snapshot();
    expect(body).toMatchObject({ format: 'luu-vet-exposures', version: 1, province: PROVINCE });
    const checked = await verifyExposures(body.events, keys);
    expect(checked.rejected).toBe(0);
    expect(checked.events.map((e) => e.eventId)).toContain('evsnap00001');
    // Stored where the publisher puts it, and in no other province.
    expect((await server.store.request('GET', `lv_exposures/exp:${PROVINCE}:evsnap00001`)).status).toBe(200);
    expect((await snapshot('10')).events).toEqual([]);
  });

  it('a correction publishes a higher version; a withdrawal publishes withdrawn: true', async () => {
    await push(draft('evsnap00002'));
    await published('evsnap00002', (e) => e.version === 1);
    await push(draft('evsnap00002', { message: 'Ca F0 có mặt tại chợ, khu hàng cá', to: recent(4) }));
    const corrected = await published('evsnap00002', (e) => e.version === 2);
    expect(corrected).toMatchObject({ message: 'Ca F0 có mặt tại chợ, khu hàng cá', to: recent(4), withdrawn: false });
    await push(draft('evsnap00002', { message: 'Ca F0 có mặt tại chợ, khu hàng cá', to: recent(4), state: 'withdrawn' }));
    const withdrawn = await published('evsnap00002', (e) => e.version === 3);
    expect(withdrawn.withdrawn).toBe(true);
    // One document per event: the snapshot carries only the latest version.
    expect((await snapshot()).events.filter((s) => s.event.eventId === 'evsnap00002')).toHaveLength(1);
  });

  it('a draft still in state "draft" is not published', async () => {
    // Pushed together with a published one: once that one is out, the signer's pass has seen both.
    await push(draft('evsnapdraft1', { state: 'draft' }), draft('evsnap00003'));
    await published('evsnap00003', () => true);
    expect((await snapshot()).events.some((s) => s.event.eventId === 'evsnapdraft1')).toBe(false);
    expect((await server.store.request('GET', `lv_exposures/exp:${PROVINCE}:evsnapdraft1`)).status).toBe(404);
  });

  it('serves gzip to clients that accept it, the same JSON to those that do not', async () => {
    const plain = await get(`/api/exposures/${PROVINCE}`);
    const zipped = await get(`/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip, deflate, br' });
    const refused = await get(`/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip;q=0, identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    for (const res of [plain, zipped, refused]) {
      expect(res.status).toBe(200);
      expect(res.headers.vary).toMatch(/accept-encoding/i);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toMatch(/public/);
      expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    }
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(refused.body.equals(plain.body)).toBe(true);
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    // Two representations, two strong validators.
    expect(plain.headers.etag).toMatch(/^"[^"]+"$/);
    expect(zipped.headers.etag).toMatch(/^"[^"]+"$/);
    expect(zipped.headers.etag).not.toBe(plain.headers.etag);
  });

  it('answers 304 to a current ETag and 200 with a new one after a change', async () => {
    const first = await get(`/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip' });
    const etag = first.headers.etag!;
    const again = await get(`/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(etag);
    expect(again.headers.vary).toMatch(/accept-encoding/i);
    expect(again.headers['cache-control']).toMatch(/public/);
    // A weakened copy (a CDN that recompressed) and a list with other tags still match.
    expect((await get(`/api/exposures/${PROVINCE}`, { 'if-none-match': `"old", W/${etag}` })).status).toBe(304);
    expect((await get(`/api/exposures/${PROVINCE}`, { 'if-none-match': '"something-else"' })).status).toBe(200);

    await push(draft('evsnap00004'));
    await published('evsnap00004', () => true);
    const changed = await get(`/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    const events = (JSON.parse(gunzipSync(changed.body).toString('utf8')) as SnapshotBody).events;
    expect(events.map((s) => s.event.eventId)).toContain('evsnap00004');
  });

  it('retention deletes events that ended over 28 days ago, and the publisher does not bring them back', async () => {
    await push(draft('evsnapold01'));
    await published('evsnapold01', () => true);
    const day = 86_400_000;
    expect(await purgeExpiredExposures(server.store, recent(3) + 27 * day)).toBe(0);
    const purged = await purgeExpiredExposures(server.store, recent(3) + 29 * day);
    expect(purged).toBeGreaterThanOrEqual(1);
    expect((await server.store.request('GET', `lv_exposures/exp:${PROVINCE}:evsnapold01`)).status).toBe(404);
    // A draft too old to match anything is refused at the gateway; one stored before that rule (put
    // straight into the store here) is not published (again), whatever else the team pushes.
    const old = draft('evsnapold02', { from: Date.now() - 40 * day, to: Date.now() - 40 * day + 3_600_000 });
    const refused = await local.put(old).then(() => local.replicate.to(remote));
    expect(refused.doc_write_failures).toBe(1);
    expect((await server.store.request('PUT', `lv_c_${COMMUNE}/${encodeURIComponent(old._id as string)}`, { body: old })).status).toBe(201);
    await push(draft('evsnap00009'));
    await published('evsnap00009', () => true);
    expect((await snapshot()).events.map((e) => e.event.eventId)).not.toContain('evsnapold02');
  });

  it('refuses a malformed province code with 400', async () => {
    for (const bad of ['4', '420', 'ab', '4a', '%34%32x']) {
      const res = await get(`/api/exposures/${bad}`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ error: 'bad_request' });
    }
  });
});
