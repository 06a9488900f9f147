/**
 * Two server instances on one store, as behind a load balancer (DESIGN §8): what one instance
 * learns, the other must act on at once. Login failures spread over both are limited as one; a
 * session ended on one is refused on the other; an owner's venue pushed through one is the owner's on the
 * other. The second instance reaches the first's store by COUCHDB_URL, with the same DATA_DIR
 * (signing keys) and SESSION_SECRET; with `npm run test:couchdb` both run on that CouchDB, and with
 * LV_TEST_COUCHDB_URL_2 set to another node of the same cluster, B runs on that node.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { newVenueId } from '../../src/lib/core/venue/venue';
import { callFrom, venueDoc } from './sync-helpers';

const SECRET = 'Zq7-instances-test-secret-4hG2pLx9Wc3vN8rT';
const PASSWORD = 'mat-khau-dai';

let dataDir: string;
let serverA: RunningServer;
let serverB: RunningServer;
let commune: string;
let venueIds: string[];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-instances-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: SECRET };
  serverA = await startServer(await testServerConfig(env));
  const storeUrl = String((serverA.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  // On a cluster, LV_TEST_COUCHDB_URL_2 (another node of it) makes B read and write through another node.
  serverB = await startServer(await testServerConfig({ ...env, COUCHDB_URL: process.env.LV_TEST_COUCHDB_URL_2?.trim() || storeUrl }));
  venueIds = serverA.demoVenues.map((v) => v.venueId);
  commune = '18070';
  expect(venueIds.length).toBeGreaterThanOrEqual(2);
}, 120_000);

afterAll(async () => {
  await serverB?.close();
  await serverA?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = callFrom;

describe('two instances on one store', () => {
  it('limits wrong passwords spread over both instances as one', async () => {
    const phone = '0987 111 201';
    expect((await call(serverA.url, 'POST', '/api/auth/register', { body: { phone, password: PASSWORD }, from: '127.0.20.1' })).status).toBe(201);
    // Ten wrong passwords for the number, alternately on A and B, from different addresses: each
    // instance alone has seen five, fewer than its limit of ten.
    for (let i = 0; i < 10; i++) {
      const res = await call(i % 2 ? serverB.url : serverA.url, 'POST', '/api/auth/login', { body: { phone, password: `sai-${i}-mat-khau` }, from: `127.0.21.${i + 1}` });
      expect(res.status).toBe(401);
    }
    for (const base of [serverA.url, serverB.url]) {
      const held = await call(base, 'POST', '/api/auth/login', { body: { phone, password: PASSWORD }, from: '127.0.21.99' });
      expect(held.status).toBe(429);
      expect(held.json).toMatchObject({ error: 'too_many_attempts', reason: expect.stringMatching(/this number/) });
    }
    // Another number is not held back.
    const other = await call(serverB.url, 'POST', '/api/auth/register', { body: { phone: '0987 111 202', password: PASSWORD }, from: '127.0.20.2' });
    expect(other.status).toBe(201);
    expect((await call(serverA.url, 'POST', '/api/auth/login', { body: { phone: '0987 111 202', password: PASSWORD }, from: '127.0.20.2' })).status).toBe(200);
  });

  it('limits wrong passwords from one address over both instances as one', async () => {
    const from = '127.0.22.1';
    // Twenty wrong logins from one address, for twenty numbers, half on each instance.
    for (let i = 0; i < 20; i++) {
      const res = await call(i % 2 ? serverB.url : serverA.url, 'POST', '/api/auth/login', { body: { phone: `0987 222 ${String(300 + i)}`, password: 'khong-dung-dau' }, from });
      expect(res.status).toBe(401);
    }
    const held = await call(serverA.url, 'POST', '/api/auth/login', { body: { phone: '0987 222 399', password: 'khong-dung-dau' }, from });
    expect(held.status).toBe(429);
    expect(held.json).toMatchObject({ reason: expect.stringMatching(/this network/) });
  });

  it('limits wrong pairing codes from one address over both instances as one', async () => {
    const from = '127.0.23.1';
    // A budget of ten wrong codes per address (one a minute, ten saved up), alternately on A and B:
    // each instance alone has seen five. The eleventh is refused on either.
    for (let i = 0; i < 10; i++) {
      const res = await call(i % 2 ? serverB.url : serverA.url, 'POST', '/api/staff/pair', { body: { code: 'ZZZZ-ZZZZ' }, from });
      expect(res.status, JSON.stringify(res.json)).toBe(404);
    }
    for (const base of [serverA.url, serverB.url]) {
      const held = await call(base, 'POST', '/api/staff/pair', { body: { code: 'ZZZZ-ZZZZ' }, from });
      expect(held.status).toBe(429);
      expect(Number(held.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // Another address still may try.
    expect((await call(serverB.url, 'POST', '/api/staff/pair', { body: { code: 'ZZZZ-ZZZZ' }, from: '127.0.23.2' })).status).toBe(404);
  });

  it("limits an owner's new pairing codes over both instances as one", async () => {
    const owner = await call(serverA.url, 'POST', '/api/auth/register', { body: { phone: '0987 111 501', password: PASSWORD }, from: '127.0.24.1' });
    expect(owner.status).toBe(201);
    const venueId = newVenueId((n) => new Uint8Array(randomBytes(n)));
    const db = `lv_c_${commune}`;
    const pushed = await call(serverA.url, 'POST', `/sync/${db}/_bulk_docs`, { cookie: owner.cookie, body: { docs: [venueDoc(commune, venueId, 'Tiệm Bánh Mì Hai Lúa', owner.json.userId as string)] } });
    expect(pushed.status, JSON.stringify(pushed.json)).toBe(201);
    // Ten codes (one a minute, ten saved up), alternately on A and B: each instance alone has made five.
    for (let i = 0; i < 10; i++) {
      const res = await call(i % 2 ? serverB.url : serverA.url, 'POST', '/api/staff/pairings', { cookie: owner.cookie, body: { communeCode: commune, venueId }, from: '127.0.24.1' });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
    }
    for (const base of [serverA.url, serverB.url]) {
      const held = await call(base, 'POST', '/api/staff/pairings', { cookie: owner.cookie, body: { communeCode: commune, venueId }, from: '127.0.24.1' });
      expect(held.status).toBe(429);
      expect(held.json).toMatchObject({ error: 'too_many_attempts', reason: expect.stringMatching(/try again in \d+ min/) });
      // Ten made at once: the sliding window lets the next through a minute later at the soonest
      // (all ten just before a window's edge), ten at the latest.
      expect(Number(held.headers['retry-after'])).toBeGreaterThanOrEqual(55);
    }
  });

  it('refuses on B at once a session ended on A', async () => {
    const phone = '0987 111 301';
    const made = await call(serverA.url, 'POST', '/api/auth/register', { body: { phone, password: PASSWORD }, from: '127.0.25.1' });
    expect(made.status).toBe(201);
    const onA = await call(serverA.url, 'POST', '/api/auth/login', { body: { phone, password: PASSWORD }, from: '127.0.25.1' });
    const cookie = onA.cookie;
    // B has seen the session (and would have kept it in its caches).
    expect((await call(serverB.url, 'GET', '/api/auth/me', { cookie })).status).toBe(200);
    expect((await call(serverB.url, 'GET', '/api/auth/me', { cookie: made.cookie })).status).toBe(200);
    expect((await call(serverA.url, 'POST', '/api/auth/logout', { cookie })).status).toBe(200);
    expect((await call(serverB.url, 'GET', '/api/auth/me', { cookie })).status).toBe(401);
    // Sign out everywhere on B ends the first session (of registration) on A too.
    expect((await call(serverA.url, 'GET', '/api/auth/me', { cookie: made.cookie })).status).toBe(200);
    const again = await call(serverB.url, 'POST', '/api/auth/login', { body: { phone, password: PASSWORD }, from: '127.0.25.1' });
    expect((await call(serverB.url, 'POST', '/api/auth/logout-all', { cookie: again.cookie })).status).toBe(200);
    expect((await call(serverA.url, 'GET', '/api/auth/me', { cookie: made.cookie })).status).toBe(401);
  });

  it("makes an owner's new venue, pushed through A, the owner's on B at once", async () => {
    const owner = await call(serverA.url, 'POST', '/api/auth/register', { body: { phone: '0987 111 401', password: PASSWORD }, from: '127.0.26.1' });
    expect(owner.status).toBe(201);
    const userId = owner.json.userId as string;
    const db = `lv_c_${commune}`;
    const venueId = newVenueId((n) => new Uint8Array(randomBytes(n)));
    // B reads the owner's venues first (none), so that a cache would hold the old answer.
    expect((await call(serverB.url, 'GET', `/sync/${db}/venue:${venueId}`, { cookie: owner.cookie })).status).toBe(404);
    const pushed = await call(serverA.url, 'POST', `/sync/${db}/_bulk_docs`, { cookie: owner.cookie, body: { docs: [venueDoc(commune, venueId, 'Quán Hai Máy', userId)] } });
    expect(pushed.status, JSON.stringify(pushed.json)).toBe(201);
    expect(pushed.json).toEqual([expect.objectContaining({ ok: true, id: `venue:${venueId}` })]);
    const read = await call(serverB.url, 'GET', `/sync/${db}/venue:${venueId}`, { cookie: owner.cookie });
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ venueId, owner: userId });
    // Another owner still does not see it on either.
    const other = await call(serverB.url, 'POST', '/api/auth/register', { body: { phone: '0987 111 402', password: PASSWORD }, from: '127.0.26.2' });
    expect((await call(serverB.url, 'GET', `/sync/${db}/venue:${venueId}`, { cookie: other.cookie })).status).toBe(404);
  });
});
