/**
 * Staff phones paired to one venue's station (server/staff): the one-time code (expiry, single
 * use, limited wrong guesses), unpairing, and what a station session may and may not do through
 * the sync gateway and the API, against a real server, store and PouchDB client.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { createPairing, pairingDocId } from '../../server/staff/devices';
import { entryDocId } from '../../src/lib/core/documents';
import { MINUTE } from '../../src/lib/core/time';
import { localDb, login, register, remoteDb } from './sync-helpers';

const COMMUNE = '18070';
const OTHER = '18073';
const DB_C = `lv_c_${COMMUNE}`;

let dataDir: string;
let server: RunningServer;
let base: string;
const cookie: Record<string, string> = {};
const ids: Record<string, string> = {};

// Venue ids of the new alphabet (no i, l, o, u) and one of the old (the pairing does not care).
const VENUE_A = 'pairvenveaa2';
const VENUE_B = 'pairvenvebb3';
const STRANGER_VENUE = 'strangerven4';
const OTHER_COMMUNE_VENUE = 'othercommvn5';

function venue(venueId: string, owner: string, communeCode = COMMUNE) {
  return { _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name: `Quán ${venueId.slice(-3)}`, venueType: 'shop', communeCode, address: 'Khối 2', status: 'active', owner };
}

function entry(venueId: string, communeCode = COMMUNE, time = Date.now() - 5 * MINUTE) {
  return {
    _id: entryDocId(venueId, time, Math.random().toString(36).slice(2, 10)),
    type: 'entry',
    schema: 1,
    venueId,
    communeCode,
    time,
    direction: 'in',
    person: { source: 'manual', name: 'Nguyễn Văn A', phone: '0987654321' },
    deviceId: 'station-1'
  };
}

async function call(who: string, method: string, url: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (who !== 'anonymous') headers.cookie = cookie[who]!;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the assertion on status says what went wrong
  }
  return { status: res.status, json, setCookie: res.headers.get('set-cookie') ?? '' };
}

async function newCode(who = 'owner', venueId = VENUE_A, label = 'Cửa chính'): Promise<string> {
  const res = await call(who, 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId, label });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.code as string;
}

/** Pairs a phone with the code; its session cookie, or '' when refused. */
async function pair(code: string): Promise<{ status: number; cookie: string; json: Record<string, unknown> }> {
  const res = await call('anonymous', 'POST', '/api/staff/pair', { code });
  const match = /lv_session=[^;]+/.exec(res.setCookie);
  return { status: res.status, cookie: match?.[0] ?? '', json: res.json };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-pairing-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  await server.store.ensureCommuneDb(OTHER);
  for (const [who, phone] of [
    ['owner', '0934000001'],
    ['stranger', '0934000002']
  ] as const) {
    const r = await register(base, phone);
    cookie[who] = r.cookie;
    ids[who] = r.userId;
  }
  await createUser(server.store, { phone: '0934000003', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  cookie.team = (await login(base, '0934000003', 'mat-khau-dai')).cookie;
  const pushTo = (who: string, db: string, docs: unknown[]) => call(who, 'POST', `/sync/${db}/_bulk_docs`, { docs });
  expect((await pushTo('owner', DB_C, [venue(VENUE_A, ids.owner!), venue(VENUE_B, ids.owner!), entry(VENUE_A), entry(VENUE_B)])).status).toBe(201);
  expect((await pushTo('stranger', DB_C, [venue(STRANGER_VENUE, ids.stranger!), entry(STRANGER_VENUE)])).status).toBe(201);
  expect((await pushTo('owner', `lv_c_${OTHER}`, [venue(OTHER_COMMUNE_VENUE, ids.owner!, OTHER), entry(OTHER_COMMUNE_VENUE, OTHER)])).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pairing codes', () => {
  it('are given to the owner of the venue only', async () => {
    expect((await call('anonymous', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: VENUE_A })).status).toBe(401);
    expect((await call('team', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: VENUE_A })).status).toBe(403);
    const foreign = await call('stranger', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: VENUE_A });
    expect(foreign.status).toBe(404);
    expect(foreign.json.reason).toBeTruthy();
    expect((await call('owner', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: 'not a venue' })).status).toBe(400);
    const res = await call('owner', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: VENUE_A });
    expect(res.status).toBe(201);
    expect(res.json.code).toMatch(/^[a-hj-km-np-tv-z2-7]{8}$/);
    expect(Date.parse(res.json.expiresAt as string) - Date.now()).toBeGreaterThan(9 * MINUTE);
  });

  it('pair a phone once, typed in capitals with a space, and never again', async () => {
    const code = await newCode();
    const typed = `${code.slice(0, 4).toUpperCase()} ${code.slice(4).toUpperCase()}`;
    const first = await pair(typed);
    expect(first.status).toBe(201);
    expect(first.cookie).not.toBe('');
    expect(first.json).toMatchObject({ venueId: VENUE_A, communeCode: COMMUNE, venueName: 'Quán aa2', label: 'Cửa chính' });
    const again = await pair(code);
    expect(again.status).toBe(404);
    expect(again.json.error).toBe('wrong_code');
    expect(again.cookie).toBe('');
  });

  it('do not pair once ten minutes have passed', async () => {
    const code = 'mnpqrstv';
    await createPairing(server.store, code, { ownerId: ids.owner!, venueId: VENUE_A, communeCode: COMMUNE, label: '' }, Date.now() - 11 * MINUTE);
    const late = await pair(code);
    expect(late.status).toBe(404);
    expect(late.json.error).toBe('wrong_code');
  });

  it('that nobody used are dropped once expired', async () => {
    await createPairing(server.store, 'wxyzwxyz', { ownerId: ids.owner!, venueId: VENUE_A, communeCode: COMMUNE, label: '' }, Date.now() - 11 * MINUTE);
    const stored = () => server.store.request('GET', `lv_users/${encodeURIComponent(pairingDocId('wxyzwxyz'))}`);
    expect((await stored()).status).toBe(200);
    await newCode();
    expect((await stored()).status).toBe(404);
  });
});

describe('a station session', () => {
  let station = '';
  let deviceId = '';

  beforeAll(async () => {
    const paired = await pair(await newCode('owner', VENUE_A, 'Quầy 1'));
    station = paired.cookie;
    deviceId = paired.json.deviceId as string;
    cookie.station = station;
  });

  it('pulls its venue and that venue’s entries, nothing of another venue', async () => {
    const local = localDb();
    await local.replicate.from(remoteDb(base, DB_C, station));
    const all = await local.allDocs();
    const got = all.rows.map((r) => r.id);
    expect(got).toContain(`venue:${VENUE_A}`);
    expect(got.some((id) => id.startsWith(`entry:${VENUE_A}:`))).toBe(true);
    expect(got.every((id) => id === `venue:${VENUE_A}` || id.startsWith(`entry:${VENUE_A}:`))).toBe(true);
    await local.destroy();
    // Read by id, and by _bulk_get: the same wall.
    expect((await call('station', 'GET', `/sync/${DB_C}/${encodeURIComponent(`venue:${VENUE_B}`)}`)).status).toBe(404);
    expect((await call('station', 'GET', `/sync/${DB_C}/${encodeURIComponent(`venue:${STRANGER_VENUE}`)}`)).status).toBe(404);
    const bulk = await call('station', 'POST', `/sync/${DB_C}/_bulk_get`, { docs: [{ id: `venue:${VENUE_B}` }, { id: `venue:${VENUE_A}` }] });
    expect(JSON.stringify(bulk.json)).toContain('not yours to read');
    expect(JSON.stringify(bulk.json)).toContain(`"venueId":"${VENUE_A}"`);
  });

  it('pushes entries of its venue, and nothing else', async () => {
    const own = entry(VENUE_A);
    const res = await call('station', 'POST', `/sync/${DB_C}/_bulk_docs`, {
      docs: [own, entry(VENUE_B), entry(STRANGER_VENUE), { ...venue(VENUE_A, ids.owner!), name: 'Đổi tên' }, venue('stationmade2', ids.owner!)]
    });
    expect(res.status).toBe(201);
    const results = res.json as unknown as { id: string; ok?: boolean; error?: string }[];
    expect(results[0]).toMatchObject({ id: own._id, ok: true });
    for (const r of results.slice(1)) expect(r.error).toBe('forbidden');
    // Another commune's database: not even readable.
    expect((await call('station', 'GET', `/sync/lv_c_${OTHER}/_changes?since=0`)).status).toBe(403);
    expect((await call('station', 'POST', `/sync/lv_c_${OTHER}/_bulk_docs`, { docs: [entry(OTHER_COMMUNE_VENUE, OTHER)] })).status).toBe(403);
    // What it wrote is there for the owner.
    const check = await call('owner', 'GET', `/sync/${DB_C}/${encodeURIComponent(own._id)}`);
    expect(check.status).toBe(200);
  });

  it('cannot call the owner’s APIs nor act as an account', async () => {
    expect((await call('station', 'POST', '/api/staff/pairings', { communeCode: COMMUNE, venueId: VENUE_A })).status).toBe(403);
    expect((await call('station', 'GET', '/api/staff/stations')).status).toBe(403);
    expect((await call('station', 'DELETE', `/api/staff/stations/${deviceId}`)).status).toBe(403);
    expect((await call('station', 'GET', '/api/auth/me')).status).toBe(401);
    expect((await call('station', 'GET', `/api/communes/${COMMUNE}/activity`)).status).toBe(403);
    expect((await call('station', 'POST', '/api/auth/password', { currentPassword: 'x', newPassword: 'mat-khau-moi-dai' })).status).toBe(401);
    const me = await call('station', 'GET', '/api/staff/station');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ venueId: VENUE_A, communeCode: COMMUNE, label: 'Quầy 1' });
  });

  it('is listed for its owner only, and unpairing ends it at once', async () => {
    const list = await call('owner', 'GET', '/api/staff/stations');
    expect(list.status).toBe(200);
    const stations = list.json.stations as { deviceId: string; venueId: string; label: string; pairedAt: string; lastSeenAt: string | null }[];
    const mine = stations.find((s) => s.deviceId === deviceId);
    expect(mine).toMatchObject({ venueId: VENUE_A, label: 'Quầy 1' });
    expect(mine!.lastSeenAt).not.toBeNull();
    expect(((await call('stranger', 'GET', '/api/staff/stations')).json.stations as unknown[]).length).toBe(0);
    // Someone else's device is not theirs to unpair.
    expect((await call('stranger', 'DELETE', `/api/staff/stations/${deviceId}`)).status).toBe(404);
    expect((await call('station', 'GET', `/sync/${DB_C}/_changes?since=0`)).status).toBe(200);

    expect((await call('owner', 'DELETE', `/api/staff/stations/${deviceId}`)).status).toBe(200);
    expect((await call('station', 'GET', `/sync/${DB_C}/_changes?since=0`)).status).toBe(401);
    expect((await call('station', 'POST', `/sync/${DB_C}/_bulk_docs`, { docs: [entry(VENUE_A)] })).status).toBe(401);
    expect((await call('station', 'GET', '/api/staff/station')).status).toBe(401);
    const after = (await call('owner', 'GET', '/api/staff/stations')).json.stations as { deviceId: string }[];
    expect(after.some((s) => s.deviceId === deviceId)).toBe(false);
  });

  it('ends when the owner deletes the venue from under it', async () => {
    const paired = await pair(await newCode('owner', VENUE_B));
    cookie.stationB = paired.cookie;
    expect((await call('stationB', 'GET', `/sync/${DB_C}/${encodeURIComponent(`venue:${VENUE_B}`)}`)).status).toBe(200);
    const current = await call('owner', 'GET', `/sync/${DB_C}/${encodeURIComponent(`venue:${VENUE_B}`)}`);
    const gone = await call('owner', 'POST', `/sync/${DB_C}/_bulk_docs`, { docs: [{ _id: `venue:${VENUE_B}`, _rev: current.json._rev, _deleted: true }] });
    expect(gone.status).toBe(201);
    const push = await call('stationB', 'POST', `/sync/${DB_C}/_bulk_docs`, { docs: [entry(VENUE_B)] });
    expect((push.json as unknown as { error?: string }[])[0]?.error).toBe('forbidden');
  });
});

describe('guessing', () => {
  it('is cut off after a few wrong codes, and a right code then waits too', async () => {
    const code = await newCode();
    let refused = 0;
    let tries = 0;
    while (tries < 12) {
      tries++;
      const res = await pair('zzzzzzzz');
      if (res.status === 429) {
        refused++;
        break;
      }
      expect(res.status).toBe(404);
    }
    expect(refused).toBe(1);
    const right = await pair(code);
    expect(right.status).toBe(429);
    expect(right.cookie).toBe('');
  });

  it('answers a malformed body with a reason', async () => {
    const res = await call('anonymous', 'POST', '/api/staff/pair', { code: 42 });
    expect(res.status).toBe(400);
    expect(res.json.reason).toBeTruthy();
  });
});
