/**
 * The sync gateway's access table (DESIGN §5), walked with real PouchDB clients and raw HTTP:
 * every role × database × endpoint; allowed calls work, denied ones are denied, and nothing of
 * another venue or commune ever appears in a response.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { entryDocId, type DiaryShareRecord, type StationEntryRecord } from '../../src/lib/core/documents';
import { newCase, newFollowup } from '../../src/lib/core/casework/casework';
import { decodeKeysDocument } from '../../src/lib/core/keys';
import { parseVenueToken, verifyVenueToken } from '../../src/lib/core/venue/venue-token';
import { verifyExposure } from '../../src/lib/core/exposure/exposure-sign';
import { localDb, login, manualEntryDoc, register, remoteDb } from './sync-helpers';

/** Hours of the day before yesterday (UTC): exposure windows recent enough to be published (over 28 days old they are not). */
const DAY0 = Math.floor(Date.now() / 86_400_000 - 2) * 86_400_000;
const recent = (hour: number) => DAY0 + hour * 3_600_000;

let server: RunningServer;
let dataDir: string;
let base: string;

const COMMUNE = '18070';
const OTHER_COMMUNE = '18073';
const DB_C = `lv_c_${COMMUNE}`;
const DB_OTHER = `lv_c_${OTHER_COMMUNE}`;

type Who = 'anonymous' | 'ownerA' | 'ownerB' | 'team' | 'otherTeam' | 'admin';
const cookies: Partial<Record<Who, string>> = {};
const users: Partial<Record<Who, string>> = {};

function venue(venueId: string, owner: string | undefined, name: string, communeCode = COMMUNE) {
  return {
    _id: `venue:${venueId}`,
    type: 'venue',
    schema: 1,
    venueId,
    name,
    venueType: 'shop',
    communeCode,
    address: 'Khối 1',
    status: 'active',
    ...(owner ? { owner } : {})
  };
}

const entry = (venueId: string, time: number, name: string, communeCode = COMMUNE) =>
  manualEntryDoc(communeCode, venueId, time, name, Math.random().toString(36).slice(2, 10));

async function call(who: Who, method: string, url: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (cookies[who]) headers.cookie = cookies[who]!;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text };
}

const VA = 'venueaaaaaaa'; // owner A's
const VB = 'venuebbbbbbb'; // owner B's
const VT = 'venuetttttt2'; // registered by the team, no owner
const VO = 'venueooooooo'; // in the other commune

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-gw-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  await server.store.ensureCommuneDb(OTHER_COMMUNE);
  const a = await register(base, '0911000001');
  const b = await register(base, '0911000002');
  Object.assign(cookies, { ownerA: a.cookie, ownerB: b.cookie });
  Object.assign(users, { ownerA: a.userId, ownerB: b.userId });
  for (const [who, phone, role, communes] of [
    ['team', '0911000003', 'team', [COMMUNE]],
    ['otherTeam', '0911000004', 'team', [OTHER_COMMUNE]],
    // An admin of Hà Tĩnh, whose unit holds both communes (communes on an admin account are ignored: the role decides).
    ['admin', '0911000005', 'admin', [COMMUNE, OTHER_COMMUNE]]
  ] as const) {
    const user = await createUser(server.store, { phone, password: 'mat-khau-dai', role, communes: [...communes], ...(role === 'admin' ? { unit: '42' } : {}) });
    users[who] = user.userId;
    cookies[who] = (await login(base, phone, 'mat-khau-dai')).cookie;
  }
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('accounts', () => {
  it('refuses a taken number, a wrong password and a bad number with clear reasons', async () => {
    const taken = await fetch(`${base}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: '+84 911 000 001', password: 'mat-khau-dai' }) });
    expect(taken.status).toBe(409);
    expect((await taken.json()).error).toBe('phone_taken');
    expect((await login(base, '0911000001', 'sai-mat-khau')).status).toBe(401);
    expect((await login(base, '0900', 'mat-khau-dai')).status).toBe(400);
    const me = await call('ownerA', 'GET', '/api/auth/me');
    expect(JSON.parse(me.text)).toMatchObject({ phone: '0911000001', role: 'owner' });
    expect(me.text).not.toContain('passwordHash');
    const forged = await fetch(`${base}/api/auth/me`, { headers: { cookie: cookies.ownerA!.slice(0, -4) + 'AAAA' } });
    expect(forged.status).toBe(401);
  });

  it('limits password guessing per number, with a clear answer', async () => {
    let last = 0;
    for (let i = 0; i < 11; i++) last = (await login(base, '0911000099', `doan-sai-${i}`)).status;
    expect(last).toBe(429);
    const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: '0911000099', password: 'x' }) });
    expect(await res.json()).toMatchObject({ error: 'too_many_attempts' });
    // Another number from the same address is not locked out.
    expect((await login(base, '0911000001', 'mat-khau-dai')).status).toBe(200);
  });
});

describe('pushing and pulling with PouchDB', () => {
  it('an owner pushes a venue made offline; the server signs it and the code comes back by pull', async () => {
    const local = localDb();
    await local.put(venue(VA, users.ownerA, 'Tạp hóa Bà Năm'));
    await local.put(entry(VA, Date.now(), 'Nguyễn Văn A'));
    const remote = remoteDb(base, DB_C, cookies.ownerA);
    const pushed = await local.replicate.to(remote);
    expect(pushed.docs_written).toBe(2);
    expect(pushed.doc_write_failures).toBe(0);

    const keys = decodeKeysDocument(await (await fetch(`${base}/api/keys`)).json())!;
    let signed: { token?: string } | undefined;
    for (let i = 0; i < 150 && !signed?.token; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await local.replicate.from(remote);
      signed = (await local.get(`venue:${VA}`)) as { token?: string };
    }
    const parsed = parseVenueToken(signed!.token!);
    if (!parsed.ok) throw new Error('bad token');
    expect(parsed.claims.name).toBe('Tạp hóa Bà Năm');
    await expect(verifyVenueToken(parsed, keys)).resolves.toBe('verified');
    // Another device of the same account learns where to look.
    expect(JSON.parse((await call('ownerA', 'GET', '/api/auth/me')).text).venueCommunes).toEqual([COMMUNE]);
  });

  it('a denied document in a push is refused alone, and the rest of the batch is stored', async () => {
    const local = localDb();
    await local.put(venue(VB, users.ownerB, 'Quán phở Bình'));
    await local.put(entry(VB, Date.now(), 'Trần Thị B'));
    await local.put(entry(VA, Date.now(), 'Kẻ gian')); // owner A's venue
    await local.put(venue(VA, users.ownerB, 'Chiếm quyền')); // taking over owner A's venue
    await local.put({ _id: 'user:evil', type: 'user', schema: 1 }); // not a commune document
    const result = await local.replicate.to(remoteDb(base, DB_C, cookies.ownerB));
    expect(result.docs_written).toBe(2);
    expect(result.doc_write_failures).toBe(3);
    const team = remoteDb(base, DB_C, cookies.team);
    expect(await team.get(`venue:${VA}`)).toMatchObject({ name: 'Tạp hóa Bà Năm', owner: users.ownerA });
    expect(await team.get(`venue:${VB}`)).toMatchObject({ name: 'Quán phở Bình', owner: users.ownerB });
    await expect(team.get('user:evil')).rejects.toMatchObject({ status: 404 });
  });

  it('accepts a new venue and its entries in one batch whatever their order', async () => {
    const fresh = 'venuecccccc2';
    const res = await call('ownerB', 'POST', `/sync/${DB_C}/_bulk_docs`, {
      docs: [entry(fresh, Date.now(), 'Khách trước'), venue(fresh, users.ownerB, 'Hiệu thuốc Cô Chín')]
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text).every((r: { ok?: boolean }) => r.ok)).toBe(true);
  });

  it('an owner pulls only the documents of its own venues', async () => {
    const local = localDb();
    await local.replicate.from(remoteDb(base, DB_C, cookies.ownerA));
    const ids = (await local.allDocs()).rows.map((r) => r.id);
    expect(ids.length).toBe(2);
    expect(ids.every((id) => id.includes(VA))).toBe(true);
  });

  it('a team member pulls and pushes the whole commune, but no design documents', async () => {
    const local = localDb();
    await local.put(venue(VT, undefined, 'Chốt kiểm dịch cầu Linh Cảm'));
    const remote = remoteDb(base, DB_C, cookies.team);
    await local.sync(remote);
    const ids = (await local.allDocs()).rows.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([`venue:${VA}`, `venue:${VB}`, `venue:${VT}`]));
    expect(ids.some((id) => id.startsWith('_design'))).toBe(false);
  });

  it('anyone pulls the public directory, checkpointing on their own side', async () => {
    const local = localDb();
    const result = await local.replicate.from(remoteDb(base, 'lv_directory'), { checkpoint: 'target' } as PouchDB.Replication.ReplicateOptions);
    expect(result.ok).toBe(true);
  });

  it('keeps checkpoints apart per user', async () => {
    expect((await call('ownerA', 'PUT', `/sync/${DB_C}/_local/cp1`, { seq: 'a' })).status).toBe(201);
    expect((await call('ownerA', 'GET', `/sync/${DB_C}/_local/cp1`)).text).toContain('"seq":"a"');
    expect((await call('ownerB', 'GET', `/sync/${DB_C}/_local/cp1`)).status).toBe(404);
  });
});

describe('suspension and retention', () => {
  it('a suspended venue is listed as revoked for phones, and listed no more once resumed', async () => {
    const local = localDb();
    const remote = remoteDb(base, DB_C, cookies.ownerA);
    await local.replicate.from(remote);
    const doc = (await local.get(`venue:${VA}`)) as Record<string, unknown>;
    await local.put({ ...doc, status: 'suspended' });
    await local.replicate.to(remote);
    const revoked = async () => ((await (await fetch(`${base}/api/keys`)).json()) as { revoked: string[] }).revoked;
    for (let i = 0; i < 100 && !(await revoked()).includes(VA); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await revoked()).toEqual([VA]);
    const suspended = (await local.get(`venue:${VA}`)) as Record<string, unknown>;
    await local.put({ ...suspended, status: 'active' });
    await local.replicate.to(remote);
    for (let i = 0; i < 100 && (await revoked()).includes(VA); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await revoked()).toEqual([]);
  });

  it('deletes station entries older than the retention period, and only those', async () => {
    const { purgeExpiredEntries } = await import('../../server/retention');
    const day = 24 * 3600 * 1000;
    const local = localDb();
    const old = entry(VB, Date.now() - 22 * day, 'Người cũ');
    const recent = entry(VB, Date.now() - 20 * day, 'Người mới');
    await local.bulkDocs([old, recent]);
    await local.replicate.to(remoteDb(base, DB_C, cookies.ownerB));
    expect(await purgeExpiredEntries(server.store, 21)).toBe(1);
    const team = remoteDb(base, DB_C, cookies.team);
    await expect(team.get(old._id)).rejects.toMatchObject({ status: 404 });
    expect(await team.get(recent._id)).toMatchObject({ person: { name: 'Người mới' } });
  });
});

describe('exposure events', () => {
  const draft = (over: Record<string, unknown> = {}) => ({
    _id: `exposure:${VA}:ev20210820a`,
    type: 'exposure',
    schema: 1,
    eventId: 'ev20210820a',
    venueId: VA,
    venueName: 'Tạp hóa Bà Năm',
    communeCode: COMMUNE,
    from: recent(1),
    to: recent(3),
    widenMinutes: 60,
    level: 'high',
    message: 'Ca F0 có mặt tại cửa hàng',
    advice: 'Cách ly tại nhà, gọi trạm y tế',
    contactPhone: '0239123456',
    state: 'published',
    ...over
  });
  const snapshot = async () => fetch(`${base}/api/exposures/42`);
  const events = async () => ((await (await snapshot()).json()) as { events: unknown[] }).events;

  it('a team publishes, corrects and withdraws an event; phones get it signed, per province', async () => {
    const keys = decodeKeysDocument(await (await fetch(`${base}/api/keys`)).json())!;
    const local = localDb();
    const remote = remoteDb(base, DB_C, cookies.team);
    await local.put(draft());
    await local.replicate.to(remote);
    for (let i = 0; i < 100 && (await events()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    let [signed] = await events();
    expect(verifyExposure(signed, keys)).toMatchObject({ eventId: 'ev20210820a', version: 1, withdrawn: false, venueId: VA });

    const first = await snapshot();
    const etag = first.headers.get('etag')!;
    expect((await fetch(`${base}/api/exposures/42`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const doc = await local.get(`exposure:${VA}:ev20210820a`);
    await local.put({ ...doc, state: 'withdrawn' });
    await local.replicate.to(remote);
    for (let i = 0; i < 100 && !(verifyExposure((await events())[0], keys)?.withdrawn); i++) await new Promise((r) => setTimeout(r, 100));
    [signed] = await events();
    expect(verifyExposure(signed, keys)).toMatchObject({ version: 2, withdrawn: true });
    expect((await fetch(`${base}/api/exposures/10`).then((r) => r.json())).events).toEqual([]);
  });

  it('venue owners can neither publish exposure events nor read the drafts', async () => {
    const local = localDb();
    await local.put(draft({ _id: `exposure:${VA}:ownerfake1`, eventId: 'ownerfake1' }));
    const result = await local.replicate.to(remoteDb(base, DB_C, cookies.ownerA));
    expect(result.doc_write_failures).toBe(1);
    const pulled = localDb();
    await pulled.replicate.from(remoteDb(base, DB_C, cookies.ownerA));
    expect((await pulled.allDocs()).rows.some((r) => r.id.startsWith('exposure:'))).toBe(false);
  });
});

describe('the access table', () => {
  const ROLES: Who[] = ['anonymous', 'ownerA', 'ownerB', 'team', 'otherTeam', 'admin'];
  // Owners may register a venue in any commune, so they reach every commune database, filtered to their venues.
  // Admins pull the public databases only: a commune database, even one in their unit, never
  // (they read aggregates through /api).
  const pullable = (who: Who, db: string) =>
    db === 'lv_directory' ||
    db === 'lv_exposures' ||
    (db.startsWith('lv_c_') && (who === 'ownerA' || who === 'ownerB')) ||
    (db === DB_C && who === 'team') ||
    (db === DB_OTHER && who === 'otherTeam');
  const pushable = (who: Who, db: string) => db.startsWith('lv_c_') && pullable(who, db);

  it('allows exactly what the table says, for every role, database and endpoint', async () => {
    const failures: string[] = [];
    // Denied: 401 / 403, or 404 for a database the gateway does not serve at all. A missing checkpoint is an allowed 404.
    const expectStatus = (label: string, res: { status: number; text: string }, allowed: boolean) => {
      const denied = res.status === 401 || res.status === 403 || (res.status === 404 && !res.text.includes('"missing"')) || res.status === 405;
      if (allowed === denied) failures.push(`${label}: ${res.status} ${res.text.slice(0, 80)} (expected ${allowed ? 'allowed' : 'denied'})`);
    };
    for (const who of ROLES) {
      for (const db of ['lv_directory', 'lv_exposures', DB_C, DB_OTHER, 'lv_users', 'lv_reports', 'lv_share_codes', '_users', '_replicator']) {
        const pull = pullable(who, db);
        const push = pushable(who, db);
        expectStatus(`${who} GET ${db}`, await call(who, 'GET', `/sync/${db}`), pull);
        expectStatus(`${who} _changes ${db}`, await call(who, 'GET', `/sync/${db}/_changes?since=0`), pull);
        expectStatus(`${who} _bulk_get ${db}`, await call(who, 'POST', `/sync/${db}/_bulk_get?revs=true`, { docs: [] }), pull);
        expectStatus(`${who} GET _local ${db}`, await call(who, 'GET', `/sync/${db}/_local/never-written`), pull);
        // Anonymous readers' checkpoints (CouchDB's replicator) are kept in memory, never stored: hostile.test.ts.
        expectStatus(`${who} PUT _local ${db}`, await call(who, 'PUT', `/sync/${db}/_local/x`, { a: 1 }), pull);
        expectStatus(`${who} _revs_diff ${db}`, await call(who, 'POST', `/sync/${db}/_revs_diff`, {}), push);
        expectStatus(`${who} _bulk_docs ${db}`, await call(who, 'POST', `/sync/${db}/_bulk_docs`, { docs: [] }), push);
        // Never through the gateway, for anyone: CouchDB's other endpoints.
        for (const [method, url] of [
          ['GET', `/sync/${db}/_all_docs`],
          ['PUT', `/sync/${db}`],
          ['DELETE', `/sync/${db}`],
          ['POST', `/sync/${db}`],
          ['GET', `/sync/${db}/_design/lv`],
          ['GET', `/sync/${db}/_security`],
          ['POST', `/sync/${db}/_find`],
          ['GET', `/sync/_all_dbs`],
          ['POST', `/sync/_replicate`]
        ] as const) {
          expectStatus(`${who} ${method} ${url}`, await call(who, method, url, method === 'GET' || method === 'DELETE' ? undefined : {}), false);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('an admin pulls lv_directory and lv_exposures, and gets 403 on every commune database of its unit', async () => {
    for (const db of ['lv_directory', 'lv_exposures']) expect((await call('admin', 'GET', `/sync/${db}/_changes?since=0`)).status).toBe(200);
    for (const db of [DB_C, DB_OTHER]) {
      for (const [method, url, body] of [
        ['GET', `/sync/${db}`, undefined],
        ['GET', `/sync/${db}/_changes?since=0`, undefined],
        ['POST', `/sync/${db}/_bulk_get?revs=true`, { docs: [] }],
        ['POST', `/sync/${db}/_bulk_docs`, { docs: [] }]
      ] as const) {
        const res = await call('admin', method, url, body);
        expect(res.status, `${method} ${url}`).toBe(403);
      }
    }
  });

  it('never shows an owner anything of another venue or commune', async () => {
    const seen = [
      (await call('ownerB', 'GET', `/sync/${DB_C}/_changes?since=0`)).text,
      (await call('ownerB', 'POST', `/sync/${DB_C}/_bulk_get?revs=true`, { docs: [{ id: `venue:${VA}` }, { id: `venue:${VT}` }] })).text,
      (await call('ownerB', 'GET', `/sync/${DB_C}/venue:${VA}`)).text,
      (await call('ownerB', 'GET', `/sync/${DB_C}`)).text
    ].join('\n');
    expect(seen).not.toContain('Tạp hóa Bà Năm');
    expect(seen).not.toContain('Nguyễn Văn A');
    expect(seen).not.toContain('Chốt kiểm dịch');
    expect(seen).not.toContain('doc_count');
    expect(seen).toContain(VB);
  });

  it('answers malformed and oversized bodies with clear 4xx errors', async () => {
    const bad = await fetch(`${base}/sync/${DB_C}/_bulk_docs`, { method: 'POST', headers: { cookie: cookies.team!, 'content-type': 'application/json' }, body: '{"docs": [' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/malformed/);
    const big = await fetch(`${base}/sync/${DB_C}/_bulk_docs`, {
      method: 'POST',
      headers: { cookie: cookies.team!, 'content-type': 'application/json' },
      body: JSON.stringify({ docs: [{ _id: 'x', pad: 'a'.repeat(9 * 1024 * 1024) }] })
    });
    expect(big.status).toBe(413);
    const notList = await call('team', 'POST', `/sync/${DB_C}/_bulk_docs`, { docs: 'x' });
    expect(notList.status).toBe(400);
  });
});

describe('casework documents: the team of the commune only', () => {
  const person = { source: 'manual' as const, name: 'Phạm Thị Ca Bệnh', phone: '0987000111' };
  /** A case, the follow-up of one of its contacts, and a shared diary of it, all valid for `communeCode`. */
  function casework(caseId: string, communeCode = COMMUNE) {
    const now = Date.now();
    // Fixed id: the same case gives the same follow-up id.
    const found = { ...entry(VA, recent(9), 'Lê Văn Tiếp Xúc', communeCode), _id: entryDocId(VA, recent(9), caseId.slice(-8)) } as StationEntryRecord;
    const share: DiaryShareRecord = {
      _id: `diaryshare:${caseId}:${'s'.repeat(8)}${caseId.slice(0, 8)}`,
      type: 'diaryshare',
      schema: 1,
      communeCode,
      caseId,
      receivedAt: new Date(now).toISOString(),
      visits: [{ venueId: VA, communeCode, place: 'Tạp hóa Bà Năm', from: now - 7_200_000, to: now - 3_600_000, source: 'diary' }]
    };
    const docs = [newCase(caseId, communeCode, person, '2021-08-20', now), newFollowup(found, communeCode, now, { caseId }), share];
    // As plain JSON for PouchDB (whose types do not take the schemas' optional `_conflicts: unknown`).
    return docs as unknown as ({ _id: string } & Record<string, unknown>)[];
  }
  const CASE = 'f0case0000000001';
  const ids = casework(CASE).map((d) => d._id);
  const isCasework = (id: string) => /^(case|followup|diaryshare):/.test(id);

  it('a team member pushes and pulls cases, follow-ups and shared diaries of a commune in scope', async () => {
    const local = localDb();
    await local.bulkDocs(casework(CASE));
    const remote = remoteDb(base, DB_C, cookies.team);
    const pushed = await local.replicate.to(remote);
    expect(pushed).toMatchObject({ docs_written: 3, doc_write_failures: 0 });
    const pulled = localDb();
    await pulled.replicate.from(remote);
    const got = (await pulled.allDocs()).rows.map((r) => r.id);
    expect(got).toEqual(expect.arrayContaining(ids));
    expect(JSON.parse((await call('team', 'GET', `/sync/${DB_C}/${encodeURIComponent(ids[0]!)}`)).text)).toMatchObject({ type: 'case', caseId: CASE });
    // And edits them: closing the case.
    const kase = await pulled.get(ids[0]!);
    await pulled.put({ ...kase, status: 'closed' });
    expect(await pulled.replicate.to(remote)).toMatchObject({ docs_written: 1, doc_write_failures: 0 });
  });

  it('a team member gets 403 on a commune out of scope, pulling and pushing', async () => {
    for (const [who, db, docs] of [
      ['otherTeam', DB_C, casework('f0case0000000002')],
      ['team', DB_OTHER, casework('f0case0000000003', OTHER_COMMUNE)]
    ] as const) {
      for (const res of [
        await call(who, 'GET', `/sync/${db}/_changes?since=0`),
        await call(who, 'POST', `/sync/${db}/_bulk_get?revs=true`, { docs: [{ id: ids[0] }] }),
        await call(who, 'GET', `/sync/${db}/${encodeURIComponent(ids[0]!)}`),
        await call(who, 'POST', `/sync/${db}/_revs_diff`, { [docs[0]!._id]: ['1-abc'] }),
        await call(who, 'POST', `/sync/${db}/_bulk_docs`, { docs })
      ]) {
        expect(res.status, `${who} ${db}`).toBe(403);
        expect(res.text).toContain('forbidden');
        expect(res.text).not.toContain('Ca Bệnh');
      }
      const failed = await localDb()
        .replicate.from(remoteDb(base, db, cookies[who]))
        .then(
          () => null,
          (err: { status?: number }) => err
        );
      expect(failed?.status).toBe(403);
    }
    const other = await call('team', 'GET', `/sync/${DB_OTHER}/${encodeURIComponent('case:f0case0000000003')}`);
    expect(other.status).toBe(403);
  });

  it('a venue owner of the commune neither sees them nor pushes them', async () => {
    const changes = JSON.parse((await call('ownerA', 'GET', `/sync/${DB_C}/_changes?since=0`)).text) as { results: { id: string }[] };
    expect(changes.results.length).toBeGreaterThan(0);
    expect(changes.results.filter((r) => isCasework(r.id))).toEqual([]);
    const bulkGet = JSON.parse((await call('ownerA', 'POST', `/sync/${DB_C}/_bulk_get?revs=true`, { docs: ids.map((id) => ({ id })) })).text) as {
      results: { id: string; docs: { error?: { error: string }; ok?: unknown }[] }[];
    };
    expect(bulkGet.results).toHaveLength(3);
    for (const r of bulkGet.results) expect(r.docs).toEqual([{ error: expect.objectContaining({ error: 'forbidden' }) }]);
    for (const id of ids) expect((await call('ownerA', 'GET', `/sync/${DB_C}/${encodeURIComponent(id)}`)).status).toBe(404);
    const pulled = localDb();
    await pulled.replicate.from(remoteDb(base, DB_C, cookies.ownerA));
    expect((await pulled.allDocs()).rows.filter((r) => isCasework(r.id))).toEqual([]);

    // Pushing new ones, overwriting or deleting the team's: refused one by one.
    const team = remoteDb(base, DB_C, cookies.team);
    const stored = await team.get(ids[0]!);
    const push = await call('ownerA', 'POST', `/sync/${DB_C}/_bulk_docs`, {
      docs: [...casework('f0case0000000004'), { ...stored, notes: 'sửa trái phép' }, { _id: ids[1], _rev: '1-abc', _deleted: true }, venue(VA, users.ownerA, 'Tạp hóa Bà Năm')]
    });
    expect(push.status).toBe(201);
    const rows = JSON.parse(push.text) as { id: string; error?: string; ok?: boolean }[];
    expect(rows.slice(0, 5).map((r) => r.error)).toEqual(['forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden']);
    expect(rows[5]).toMatchObject({ id: `venue:${VA}` });
    const local = localDb();
    await local.bulkDocs(casework('f0case0000000005'));
    expect(await local.replicate.to(remoteDb(base, DB_C, cookies.ownerA))).toMatchObject({ docs_written: 0, doc_write_failures: 3 });
    expect(await team.get(ids[0]!)).toMatchObject({ _rev: stored._rev });
    await expect(team.get('case:f0case0000000004')).rejects.toMatchObject({ status: 404 });
  });

  it('anonymous callers get nothing', async () => {
    for (const res of [
      await call('anonymous', 'GET', `/sync/${DB_C}/_changes?since=0`),
      await call('anonymous', 'POST', `/sync/${DB_C}/_bulk_get?revs=true`, { docs: ids.map((id) => ({ id })) }),
      await call('anonymous', 'GET', `/sync/${DB_C}/${encodeURIComponent(ids[0]!)}`),
      await call('anonymous', 'POST', `/sync/${DB_C}/_bulk_docs`, { docs: casework('f0case0000000006') })
    ]) {
      expect(res.status).toBe(401);
      expect(res.text).not.toContain('Ca Bệnh');
    }
  });
});
