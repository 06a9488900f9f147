/**
 * Accounts against a hostile client, on a real server over the embedded store: login and
 * registration limits keyed on the normalised number and on the address, sessions that end on the
 * server (logout, logout everywhere, password change, an admin's disabling), and old tokens.
 * Requests come from distinct loopback addresses (127.0.x.y) where the per-address limit matters.
 */
import { callFrom, type AddressedAnswer as Answer } from './sync-helpers';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser, getUser, updateUser } from '../../server/users';
import * as auth from '../../server/auth';

/** Read through the module namespace so the rest of the file runs on a build without the counter. */
const checks = () => (auth as { passwordChecks?: { count: number } }).passwordChecks?.count ?? NaN;

const SECRET = 'k1P9x-test-secret-for-auth-tests-2f8Qz7LmVw';
const PASSWORD = 'mat-khau-dai';

let dataDir: string;
let server: RunningServer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-auth-'));
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: SECRET }));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A request to the server from a chosen loopback address. */
const call = (method: string, url: string, opts: Parameters<typeof callFrom>[3] = {}) => callFrom(server.url, method, url, opts);

const login = (phone: string, password: string, from = '127.0.0.1') => call('POST', '/api/auth/login', { body: { phone, password }, from });

async function loginCookie(phone: string, password = PASSWORD, from = '127.0.0.1'): Promise<string> {
  const res = await login(phone, password, from);
  expect(res.status).toBe(200);
  expect(res.cookie).not.toBe('');
  return res.cookie;
}

/** Whether a cookie still opens the account and the team's commune database. */
async function works(cookie: string, db = 'lv_c_18070'): Promise<{ me: number; sync: number }> {
  const me = await call('GET', '/api/auth/me', { cookie });
  const sync = await call('GET', `/sync/${db}/_changes?limit=1`, { cookie });
  return { me: me.status, sync: sync.status };
}

function expectLimited(res: Answer, words: RegExp) {
  expect(res.status).toBe(429);
  expect(res.json.error).toBe('too_many_attempts');
  expect(String(res.json.reason)).toMatch(words);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

describe('login and registration limits', { timeout: 120_000 }, () => {
  it('one account written ten ways, from ten addresses, gets no more than the limit of wrong passwords', async () => {
    await createUser(server.store, { phone: '0987000077', password: PASSWORD, role: 'owner' });
    const ways = ['0987000077', '+84987000077', '0987 000 077', '84987000077', '0987.000.077', '+84 987 000 077', '0987-000-077', '(0987) 000 077', '+84-987-000-077', ' 0987000077 '];
    let tried = 0;
    let last: Answer | null = null;
    for (let round = 0; round < 10; round++) {
      for (const [i, way] of ways.entries()) {
        last = await login(way, `doan-sai-${round}-${i}`, `127.0.1.${i + 1}`);
        if (last.status === 401) tried++;
        else expect(last.status).toBe(429);
      }
    }
    expect(tried).toBeLessThanOrEqual(10);
    expectLimited(last!, /number/);
  });

  it('one address does not get to try forty numbers', async () => {
    const statuses: number[] = [];
    let last: Answer | null = null;
    for (let i = 0; i < 40; i++) {
      last = await login(`09871${String(i).padStart(5, '0')}`, 'doan-sai', '127.0.2.1');
      statuses.push(last.status);
    }
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(20);
    expectLimited(last!, /network|address/);
    // Another address is not held back by that one.
    expect((await login('0987100099', 'doan-sai', '127.0.2.2')).status).toBe(401);
  });

  it('a successful login does not count as a failure', async () => {
    await createUser(server.store, { phone: '0987000078', password: PASSWORD, role: 'owner' });
    for (let i = 0; i < 25; i++) expect((await login('0987000078', PASSWORD, '127.0.3.1')).status).toBe(200);
  });

  it('one address does not get to open twenty-five accounts', async () => {
    const statuses: number[] = [];
    let last: Answer | null = null;
    for (let i = 0; i < 25; i++) {
      last = await call('POST', '/api/auth/register', { body: { phone: `09872${String(i).padStart(5, '0')}`, password: PASSWORD }, from: '127.0.4.1' });
      statuses.push(last.status);
    }
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(10);
    expectLimited(last!, /accounts/);
  });

  it('checks a password even for a number with no account, so the answer takes as long', async () => {
    const before = checks();
    expect(before).not.toBeNaN();
    const res = await login('0987300001', 'doan-sai', '127.0.5.1');
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('wrong_credentials');
    expect(checks()).toBe(before + 1);
  });
});

describe('sessions end on the server', () => {
  it('after logout the same cookie is refused by the API and by /sync', async () => {
    await createUser(server.store, { phone: '0987400001', password: PASSWORD, role: 'team', communes: ['18070'] });
    const cookie = await loginCookie('0987400001');
    expect(await works(cookie)).toEqual({ me: 200, sync: 200 });
    const out = await call('POST', '/api/auth/logout', { cookie });
    expect(out.status).toBe(200);
    expect(await works(cookie)).toEqual({ me: 401, sync: 401 });
    // Another session of the same account is not touched.
    expect(await works(await loginCookie('0987400001'))).toEqual({ me: 200, sync: 200 });
  });

  it('logout everywhere ends every session of the account', async () => {
    await createUser(server.store, { phone: '0987400002', password: PASSWORD, role: 'team', communes: ['18070'] });
    const here = await loginCookie('0987400002');
    const there = await loginCookie('0987400002');
    expect(await works(there)).toEqual({ me: 200, sync: 200 });
    expect((await call('POST', '/api/auth/logout-all')).status).toBe(401);
    expect((await call('POST', '/api/auth/logout-all', { cookie: here })).status).toBe(200);
    expect(await works(here)).toEqual({ me: 401, sync: 401 });
    expect(await works(there)).toEqual({ me: 401, sync: 401 });
    expect(await works(await loginCookie('0987400002'))).toEqual({ me: 200, sync: 200 });
  });

  it('a password change checks the current one, ends the other sessions and keeps this device signed in', async () => {
    await createUser(server.store, { phone: '0987400003', password: PASSWORD, role: 'team', communes: ['18070'] });
    const here = await loginCookie('0987400003');
    const there = await loginCookie('0987400003');
    const change = (body: unknown, cookie = here) => call('POST', '/api/auth/password', { body, cookie, from: '127.0.6.1' });
    expect((await call('POST', '/api/auth/password', { body: { currentPassword: PASSWORD, newPassword: 'mat-khau-moi-1' } })).status).toBe(401);
    const wrong = await change({ currentPassword: 'sai-roi-nhe', newPassword: 'mat-khau-moi-1' });
    expect(wrong.status).toBe(403);
    expect(wrong.json).toMatchObject({ error: 'wrong_password' });
    const weak = await change({ currentPassword: PASSWORD, newPassword: 'ngan' });
    expect(weak.status).toBe(400);
    expect(weak.json).toMatchObject({ error: 'weak_password' });
    expect((await change({ currentPassword: PASSWORD })).status).toBe(400);
    expect(await works(there)).toEqual({ me: 200, sync: 200 });

    const done = await change({ currentPassword: PASSWORD, newPassword: 'mat-khau-moi-1' });
    expect(done.status).toBe(200);
    expect(done.cookie).not.toBe('');
    expect(await works(done.cookie)).toEqual({ me: 200, sync: 200 });
    expect(await works(there)).toEqual({ me: 401, sync: 401 });
    expect((await login('0987400003', PASSWORD)).status).toBe(401);
    expect((await login('0987400003', 'mat-khau-moi-1')).status).toBe(200);
  });

  it('limits guessing the current password like a login', async () => {
    await createUser(server.store, { phone: '0987400004', password: PASSWORD, role: 'owner' });
    const cookie = await loginCookie('0987400004');
    let last: Answer | null = null;
    for (let i = 0; i < 12; i++) last = await call('POST', '/api/auth/password', { body: { currentPassword: `doan-sai-${i}`, newPassword: 'mat-khau-moi-1' }, cookie, from: '127.0.7.1' });
    expectLimited(last!, /number/);
  });

  it('refuses a token from before session records (no session id): one new login', async () => {
    const user = await createUser(server.store, { phone: '0987400005', password: PASSWORD, role: 'team', communes: ['18070'] });
    const old = await new SignJWT({ role: 'team', communes: ['18070'], sv: user.sessionVersion })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.userId)
      .setIssuedAt()
      .setExpirationTime('30d')
      .sign(new TextEncoder().encode(SECRET));
    expect(await works(`lv_session=${old}`)).toEqual({ me: 401, sync: 401 });
  });
});

describe("an admin's disabling of an account", () => {
  const cookies: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const people = [
      ['province42', '0987500001', 'admin', [], '42'],
      ['district440', '0987500002', 'admin', [], '440'],
      ['province49', '0987500003', 'admin', [], '49'],
      ['team', '0987500004', 'team', ['18070'], undefined],
      ['twoProvinces', '0987500005', 'team', ['18070', '20335'], undefined],
      ['owner', '0987500006', 'owner', [], undefined],
      ['ownerNoVenue', '0987500007', 'owner', [], undefined]
    ] as const;
    for (const [who, phone, role, communes, unit] of people) {
      const user = await createUser(server.store, { phone, password: PASSWORD, role, communes: [...communes], unit });
      ids[who] = user.userId;
      cookies[who] = await loginCookie(phone, PASSWORD, '127.0.8.1');
    }
    const owner = (await getUser(server.store, ids.owner!))!;
    await updateUser(server.store, { ...owner, venueCommunes: ['18073'] });
  });

  const act = (who: string | null, target: string, what: 'disable' | 'enable') =>
    call('POST', `/api/accounts/${target}/${what}`, { cookie: who ? cookies[who] : undefined });

  it('needs a login, an admin, and a known account', async () => {
    expect((await act(null, ids.team!, 'disable')).status).toBe(401);
    expect((await act('owner', ids.team!, 'disable')).status).toBe(403);
    expect((await act('team', ids.owner!, 'disable')).status).toBe(403);
    const unknown = await act('province42', 'unosuchuser000', 'disable');
    expect(unknown.status).toBe(404);
    expect(unknown.json.reason).toBeTruthy();
  });

  it('refuses accounts outside the admin unit', async () => {
    for (const [admin, target] of [
      ['province49', 'team'],
      ['province42', 'twoProvinces'],
      ['district440', 'province42'],
      ['province42', 'ownerNoVenue'],
      ['province49', 'owner']
    ] as const) {
      const res = await act(admin, ids[target]!, 'disable');
      expect(res.status, `${admin} → ${target}`).toBe(403);
      expect(String(res.json.reason)).toMatch(/unit|area/);
    }
    expect(await works(cookies.team!)).toEqual({ me: 200, sync: 200 });
  });

  it('disabling ends the sessions at once (API and /sync); enabling lets the person log in again', async () => {
    expect(await works(cookies.team!)).toEqual({ me: 200, sync: 200 });
    const res = await act('district440', ids.team!, 'disable');
    expect(res.status).toBe(200);
    expect(await works(cookies.team!)).toEqual({ me: 401, sync: 401 });
    expect((await login('0987500004', PASSWORD, '127.0.8.2')).status).toBe(401);
    expect((await act('province42', ids.team!, 'enable')).status).toBe(200);
    expect(await works(await loginCookie('0987500004', PASSWORD, '127.0.8.2'))).toEqual({ me: 200, sync: 200 });
  });

  it("reaches an owner by the owner's venue communes and a lower admin by its unit", async () => {
    expect((await act('district440', ids.owner!, 'disable')).status).toBe(200);
    expect((await call('GET', '/api/auth/me', { cookie: cookies.owner })).status).toBe(401);
    expect((await act('province42', ids.district440!, 'disable')).status).toBe(200);
    expect((await call('GET', '/api/auth/me', { cookie: cookies.district440 })).status).toBe(401);
    expect((await act('province42', ids.district440!, 'enable')).status).toBe(200);
  });
});

describe('expired session records', () => {
  it('are dropped by the retention sweep, and live ones are kept', async () => {
    const { purgeAllExpiredSessionRecords, sessionDocId } = await import('../../server/sessions');
    const user = await createUser(server.store, { phone: '0987600001', password: PASSWORD, role: 'owner' });
    const cookie = await loginCookie('0987600001');
    const db = server.store.db<Record<string, unknown>>('lv_users');
    const old = sessionDocId(user.userId, 'an-old-session-id-0000');
    await db.insert({ _id: old, type: 'session', schema: 1, userId: user.userId, createdAt: '2021-01-01T00:00:00.000Z', lastSeenAt: '2021-01-01T00:00:00.000Z', expiresAt: '2021-01-31T00:00:00.000Z' });
    expect(await purgeAllExpiredSessionRecords(server.store)).toBeGreaterThanOrEqual(1);
    await expect(db.get(old)).rejects.toMatchObject({ statusCode: 404 });
    expect((await call('GET', '/api/auth/me', { cookie })).status).toBe(200);
  });
});
