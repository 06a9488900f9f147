/**
 * The team's view of its venues' anonymous check-in tallies (server/venue-activity.ts), on a real
 * server over the embedded store: the commune's team gets the counts per venue and day; anyone else
 * gets nothing.
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
import { DAY, dayKey } from '../../src/lib/core/time';
import { login, register } from './sync-helpers';

let dataDir: string;
let server: RunningServer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-activity-'));
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: 'test-secret-activity-0123456789abcdef' }));
  await createUser(server.store, { phone: '0912000201', password: 'mat-khau-dai', role: 'team', communes: ['18070'] });
  const today = dayKey(Date.now());
  const old = dayKey(Date.now() - 30 * DAY);
  const docs = [
    { ...emptyTallyDoc('18070', today), venues: { venueaaaaaaa: 12 }, reports: 3 },
    { ...emptyTallyDoc('18070', old), venues: { venueaaaaaaa: 99 }, reports: 9 },
    { ...emptyTallyDoc('18071', today), venues: { venuebbbbbbb: 5 }, reports: 1 }
  ];
  const res = await server.store.request('POST', `${DB.reports}/_bulk_docs`, { body: { docs } });
  expect(res.status).toBeLessThan(300);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /api/communes/:code/activity', () => {
  it("gives the commune's team its venues' counts of the last 14 days, and nothing of other communes", async () => {
    const { cookie } = await login(server.url, '0912000201', 'mat-khau-dai');
    const res = await fetch(`${server.url}/api/communes/18070/activity`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ venues: { venueaaaaaaa: { [dayKey(Date.now())]: 12 } } });
    expect((await fetch(`${server.url}/api/communes/18071/activity`, { headers: { cookie } })).status).toBe(403);
    expect((await fetch(`${server.url}/api/communes/1807/activity`, { headers: { cookie } })).status).toBe(400);
  });

  it('refuses anonymous callers and venue owners', async () => {
    expect((await fetch(`${server.url}/api/communes/18070/activity`)).status).toBe(401);
    const owner = await register(server.url, '0912000202');
    expect((await fetch(`${server.url}/api/communes/18070/activity`, { headers: { cookie: owner.cookie } })).status).toBe(403);
  });
});
