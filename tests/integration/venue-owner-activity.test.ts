/**
 * A venue owner's own numbers (server/venue-activity.ts, the owner's route) and the station's
 * corrections through the sync gateway, on a real server over the embedded store: the owner reads
 * its venue's tallied check-ins and nobody else's; a correction (entryfix) syncs like an entry, and
 * a correction of another owner's entry is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { DB } from '../../server/store/couch';
import { createUser } from '../../server/users';
import { emptyTallyDoc } from '../../src/lib/core/citizen/tally';
import { entryDocId, entryFixDocId } from '../../src/lib/core/documents';
import { DAY, dayKey } from '../../src/lib/core/time';
import { localDb, login, register, remoteDb } from './sync-helpers';

let dataDir: string;
let server: RunningServer;
let owner: { cookie: string; userId: string };
let other: { cookie: string; userId: string };
const C = '18070';
const MINE = 'mineaaaaaaaa';
const THEIRS = 'theirsaaaaaa';

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-owner-activity-'));
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: 'test-secret-owner-activity-0123456789ab' }));
  await createUser(server.store, { phone: '0912000301', password: 'mat-khau-dai', role: 'team', communes: [C] });
  owner = await register(server.url, '0912000302');
  other = await register(server.url, '0912000303');
  const db = await server.store.ensureCommuneDb(C);
  const venue = (venueId: string, ownerId: string) => ({ _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name: 'Quán', venueType: 'shop', address: 'x', communeCode: C, status: 'active', owner: ownerId, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
  expect((await server.store.request('POST', `${db}/_bulk_docs`, { body: { docs: [venue(MINE, owner.userId), venue(THEIRS, other.userId)] } })).status).toBeLessThan(300);
  const yesterday = dayKey(Date.now() - DAY);
  const tallies = [{ ...emptyTallyDoc(C, yesterday), venues: { [MINE]: 7, [THEIRS]: 4 }, reports: 3 }];
  expect((await server.store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs: tallies } })).status).toBeLessThan(300);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const activity = (code: string, venueId: string, cookie?: string) => fetch(`${server.url}/api/communes/${code}/venues/${venueId}/activity`, cookie ? { headers: { cookie } } : {});

describe("GET /api/communes/:code/venues/:venueId/activity (the owner's check-ins)", () => {
  it("gives the owner its venue's tallied check-ins per day, through yesterday", async () => {
    const res = await activity(C, MINE, owner.cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(await res.json()).toEqual({ venueId: MINE, days: { [dayKey(Date.now() - DAY)]: 7 }, throughDay: dayKey(Date.now() - DAY) });
  });

  it("answers another owner's venue, an unknown venue and an unknown commune alike: not found", async () => {
    for (const [code, id] of [[C, THEIRS], [C, 'nosuchaaaaaa'], ['99999', MINE]] as const) {
      const res = await activity(code, id, owner.cookie);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found', reason: expect.any(String) });
    }
  });

  it('refuses anonymous callers and teams, and malformed codes and ids in words', async () => {
    expect((await activity(C, MINE)).status).toBe(401);
    const team = await login(server.url, '0912000301', 'mat-khau-dai');
    expect((await activity(C, MINE, team.cookie)).status).toBe(403);
    for (const [code, id] of [['1807', MINE], [C, 'MINE'], [C, '../_all_docs'], [C, 'mineaaaaaaa1']] as const) {
      const res = await fetch(`${server.url}/api/communes/${code}/venues/${encodeURIComponent(id)}/activity`, { headers: { cookie: owner.cookie } });
      expect(res.status, `${code}/${id}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });
});

describe('station corrections through the gateway', () => {
  it("sync for the owner's own entries and are refused for another owner's venue", async () => {
    const t = Date.now() - 60_000;
    const entryId = entryDocId(MINE, t, 'a1b2c3d4e5f6');
    const entry = { _id: entryId, type: 'entry', schema: 1, venueId: MINE, communeCode: C, time: t, direction: 'in', person: { source: 'manual', name: 'Bà Tư' }, deviceId: 'd1' };
    const fix = { _id: entryFixDocId(entryId, '0a0b0c0d'), type: 'entryfix', schema: 1, venueId: MINE, communeCode: C, entryId, time: t, from: 'in', to: 'removed', at: Date.now(), deviceId: 'd1' };
    const local = localDb();
    await local.bulkDocs([entry, fix] as never);
    const pushed = await local.replicate.to(remoteDb(server.url, `lv_c_${C}`, owner.cookie));
    expect(pushed.doc_write_failures).toBe(0);
    const stored = await server.store.request('GET', `lv_c_${C}/${encodeURIComponent(fix._id)}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ type: 'entryfix', to: 'removed', entryId });

    // The other owner cannot correct (remove) an entry of a venue that is not theirs.
    const hostile = localDb();
    await hostile.put({ ...fix, _id: entryFixDocId(entryId, '0e0e0e0e'), to: 'out', from: 'in' } as never);
    const res = await hostile.replicate.to(remoteDb(server.url, `lv_c_${C}`, other.cookie));
    expect(res.doc_write_failures).toBe(1);
    expect((await server.store.request('GET', `lv_c_${C}/${encodeURIComponent(entryFixDocId(entryId, '0e0e0e0e'))}`)).status).toBe(404);
  });
});
