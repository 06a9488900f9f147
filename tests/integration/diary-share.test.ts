/**
 * Sharing a diary online with a one-time code (server/diary-share.ts), on a real server over the
 * embedded store: a team member issues a code, a citizen looks it up and sends visits once, the
 * visits land in the commune database (and reach the team by replication); codes are single-use
 * under concurrent submissions, expire, are not stored as themselves, and guessing is limited per
 * address. Also the retention of casework and of codes. Requests come from distinct loopback
 * addresses (127.0.x.y) where the per-address limit matters.
 */
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { Store, type CouchResponse } from '../../server/store/couch';
import { createUser } from '../../server/users';
import { registerDiaryShare, shareCodeDocId, shareCodeKey, type ShareCodeDoc } from '../../server/diary-share';
import { LOG_SERIALIZERS, loggedPath } from '../../server/http';
import { purgeExpiredCasework, purgeExpiredShareCodes } from '../../server/retention';
import { checkCommuneDoc, entryDocId, type DiaryShareRecord, type StationEntryRecord } from '../../src/lib/core/documents';
import { newCase, newFollowup } from '../../src/lib/core/casework/casework';
import { normalizeShareCode } from '../../src/lib/core/citizen/share-code';
import { DAY, HOUR } from '../../src/lib/core/time';
import { callFrom, localDb, login, register, remoteDb } from './sync-helpers';

const COMMUNE = '18070';
const OTHER_COMMUNE = '18073';
const VENUE = 'venueaaaaaaa';

let dataDir: string;
let server: RunningServer;
let storeUrl: string;
let teamCookie: string;
let ownerCookie: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-share-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: 'test-secret-diary-share-0123456789abcdef' };
  server = await startServer(await testServerConfig({ ...env, SHARE_CODE_FAILURES_PER_10_MIN: '10' }));
  storeUrl = String((server.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  await createUser(server.store, { phone: '0912000101', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  teamCookie = (await login(server.url, '0912000101', 'mat-khau-dai')).cookie;
  ownerCookie = (await register(server.url, '0912000102')).cookie;
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A request to the server from a chosen loopback address. */
const call = (method: string, url: string, opts: Parameters<typeof callFrom>[3] = {}) => callFrom(server.url, method, url, opts);

let caseCounter = 0;
const newCaseId = () => `case${Date.now().toString(36)}${(++caseCounter).toString(36)}`.padEnd(16, '0').slice(0, 16);

async function issue(caseId = newCaseId(), communeCode = COMMUNE): Promise<{ code: string; expiresAt: string; caseId: string }> {
  const res = await call('POST', '/api/share-codes', { body: { communeCode, caseId }, cookie: teamCookie });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { ...(res.json as { code: string; expiresAt: string }), caseId };
}

const visit = (hoursAgo: number, over: Record<string, unknown> = {}) => ({
  venueId: VENUE,
  communeCode: COMMUNE,
  place: 'Chợ Hà Tĩnh',
  from: Date.now() - hoursAgo * HOUR,
  to: Date.now() - hoursAgo * HOUR + HOUR,
  source: 'diary',
  ...over
});

const sharesOf = async (caseId: string) => (await server.store.docsByPrefix<DiaryShareRecord>(`lv_c_${COMMUNE}`, `diaryshare:${caseId}:`)) ?? [];

describe('issuing a code', () => {
  it('gives a team member a code for a case of their commune, stored only as an HMAC', async () => {
    const before = Date.now();
    const { code, expiresAt, caseId } = await issue();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(Date.parse(expiresAt) - before).toBeGreaterThanOrEqual(DAY - 1000);
    expect(Date.parse(expiresAt) - before).toBeLessThanOrEqual(DAY + 5000);
    const docs = (await server.store.docsByPrefix<ShareCodeDoc>('lv_share_codes', 'code:')) ?? [];
    const mine = docs.filter((d) => d.caseId === caseId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ type: 'sharecode', communeCode: COMMUNE, caseId, expiresAt, usedAt: null });
    expect(mine[0]!._id).toMatch(/^code:[0-9a-f]{32}$/);
    const plain = normalizeShareCode(code)!;
    expect(JSON.stringify(docs)).not.toContain(plain);
    expect(mine[0]!._id).toBe(shareCodeDocId(plain, shareCodeKey(new TextEncoder().encode('test-secret-diary-share-0123456789abcdef'))));
  });

  it('refuses anonymous callers (401), venue owners and communes out of scope (403), bad bodies (400, 415)', async () => {
    const body = { communeCode: COMMUNE, caseId: newCaseId() };
    expect(await call('POST', '/api/share-codes', { body })).toMatchObject({ status: 401, json: { error: 'not_logged_in' } });
    expect(await call('POST', '/api/share-codes', { body, cookie: 'lv_session=forged.token.here' })).toMatchObject({ status: 401 });
    expect(await call('POST', '/api/share-codes', { body, cookie: ownerCookie })).toMatchObject({ status: 403, json: { error: 'forbidden' } });
    const out = await call('POST', '/api/share-codes', { body: { ...body, communeCode: OTHER_COMMUNE }, cookie: teamCookie });
    expect(out).toMatchObject({ status: 403, json: { error: 'forbidden', reason: expect.stringMatching(/scope/) } });
    const badCase = await call('POST', '/api/share-codes', { body: { ...body, caseId: 'NOT-A-CASE' }, cookie: teamCookie });
    expect(badCase).toMatchObject({ status: 400, json: { reason: expect.stringMatching(/^caseId/) } });
    expect((await call('POST', '/api/share-codes', { raw: JSON.stringify(body), contentType: 'text/plain', cookie: teamCookie })).status).toBe(415);
    expect((await call('POST', '/api/share-codes', { raw: '{"communeCode":', cookie: teamCookie })).status).toBe(400);
    // Nothing was issued for the refused calls.
    const docs = (await server.store.docsByPrefix<ShareCodeDoc>('lv_share_codes', 'code:')) ?? [];
    expect(docs.some((d) => d.caseId === body.caseId)).toBe(false);
  });
});

describe('sending the diary', () => {
  it('looks up a code as typed, takes the visits once, and the team gets them by replication', async () => {
    const { code, expiresAt, caseId } = await issue();
    const typed = code.toLowerCase().replace('-', ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    const lookup = await call('GET', `/api/share-codes/${encodeURIComponent(typed)}`);
    expect(lookup).toMatchObject({ status: 200, json: { communeCode: COMMUNE, expiresAt } });
    expect(typeof lookup.json.communeName).toBe('string');
    expect(lookup.headers['cache-control']).toBe('no-store');

    const visits = [visit(30, { note: 'không gửi' }), visit(5, { venueId: undefined, communeCode: undefined, place: 'Nhà bác Hai' })];
    const sent = await call('POST', '/api/diary-share', { body: { code: typed, visits } });
    expect(sent).toMatchObject({ status: 201, json: { received: 2 } });

    const [share, ...more] = await sharesOf(caseId);
    expect(more).toEqual([]);
    expect(share!._id).toMatch(new RegExp(`^diaryshare:${caseId}:[a-z0-9]{16}$`));
    expect(checkCommuneDoc(share, COMMUNE)).toMatchObject({ ok: true });
    expect(share).toMatchObject({ type: 'diaryshare', schema: 1, communeCode: COMMUNE, caseId });
    expect(Date.now() - Date.parse(share!.receivedAt)).toBeLessThan(60_000);
    expect(share!.visits.map((v) => v.place)).toEqual(['Chợ Hà Tĩnh', 'Nhà bác Hai']);
    expect(JSON.stringify(share)).not.toContain('không gửi');

    // The team's device gets it by replication.
    const local = localDb();
    await local.replicate.from(remoteDb(server.url, `lv_c_${COMMUNE}`, teamCookie));
    expect(await local.get(share!._id)).toMatchObject({ caseId, visits: share!.visits });

    const again = await call('POST', '/api/diary-share', { body: { code, visits } });
    expect(again).toMatchObject({ status: 410, json: { error: 'code_used', reason: expect.stringMatching(/new code/) } });
    expect(await call('GET', `/api/share-codes/${code}`)).toMatchObject({ status: 410, json: { error: 'code_used' } });
    expect(await sharesOf(caseId)).toHaveLength(1);
  });

  it('takes exactly one of 20 concurrent submissions with one fresh code', async () => {
    const { code, caseId } = await issue();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('POST', '/api/diary-share', { body: { code, visits: [visit(2 + i)] }, from: `127.0.2.${i + 1}` }))
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(19);
    for (const a of answers) if (a.status === 410) expect(a.json.error).toBe('code_used');
    expect(await sharesOf(caseId)).toHaveLength(1);
  });

  it('answers unknown codes 404 and malformed ones 400, with reasons', async () => {
    expect(await call('GET', '/api/share-codes/ZZZZ-ZZZZ', { from: '127.0.3.1' })).toMatchObject({ status: 404, json: { error: 'unknown_code', reason: expect.any(String) } });
    expect(await call('GET', '/api/share-codes/abc', { from: '127.0.3.1' })).toMatchObject({ status: 400, json: { error: 'bad_code' } });
    const submit = await call('POST', '/api/diary-share', { body: { code: 'ZZZZ-ZZZZ', visits: [visit(3)] }, from: '127.0.3.1' });
    expect(submit).toMatchObject({ status: 404, json: { error: 'unknown_code' } });
  });

  it('refuses bad visits naming the field, oversized bodies (413), other content types (415), malformed JSON (400)', async () => {
    const { code } = await issue();
    const from = '127.0.4.1';
    const badVisit = await call('POST', '/api/diary-share', { body: { code, visits: [visit(3), visit(4, { to: 'tối' })] }, from });
    expect(badVisit).toMatchObject({ status: 400, json: { error: 'bad_visits', field: 'visits.1.to', reason: expect.stringMatching(/^visits\.1\.to: /) } });
    const typed = await call('POST', '/api/diary-share', { body: { code, visits: [visit(3, { source: 'typed' })] }, from });
    expect(typed).toMatchObject({ status: 400, json: { field: 'visits.0.source' } });
    expect(await call('POST', '/api/diary-share', { body: { code, visits: [] }, from })).toMatchObject({ status: 400, json: { field: 'visits' } });
    const tooMany = await call('POST', '/api/diary-share', { body: { code, visits: Array.from({ length: 501 }, () => visit(3, { venueId: undefined, communeCode: undefined, place: 'x' })) }, from });
    expect(tooMany).toMatchObject({ status: 400, json: { field: 'visits' } });
    const big = await call('POST', '/api/diary-share', { body: { code, visits: [visit(3, { place: 'x'.repeat(210 * 1024) })] }, from });
    expect(big).toMatchObject({ status: 413, json: { reason: expect.stringMatching(/too large/) } });
    expect(await call('POST', '/api/diary-share', { raw: JSON.stringify({ code, visits: [visit(3)] }), contentType: 'text/plain', from })).toMatchObject({ status: 415 });
    expect(await call('POST', '/api/diary-share', { raw: 'code=1', contentType: 'application/x-www-form-urlencoded', from })).toMatchObject({ status: 415 });
    expect(await call('POST', '/api/diary-share', { raw: '{"code": "x", "visits": [', from })).toMatchObject({ status: 400, json: { reason: expect.stringMatching(/malformed/) } });
    // None of that used the code, nor the address's budget of wrong codes.
    expect(await call('GET', `/api/share-codes/${code}`, { from })).toMatchObject({ status: 200 });
    for (let i = 0; i < 12; i++) expect((await call('POST', '/api/diary-share', { body: { code, visits: [] }, from })).status).toBe(400);
    expect((await call('POST', '/api/diary-share', { body: { code, visits: [visit(3)] }, from })).status).toBe(201);
  });

  it('limits wrong codes per address with 429 and Retry-After, and leaves other addresses alone', async () => {
    const from = '127.0.5.1';
    const { code } = await issue();
    // Right codes do not count against the address.
    for (let i = 0; i < 12; i++) expect((await call('GET', `/api/share-codes/${code}`, { from })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await call('GET', `/api/share-codes/WRNG-000${i}`, { from })).status).toBe(404);
    for (let i = 0; i < 5; i++) expect((await call('POST', '/api/diary-share', { body: { code: `WRNG-100${i}`, visits: [visit(3)] }, from })).status).toBe(404);
    const limited = await call('GET', `/api/share-codes/${code}`, { from });
    expect(limited).toMatchObject({ status: 429, json: { error: 'too_many_attempts', reason: expect.stringMatching(/try again/) } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call('POST', '/api/diary-share', { body: { code, visits: [visit(3)] }, from })).status).toBe(429);
    // The neighbour sends with the same code.
    expect((await call('POST', '/api/diary-share', { body: { code, visits: [visit(3)] }, from: '127.0.5.2' })).status).toBe(201);
  });

  it('holds a burst of parallel guesses from one address to its budget', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call('GET', `/api/share-codes/BRST-${String(i).padStart(4, '0')}`, { from: '127.0.6.1' })));
    const count = (s: number) => answers.filter((a) => a.status === s).length;
    expect(count(404)).toBe(10);
    expect(count(429)).toBe(20);
  });

  it('logs no code, case, visit or address; the code is not in logged paths', () => {
    expect(loggedPath('/api/share-codes/7K3M-Q9TX?x=1')).toBe('/api/share-codes/:code');
    expect(loggedPath('/api/diary-share')).toBe('/api/diary-share');
    expect(loggedPath('/api/exposures/42?since=1')).toBe('/api/exposures/42');
  });
});

/** A Fastify app with only the diary-share routes, a team session for every caller, and a clock and store of the test's choosing. */
async function standalone(store: Store, clock: () => number, logLines?: string[]) {
  const app = Fastify(
    logLines
      ? {
          logger: {
            level: 'info',
            serializers: LOG_SERIALIZERS,
            stream: new Writable({
              write(chunk, _enc, done) {
                logLines.push(String(chunk));
                done();
              }
            })
          }
        }
      : {}
  );
  const session = { userId: 'uteam', role: 'team' as const, communes: [COMMUNE], sessionVersion: 0 };
  await app.register(
    async (api) =>
      registerDiaryShare(api, {
        store,
        secret: new TextEncoder().encode('test-secret-diary-share-0123456789abcdef'),
        sessionOf: async () => ({ session }),
        limits: { clientFailuresPerTenMinutes: 10, now: clock }
      }),
    { prefix: '/api' }
  );
  return app;
}

describe('codes over time and failures of the store', () => {
  it('a code expires after 24 hours: 410 code_expired for look-up and submission', async () => {
    // Issued 25 hours ago: expired an hour ago.
    let clock = Date.now() - DAY - HOUR;
    const app = await standalone(new Store(storeUrl), () => clock);
    try {
      const issued = await app.inject({ method: 'POST', url: '/api/share-codes', payload: { communeCode: COMMUNE, caseId: newCaseId() } });
      expect(issued.statusCode).toBe(201);
      const { code } = issued.json() as { code: string };
      clock += DAY - 60_000;
      expect((await app.inject({ method: 'GET', url: `/api/share-codes/${code}` })).statusCode).toBe(200);
      clock += 2 * 60_000;
      const lookup = await app.inject({ method: 'GET', url: `/api/share-codes/${code}` });
      expect(lookup.statusCode).toBe(410);
      expect(lookup.json()).toMatchObject({ error: 'code_expired', reason: expect.stringMatching(/expired/) });
      // The real server, on today's clock, says the same: the code is in the shared store.
      const visits = [visit(3, { from: clock - 3 * HOUR, to: clock - 2 * HOUR })];
      expect(await call('POST', '/api/diary-share', { body: { code, visits } })).toMatchObject({ status: 410, json: { error: 'code_expired' } });
    } finally {
      await app.close();
    }
  });

  it('when the share cannot be stored, frees the code so the citizen can send again; logs nothing identifying', async () => {
    let failing = true;
    class FlakyStore extends Store {
      override async request(...args: Parameters<Store['request']>): Promise<CouchResponse> {
        const [method, where] = args;
        if (failing && method === 'PUT' && where.startsWith(`lv_c_${COMMUNE}/diaryshare`)) return { status: 500, body: { error: 'unknown_error', reason: 'disk full' } };
        return super.request(...args);
      }
    }
    const logs: string[] = [];
    const app = await standalone(new FlakyStore(storeUrl), Date.now, logs);
    try {
      const caseId = newCaseId();
      const { code } = (await app.inject({ method: 'POST', url: '/api/share-codes', payload: { communeCode: COMMUNE, caseId } })).json() as { code: string };
      const body = { code, visits: [visit(7, { place: 'Quán cà phê Bí Mật' })] };
      const failed = await app.inject({ method: 'POST', url: '/api/diary-share', payload: body });
      expect(failed.statusCode).toBe(503);
      expect(failed.json()).toMatchObject({ error: 'store_unavailable', reason: expect.stringMatching(/send again/) });
      expect((await app.inject({ method: 'GET', url: `/api/share-codes/${code}` })).statusCode).toBe(200);
      failing = false;
      expect((await app.inject({ method: 'POST', url: '/api/diary-share', payload: body })).json()).toEqual({ received: 1 });
      expect(await sharesOf(caseId)).toHaveLength(1);
      const text = logs.join('\n');
      expect(text).toMatch(/storing a shared diary answered 500/);
      for (const secret of [code, normalizeShareCode(code)!, caseId, 'Bí Mật', '127.0.0.1']) expect(text).not.toContain(secret);
    } finally {
      await app.close();
    }
  });
});

describe('retention of casework and codes', () => {
  const person = { source: 'manual' as const, name: 'Nguyễn Văn Lưu', phone: '0987654321' };
  const entryAt = (time: number): StationEntryRecord => ({
    _id: entryDocId(VENUE, time, Math.random().toString(36).slice(2, 10)),
    type: 'entry',
    schema: 1,
    venueId: VENUE,
    communeCode: COMMUNE,
    time,
    direction: 'in',
    person,
    deviceId: 'test'
  });

  it('deletes shared diaries, follow-ups and closed cases past their time, with their conflicts, and keeps the rest', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const db = `lv_c_${COMMUNE}`;
    const caseId = newCaseId();
    const share = (id: string, daysAgo: number): DiaryShareRecord => ({
      _id: `diaryshare:${caseId}:${id.padEnd(16, '0')}`,
      type: 'diaryshare',
      schema: 1,
      communeCode: COMMUNE,
      caseId,
      receivedAt: iso(now - daysAgo * DAY),
      visits: [{ place: 'Chợ', from: now - (daysAgo + 1) * DAY, to: now - (daysAgo + 1) * DAY + HOUR, source: 'diary' }]
    });
    const followup = (daysAgo: number, state: 'open' | 'closed') => ({ ...newFollowup(entryAt(now - daysAgo * DAY), COMMUNE, now, { caseId }), state });
    const kase = (id: string, status: 'open' | 'closed', daysAgo: number) => ({ ...newCase(id, COMMUNE, person, '2021-08-01', now - daysAgo * DAY), status });
    const docs = {
      shareOld: share('old', 22),
      shareNew: share('new', 20),
      // retention 21 + 14: closed follow-ups go after 35 days, open ones after 21 + 28 = 49
      followClosedOld: followup(36, 'closed'),
      followClosedNew: followup(34, 'closed'),
      followOpenOld: followup(50, 'open'),
      followOpenMid: followup(40, 'open'),
      caseClosedOld: kase(newCaseId(), 'closed', 22),
      caseClosedNew: kase(newCaseId(), 'closed', 20),
      caseOpenOld: kase(newCaseId(), 'open', 60)
    };
    for (const doc of Object.values(docs)) expect(checkCommuneDoc(doc, COMMUNE), doc._id).toMatchObject({ ok: true });
    const res = await server.store.request('POST', `${db}/_bulk_docs`, { body: { docs: Object.values(docs) } });
    expect((res.body as { ok?: boolean }[]).every((r) => r.ok)).toBe(true);
    // A second member's offline edit of the old closed follow-up, met as a conflict.
    const conflict = { ...docs.followClosedOld, _rev: '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', notes: 'gọi lại' };
    await server.store.request('POST', `${db}/_bulk_docs`, { body: { docs: [conflict], new_edits: false } });
    const withConflict = await server.store.request('GET', `${db}/${encodeURIComponent(docs.followClosedOld._id)}`, { query: new URLSearchParams({ conflicts: 'true' }) });
    expect((withConflict.body as { _conflicts?: string[] })._conflicts).toHaveLength(1);

    const purged = await purgeExpiredCasework(server.store, 21, now);
    expect(purged).toMatchObject({ diaryShares: 1, followups: 2, cases: 1 });
    const exists = async (id: string) => (await server.store.request('GET', `${db}/${encodeURIComponent(id)}`)).status === 200;
    const left = Object.fromEntries(await Promise.all(Object.entries(docs).map(async ([name, d]) => [name, await exists(d._id)] as const)));
    expect(left).toEqual({
      shareOld: false,
      shareNew: true,
      followClosedOld: false,
      followClosedNew: true,
      followOpenOld: false,
      followOpenMid: true,
      caseClosedOld: false,
      caseClosedNew: true,
      caseOpenOld: true
    });
    // Run again: nothing more to delete.
    expect(await purgeExpiredCasework(server.store, 21, now)).toEqual({ diaryShares: 0, followups: 0, cases: 0 });
  });

  it('deletes share codes expired more than a day ago, used or not', async () => {
    const now = Date.now();
    const key = shareCodeKey(new TextEncoder().encode('retention-test'));
    const code = (name: string, expiredHoursAgo: number, used: boolean): ShareCodeDoc => ({
      _id: shareCodeDocId(name, key),
      type: 'sharecode',
      schema: 1,
      communeCode: COMMUNE,
      caseId: newCaseId(),
      createdAt: new Date(now - expiredHoursAgo * HOUR - DAY).toISOString(),
      expiresAt: new Date(now - expiredHoursAgo * HOUR).toISOString(),
      usedAt: used ? new Date(now - expiredHoursAgo * HOUR - HOUR).toISOString() : null
    });
    const docs = [code('OLD00001', 25, false), code('OLD00002', 30, true), code('NEW00001', 23, true), code('NEW00002', -5, false)];
    await server.store.request('POST', 'lv_share_codes/_bulk_docs', { body: { docs } });
    expect(await purgeExpiredShareCodes(server.store, now)).toBe(2);
    const ids = new Set(((await server.store.docsByPrefix<ShareCodeDoc>('lv_share_codes', 'code:')) ?? []).map((d) => d._id));
    expect(docs.map((d) => ids.has(d._id))).toEqual([false, false, true, true]);
  });
});
