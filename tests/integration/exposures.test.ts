/**
 * Exposure snapshots end to end: a commune team's drafts pushed through the /sync gateway are
 * signed by the server and served per province at /api/exposures/:province, from the in-memory
 * snapshot cache (server/snapshot.ts), with gzip, ETag/304 and CDN headers; phones verify them.
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync as gunzipBuffer } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { purgeExpiredExposures } from '../../server/retention';
import { decodeKeysDocument } from '../../src/lib/core/keys';
import type { ExposureEvent, SignedExposure } from '../../src/lib/core/exposure/exposure';
import { verifyExposure } from '../../src/lib/core/exposure/exposure-sign';
import { verifyExposures } from '../../src/lib/core/exposure/exposure-verify';
import { applySnapshot, verifySnapshot, type SnapshotContent } from '../../src/lib/core/exposure/snapshot-format';
import { verifySnapshotV1 } from '../../src/lib/core/exposure/snapshot-format-v1';
import type { PublicKey } from '../../src/lib/core/venue/venue-token';
import type { PublishedExposureDoc } from '../../server/publisher';
import { localDb, login, remoteDb } from './sync-helpers';

/** Hours of the day before yesterday (UTC): exposure windows recent enough to be published (over 28 days old they are not). */
const DAY0 = Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000;
const recent = (hour: number) => DAY0 + hour * 3_600_000;

const COMMUNE = '18070'; // demo commune, in province 42 (Hà Tĩnh) of the demo directory
const PROVINCE = '42';
const VENUE = 'demochoducth';

let server: RunningServer;
let dataDir: string;
let config: Awaited<ReturnType<typeof testServerConfig>>;
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
  config = await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir });
  server = await startServer(config);
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

/**
 * Moves every publication stamp of lv_exposures back: what a minute going by does to the versions
 * (a version covers stamps at least a minute old, server/snapshot.ts SETTLE_MS), without the wait.
 */
async function age(ms: number): Promise<void> {
  const res = await server.store.request('GET', 'lv_exposures/_all_docs', { query: new URLSearchParams({ include_docs: 'true', startkey: '"exp:"', endkey: '"exp:\ufff0"' }) });
  const docs = ((res.body as { rows: { doc: PublishedExposureDoc }[] }).rows ?? []).map((r) => ({ ...r.doc, publishedAt: (r.doc.publishedAt ?? 0) - ms }));
  expect((await server.store.request('POST', 'lv_exposures/_bulk_docs', { body: { docs } })).status).toBe(201);
}

const compactUrl = (since?: number | string, format: 'v1' | 'v2' = 'v2') => `/api/exposures/${PROVINCE}/snapshot${format === 'v2' ? '/v2' : ''}${since === undefined ? '' : `?since=${since}`}`;

/** The compact snapshot (or delta) as a phone gets it, checked with the server's keys. */
async function compact(since?: number | string, province = PROVINCE): Promise<SnapshotContent> {
  const res = await get(since === undefined && province !== PROVINCE ? `/api/exposures/${province}/snapshot/v2` : compactUrl(since), { 'accept-encoding': 'br, gzip' });
  expect(res.status).toBe(200);
  expect(res.headers['content-encoding']).toBe('br');
  const checked = await verifySnapshot(new Uint8Array(brotliDecompressSync(new Uint8Array(res.body))), keys, province);
  if (!checked.ok) throw new Error(`the snapshot did not verify: ${checked.reason}`);
  return checked.content;
}

/** Waits (the signer runs 150 ms after a push, the cache looks once a second) until the per-event list shows what `ready` wants. */
async function listed(ready: (events: ExposureEvent[]) => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (ready((await snapshot()).events.map((s) => s.event))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the list never showed what was awaited');
}

/** Until the compact snapshot has moved past `version` (the cache looks at the store once a second). */
async function compactAfter(version: number, since?: number): Promise<SnapshotContent> {
  for (let i = 0; i < 50; i++) {
    const c = await compact(since);
    if (c.version > version) return c;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the compact snapshot stayed at version ${version}`);
}

const ids = (events: ExposureEvent[]) => events.map((e) => e.eventId).sort();

describe('the compact snapshot and its deltas', () => {
  let fullVersion = 0;
  let held: { version: number | null; events: ExposureEvent[] } = { version: null, events: [] };

  it('holds the same current events as the per-event list, under one signature, without the withdrawn ones', async () => {
    await push(draft('evcompact001'), draft('evcompact002'), draft('evcompact003'));
    await listed((events) => ['evcompact001', 'evcompact002', 'evcompact003'].every((id) => events.some((e) => e.eventId === id)));
    await age(120_000);
    const c = await compactAfter(0);
    expect(c).toMatchObject({ province: PROVINCE, kind: 'full', since: null, withdrawn: [] });
    const current = (await verifyExposures((await snapshot()).events, keys)).events.filter((e) => !e.withdrawn);
    expect(ids(c.events)).toEqual(ids(current));
    expect([...c.events].sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual([...current].sort((a, b) => a.eventId.localeCompare(b.eventId)));
    expect(c.events.some((e) => e.withdrawn)).toBe(false);
    // The version is a publication stamp of the list, at least a minute old.
    expect(c.version).toBeGreaterThan(0);
    expect(c.version).toBeLessThanOrEqual(Date.now() - 60_000);
    fullVersion = c.version;
    held = applySnapshot(held, c)!;
    // Another province: an empty list, signed all the same.
    expect(await compact(undefined, '10')).toMatchObject({ province: '10', kind: 'full', events: [], version: 0 });
  });

  it('answers a delta with what was added, corrected and withdrawn since the version held', async () => {
    // Nothing since: an empty delta at the same version.
    expect(await compact(fullVersion)).toMatchObject({ kind: 'delta', since: fullVersion, version: fullVersion, events: [], withdrawn: [] });
    await push(draft('evcompact004'), draft('evcompact001', { message: 'Ca F0 ở khu hàng cá', to: recent(4) }), draft('evcompact002', { state: 'withdrawn' }));
    await listed((events) => events.some((e) => e.eventId === 'evcompact004') && events.some((e) => e.eventId === 'evcompact002' && e.withdrawn) && events.some((e) => e.eventId === 'evcompact001' && e.version === 2));
    await age(120_000);
    const d = await compactAfter(fullVersion, fullVersion);
    expect(d).toMatchObject({ kind: 'delta', since: fullVersion, withdrawn: ['evcompact002'] });
    expect(ids(d.events)).toEqual(['evcompact001', 'evcompact004']);
    expect(d.events.find((e) => e.eventId === 'evcompact001')).toMatchObject({ version: 2, message: 'Ca F0 ở khu hàng cá', to: recent(4) });
    // The phone's list after the delta is the full snapshot of the same version.
    const after = applySnapshot(held, d)!;
    const now = await compact();
    expect(now.version).toBe(d.version);
    expect(ids(after.events)).toEqual(ids(now.events));
    expect(after.events.find((e) => e.eventId === 'evcompact001')?.version).toBe(2);
    // A delta is cached and revalidated like the list.
    const first = await get(compactUrl(fullVersion), { 'accept-encoding': 'br' });
    const again = await get(compactUrl(fullVersion), { 'accept-encoding': 'br', 'if-none-match': first.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('still serves LVS1 at /snapshot to apps of before LVS2: the same versions and events, deltas too, never one format for the other', async () => {
    const v1Bytes = async (url: string) => new Uint8Array(brotliDecompressSync(new Uint8Array((await get(url, { 'accept-encoding': 'br' })).body)));
    const current = await compact();
    const full1 = await v1Bytes(compactUrl(undefined, 'v1'));
    expect(new TextDecoder().decode(full1.subarray(0, 4))).toBe('LVS1');
    const checked = await verifySnapshotV1(full1, keys, PROVINCE);
    expect(checked.ok && checked.content.version).toBe(current.version);
    expect(checked.ok && ids(checked.content.events)).toEqual(ids(current.events));
    // An app of before LVS2 holding the first version gets its delta in LVS1, the same changes as in LVS2.
    const delta1 = await verifySnapshotV1(await v1Bytes(compactUrl(fullVersion, 'v1')), keys, PROVINCE);
    const delta2 = await compact(fullVersion);
    expect(delta1.ok && delta1.content).toMatchObject({ kind: 'delta', since: fullVersion, version: delta2.version, withdrawn: delta2.withdrawn });
    expect(delta1.ok && ids(delta1.content.events)).toEqual(ids(delta2.events));
    // Neither parser reads the other format: the magic and the signed prefix differ.
    expect(await verifySnapshot(full1, keys, PROVINCE)).toMatchObject({ ok: false, reason: 'not-snapshot' });
    const full2 = await v1Bytes(compactUrl());
    expect(new TextDecoder().decode(full2.subarray(0, 4))).toBe('LVS2');
    expect(await verifySnapshotV1(full2, keys, PROVINCE)).toMatchObject({ ok: false, reason: 'not-snapshot' });
    // LVS2 is the smaller, and the two are cached apart.
    expect(full2.length).toBeLessThan(full1.length);
    const etag1 = (await get(compactUrl(undefined, 'v1'), { 'accept-encoding': 'br' })).headers.etag!;
    expect((await get(compactUrl(), { 'accept-encoding': 'br', 'if-none-match': etag1 })).status).toBe(200);
  });

  it('serves brotli, gzip or plain bytes, the same bytes under each, with ETags, 304s and CDN headers', async () => {
    const url = compactUrl();
    const br = await get(url, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    const gz = await get(url, { 'accept-encoding': 'gzip' });
    const plain = await get(url);
    const refused = await get(url, { 'accept-encoding': 'br;q=0, gzip;q=0' });
    expect([br.headers['content-encoding'], gz.headers['content-encoding'], plain.headers['content-encoding'], refused.headers['content-encoding']]).toEqual(['br', 'gzip', undefined, undefined]);
    expect(brotliDecompressSync(new Uint8Array(br.body)).toString('base64')).toBe(plain.body.toString('base64'));
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(refused.body.equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(gz.body.length);
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
    for (const res of [br, gz, plain]) {
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers.vary).toMatch(/accept-encoding/i);
      expect(res.headers['cache-control']).toBe('public, max-age=60, stale-while-revalidate=60, stale-if-error=86400');
      // Any of the three validators names the same content.
      expect((await get(url, { 'accept-encoding': 'br', 'if-none-match': res.headers.etag! })).status).toBe(304);
    }
    expect((await get(url, { 'if-none-match': `W/${br.headers.etag}` })).status).toBe(304);
    expect((await get(url, { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('refuses a since that is no version with 400 and a reason, and answers an unknown or old version with the full snapshot', async () => {
    const current = await compact();
    for (const bad of ['abc', '-1', '1.5', '1e5', '', '0x10', '99999999999999999999', '%00', '12abc', ' 1']) {
      const res = await get(`${compactUrl()}?since=${encodeURIComponent(bad)}`.replace('/snapshot?since=', '/snapshot?since='), { 'accept-encoding': 'gzip' });
      expect(res.status, `since=${bad}`).toBe(400);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ error: 'bad_request', reason: expect.stringMatching(/since/) });
    }
    const twice = await get(`${compactUrl()}?since=1&since=2`);
    expect(twice.status).toBe(400);
    // A version from the future (another server, a restored backup), one too old to build on, none at all, 0.
    for (const since of [String(Date.now() + 86_400_000), '9999999999999999', '1', '0']) {
      const c = await compact(since);
      expect(c, `since=${since}`).toMatchObject({ kind: 'full', since: null, version: current.version });
      expect(ids(c.events)).toEqual(ids(current.events));
    }
    expect((await get(`/api/exposures/4x/snapshot`)).status).toBe(400);
    expect((await get(`/api/exposures/4x/snapshot/v2`)).status).toBe(400);
  });

  it('keeps its versions and bytes across a server restart', async () => {
    const before = await get(compactUrl(), { 'accept-encoding': 'br' });
    const version = (await compact()).version;
    await server.close();
    server = await startServer(config);
    base = server.url;
    const after = await get(compactUrl(), { 'accept-encoding': 'br' });
    expect(after.headers.etag).toBe(before.headers.etag);
    expect((await compact()).version).toBe(version);
    expect((await get(compactUrl(), { 'accept-encoding': 'br', 'if-none-match': before.headers.etag! })).status).toBe(304);
  });
});

