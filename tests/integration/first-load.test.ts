/**
 * A team device's first load (src/lib/client/first-load.ts) against the real gateway and store:
 * pages of `_changes?include_docs=true`, then the live sync from where the load ended. Nothing the
 * server has is missed (conflicts and deletions included), a record written on the device during the
 * load goes up, what was loaded is not offered back, and a load cut off midway resumes. The gateway's
 * new read holds to the same access rules as every other read.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { firstLoad, mayFirstLoad, type FirstLoadProgress, type SyncStart } from '../../src/lib/client/first-load';
import { localDb, localLeaves, login, manualEntryDoc, PouchDB, register, storeLeaves, venueDoc } from './sync-helpers';

const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
let server: RunningServer;
let dataDir: string;
let base: string;
let team = '';
let owner = { cookie: '', userId: '' };

const venue = (venueId: string, name: string, ownerId?: string) => venueDoc(COMMUNE, venueId, name, ownerId);
const entry = (venueId: string, time: number, name: string) => manualEntryDoc(COMMUNE, venueId, time, name, Math.random().toString(36).slice(2, 10));

/** Fetch with a session cookie, recording the URL and body of each request. */
function recording(cookie: string) {
  const sent: { url: string; body: string }[] = [];
  const doFetch = (async (url: string | Request, opts?: RequestInit) => {
    const headers = new Headers(opts?.headers);
    headers.set('cookie', cookie);
    sent.push({ url: String(url), body: typeof opts?.body === 'string' ? opts.body : '' });
    return (PouchDB as unknown as { fetch: typeof fetch }).fetch(url, { ...opts, headers });
  }) as typeof fetch;
  const remote = () => new PouchDB(`${base}/sync/${DB}`, { skip_setup: true, fetch: doFetch } as PouchDB.Configuration.RemoteDatabaseConfiguration);
  return { sent, doFetch, remote };
}

async function call(cookie: string, url: string) {
  const res = await fetch(`${base}${url}`, { headers: cookie ? { cookie } : {} });
  return { status: res.status, text: await res.text() };
}

const VA = 'venueaaaaaaa';
const VT = 'venuetttttt2';
const NOW = Date.now() - 3_600_000;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-fl-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  await server.store.ensureCommuneDb(COMMUNE);
  await createUser(server.store, { phone: '0911000103', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  team = (await login(base, '0911000103', 'mat-khau-dai')).cookie;
  owner = await register(base, '0911000101');
  const docs: Record<string, unknown>[] = [venue(VA, 'Tạp hóa Bà Năm', owner.userId), venue(VT, 'Chốt kiểm dịch cầu Linh Cảm')];
  for (let i = 0; i < 40; i++) docs.push(entry(VT, NOW - i * 60_000, `Người thứ ${i}`));
  const stored = await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs } });
  expect(stored.status).toBe(201);
  // A deleted document and one with two leaf revisions (edited on two devices), as the server holds them.
  const gone = entry(VT, NOW - 90 * 60_000, 'Đã xóa');
  const put = await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs: [gone] } });
  const goneRev = (put.body as { rev: string }[])[0]!.rev;
  await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs: [{ _id: gone._id, _rev: goneRev, _deleted: true }] } });
  const twice = entry(VT, NOW - 95 * 60_000, 'Hai bản');
  await server.store.request('POST', `${DB}/_bulk_docs`, {
    body: {
      new_edits: false,
      docs: [
        { ...twice, _rev: '2-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', _revisions: { start: 2, ids: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '11111111111111111111111111111111'] } },
        { ...twice, person: { ...twice.person, name: 'Hai bản (sửa)' }, _rev: '2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', _revisions: { start: 2, ids: ['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '11111111111111111111111111111111'] } }
      ]
    }
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const serverLeaves = () => storeLeaves(server.store, DB);

async function syncOnce(db: PouchDB.Database, remote: PouchDB.Database, start: SyncStart) {
  await db.sync(remote, { batch_size: 1000, pull: { since: start.pull }, push: { since: start.push } } as PouchDB.Replication.SyncOptions);
}

describe('a team device first loads the commune in pages, then syncs from there', () => {
  it('holds every document the server has, conflicts included, and offers nothing loaded back', async () => {
    const db = localDb();
    expect(await mayFirstLoad(db)).toBe(true);
    const { sent, doFetch, remote } = recording(team);
    let pages = 0;
    let written = '';
    const start = await firstLoad(db, {
      url: `${base}/sync/${DB}`,
      pageSize: 7,
      fetch: doFetch,
      progress: null,
      save: () => {},
      onPage: async () => {
        // A record made on the device while the load runs, between two pages.
        if (++pages === 2) written = (await db.put(entry(VT, NOW - 200 * 60_000, 'Ghi trên máy khi đang tải'))).id;
      },
      pullIds: async (ids) => void (await db.replicate.from(remote(), { doc_ids: ids })),
      pushIds: async (ids) => void (await db.replicate.to(remote(), { doc_ids: ids }))
    });
    expect(pages).toBeGreaterThan(3);
    // The record written during the load went up with the load, by id.
    const loadAsked = sent.filter((r) => r.url.includes('_revs_diff')).flatMap((r) => Object.keys(JSON.parse(r.body) as object));
    expect(loadAsked).toContain(written);
    const loadRequests = sent.length;
    await syncOnce(db, remote(), start);
    const held = await serverLeaves();
    expect(held.has(written)).toBe(true);
    expect(await localLeaves(db)).toEqual(held);
    expect([...held.values()].some((revs) => revs.length === 2)).toBe(true);
    // The live sync offers nothing of what was loaded back.
    const asked = sent.slice(loadRequests).filter((r) => r.url.includes('_revs_diff')).flatMap((r) => Object.keys(JSON.parse(r.body) as object));
    expect(asked).toEqual([]);
    expect(loadAsked.length).toBeLessThan(4);

    // Loaded documents carry their revision alone, without its history: an edit on the server and
    // one on the device still follow on from it, with no second leaf on either side.
    const onServer = [...held.keys()].find((id) => id.startsWith('entry:') && held.get(id)!.length === 1 && id !== written)!;
    const onDevice = [...held.keys()].find((id) => id.startsWith('entry:') && held.get(id)!.length === 1 && id !== written && id !== onServer)!;
    const serverDoc = (await server.store.request('GET', `${DB}/${encodeURIComponent(onServer)}`)).body as Record<string, unknown>;
    expect((await server.store.request('PUT', `${DB}/${encodeURIComponent(onServer)}`, { body: { ...serverDoc, direction: 'out' } })).status).toBe(201);
    const deviceDoc = await db.get(onDevice);
    await db.put({ ...deviceDoc, direction: 'out' });
    await syncOnce(db, remote(), { pull: start.pull, push: start.push });
    const after = await serverLeaves();
    expect(after.get(onServer)!.length).toBe(1);
    expect(after.get(onDevice)!.length).toBe(1);
    expect(after.get(onDevice)![0]).toMatch(/^2-/);
    expect(await localLeaves(db)).toEqual(after);
  });

  it('a load cut off midway resumes where it was, and a deleted document stays deleted', async () => {
    const db = localDb();
    const { sent, doFetch, remote } = recording(team);
    let saved: FirstLoadProgress | null = null;
    const cut = new AbortController();
    let pages = 0;
    const options = (progress: FirstLoadProgress | null, signal?: AbortSignal) => ({
      url: `${base}/sync/${DB}`,
      pageSize: 7,
      fetch: doFetch,
      signal,
      progress,
      save: (p: FirstLoadProgress) => void (saved = p),
      onPage: () => void (++pages === 2 && cut.abort()),
      pullIds: async (ids: string[]) => void (await db.replicate.from(remote(), { doc_ids: ids })),
      pushIds: async (ids: string[]) => void (await db.replicate.to(remote(), { doc_ids: ids }))
    });
    await expect(firstLoad(db, options(null, cut.signal))).rejects.toThrow();
    expect(saved).not.toBeNull();
    const partly = (await db.info()).doc_count;
    expect(partly).toBeGreaterThan(0);
    const start = await firstLoad(db, options(saved));
    const loadRequests = sent.length;
    await syncOnce(db, remote(), start);
    // Nothing was written on the device: the push asks about the conflicted document at most.
    const asked = sent.slice(loadRequests).filter((r) => r.url.includes('_revs_diff')).flatMap((r) => Object.keys(JSON.parse(r.body) as object));
    expect(asked.length).toBeLessThan(3);
    expect(await localLeaves(db)).toEqual(await serverLeaves());
    const deleted = (await server.store.request('GET', `${DB}/_changes`)).body as { results: { id: string; deleted?: boolean }[] };
    for (const row of deleted.results.filter((r) => r.deleted)) await expect(db.get(row.id)).rejects.toMatchObject({ status: 404 });
  });

  it('a progress mark left from a database since removed starts the load over', async () => {
    const db = localDb();
    const { doFetch, remote } = recording(team);
    const stale: FirstLoadProgress = { since: 1_000_000, localSeq: 500, localWrites: [], conflicted: [] };
    const start = await firstLoad(db, {
      url: `${base}/sync/${DB}`,
      pageSize: 50,
      fetch: doFetch,
      progress: stale,
      save: () => {},
      pullIds: async (ids) => void (await db.replicate.from(remote(), { doc_ids: ids })),
      pushIds: async (ids) => void (await db.replicate.to(remote(), { doc_ids: ids }))
    });
    expect(start.pull).not.toBe(1_000_000);
    expect((await localLeaves(db)).size).toBe((await serverLeaves()).size);
  });

  it('a record saved between the emptiness check and the load goes up with the load', async () => {
    // An owner's first venue in a commune: saving it opens the commune's replica, whose first load
    // starts while the venue is being written; the load must not take it for part of the empty start.
    const db = localDb();
    expect(await mayFirstLoad(db)).toBe(true);
    const saved = (await db.put(entry(VT, NOW - 300 * 60_000, 'Ghi ngay khi mở'))).id;
    const { doFetch, remote } = recording(team);
    const pushed: string[] = [];
    const start = await firstLoad(db, {
      url: `${base}/sync/${DB}`,
      fetch: doFetch,
      progress: null,
      save: () => {},
      pullIds: async (ids) => void (await db.replicate.from(remote(), { doc_ids: ids })),
      pushIds: async (ids) => {
        pushed.push(...ids);
        await db.replicate.to(remote(), { doc_ids: ids });
      }
    });
    expect(pushed).toContain(saved);
    expect(start.push).toBeGreaterThanOrEqual(1);
    expect((await server.store.request('GET', `${DB}/${encodeURIComponent(saved)}`)).status).toBe(200);
  });

  it('a device that holds anything already syncs as before', async () => {
    const db = localDb();
    await db.put(entry(VT, NOW, 'Đã có trên máy'));
    expect(await mayFirstLoad(db)).toBe(false);
  });
});

describe('the gateway read behind it', () => {
  it('keeps every access rule of the other reads', async () => {
    const page = await call(team, `/sync/${DB}/_changes?include_docs=true&style=all_docs&limit=5000`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Chốt kiểm dịch cầu Linh Cảm');
    // An owner sees the documents of its own venues only; anonymous callers nothing.
    const own = await call(owner.cookie, `/sync/${DB}/_changes?include_docs=true&limit=5000`);
    expect(own.status).toBe(200);
    expect(own.text).toContain('Tạp hóa Bà Năm');
    expect(own.text).not.toContain('Chốt kiểm dịch');
    expect(own.text).not.toContain('Người thứ');
    expect((await call('', `/sync/${DB}/_changes?include_docs=true&limit=10`)).status).toBe(401);
  });

  it('answers a page without a bound, or in a continuous feed, with a 400 and a reason', async () => {
    for (const url of [
      `/sync/${DB}/_changes?include_docs=true`,
      `/sync/${DB}/_changes?include_docs=true&limit=5001`,
      `/sync/${DB}/_changes?include_docs=true&limit=0`,
      `/sync/${DB}/_changes?include_docs=yes&limit=10`,
      `/sync/${DB}/_changes?include_docs=true&limit=10&feed=continuous`
    ]) {
      const res = await call(team, url);
      expect(res.status, url).toBe(400);
      expect(JSON.parse(res.text).reason, url).toMatch(/include_docs/);
    }
  });
});
