/**
 * A replica's pull with its documents in the changes it reads (src/lib/client/changes-with-docs.ts)
 * against the real gateway and store: a day's delta (new records, edits, a deletion, a document
 * edited on two devices) reaches the device exactly as PouchDB's replicator alone brings it (every
 * leaf, an edit after the revision held and not beside it), without a `_bulk_get` on the wire; and
 * the gateway's read with every leaf keeps the access rules of its other reads.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { changesWithDocs } from '../../src/lib/client/changes-with-docs';
import { localDb, localLeaves, login, manualEntryDoc, PouchDB, register, storeLeaves, venueDoc } from './sync-helpers';

const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
let server: RunningServer;
let dataDir: string;
let base: string;
let team = '';
let owner = { cookie: '', userId: '' };

const VA = 'venueaaaaaaa';
const VT = 'venuetttttt2';
const NOW = Date.now() - 3_600_000;
let seq = 0;

const venue = (venueId: string, name: string, ownerId?: string) => venueDoc(COMMUNE, venueId, name, ownerId);
function entry(venueId: string, name: string) {
  const time = NOW - ++seq * 60_000;
  return manualEntryDoc(COMMUNE, venueId, time, name, `k${String(seq).padStart(7, '0')}`);
}

/** A remote database through changesWithDocs, recording every request that goes on the wire. */
function recordingRemote(cookie: string) {
  const sent: { method: string; url: string; body: string }[] = [];
  const wire = (async (url: string | Request, opts?: RequestInit) => {
    const headers = new Headers(opts?.headers);
    headers.set('cookie', cookie);
    sent.push({ method: opts?.method ?? 'GET', url: String(url), body: typeof opts?.body === 'string' ? opts.body : '' });
    return (PouchDB as unknown as { fetch: typeof fetch }).fetch(url, { ...opts, headers });
  }) as typeof fetch;
  const remote = new PouchDB(`${base}/sync/${DB}`, { skip_setup: true, fetch: changesWithDocs(wire) } as PouchDB.Configuration.RemoteDatabaseConfiguration);
  return { sent, remote };
}

async function call(cookie: string, url: string) {
  const res = await fetch(`${base}${url}`, { headers: cookie ? { cookie } : {} });
  return { status: res.status, text: await res.text() };
}

async function store(docs: Record<string, unknown>[], newEdits = true) {
  const res = await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs, new_edits: newEdits } });
  expect(res.status).toBe(201);
  return res.body as { id: string; rev: string }[];
}
async function serverDoc(id: string) {
  return (await server.store.request('GET', `${DB}/${encodeURIComponent(id)}`)).body as Record<string, unknown> & { _rev: string };
}

const serverLeaves = () => storeLeaves(server.store, DB);

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-cwd-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  await server.store.ensureCommuneDb(COMMUNE);
  await createUser(server.store, { phone: '0911000203', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  team = (await login(base, '0911000203', 'mat-khau-dai')).cookie;
  owner = await register(base, '0911000201');
  const docs: Record<string, unknown>[] = [venue(VA, 'Tạp hóa Bà Năm', owner.userId), venue(VT, 'Chốt kiểm dịch cầu Linh Cảm')];
  for (let i = 0; i < 30; i++) docs.push(entry(VT, `Người thứ ${i}`));
  for (let i = 0; i < 3; i++) docs.push(entry(VA, `Khách quán ${i}`));
  await store(docs);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("a replica's pull with the documents in its changes", () => {
  it("brings a day's delta, conflicts and deletions included, as the replicator alone would, with no _bulk_get on the wire", async () => {
    const db = localDb();
    const { sent, remote } = recordingRemote(team);
    await db.sync(remote, { batch_size: 7 } as PouchDB.Replication.SyncOptions);
    expect(await localLeaves(db)).toEqual(await serverLeaves());

    // The day on the server: records edited, new ones, one deleted, one edited on two devices at once.
    const ids = [...(await serverLeaves()).keys()].filter((id) => id.startsWith('entry:'));
    const [edited, twiceEdited, deleted, deviceEdited] = ids;
    const e = await serverDoc(edited!);
    await store([{ ...e, direction: 'out' }]);
    const t = await serverDoc(twiceEdited!);
    const [gen, hash] = t._rev.split('-');
    const child = (h: string, name: string) => ({ ...t, person: { source: 'manual', name, phone: '0987654321' }, _rev: `${Number(gen) + 1}-${h.repeat(32)}`, _revisions: { start: Number(gen) + 1, ids: [h.repeat(32), hash] } });
    await store([child('a', 'Sửa trên máy A'), child('b', 'Sửa trên máy B')], false);
    const d = await serverDoc(deleted!);
    await store([{ _id: deleted, _rev: d._rev, _deleted: true }]);
    await store(Array.from({ length: 12 }, (_, i) => entry(VT, `Hôm nay ${i}`)));
    // And one record edited on the device meanwhile: it goes up, as before.
    const mine = await db.get(deviceEdited!);
    await db.put({ ...mine, direction: 'out' });

    const before = sent.length;
    await db.sync(remote, { batch_size: 5 } as PouchDB.Replication.SyncOptions);
    const server2 = await serverLeaves();
    expect(await localLeaves(db)).toEqual(server2);
    expect(server2.get(twiceEdited!)).toHaveLength(2);
    expect(server2.get(edited!)).toHaveLength(1);
    expect((await db.get(edited!, { revs: true }))._revisions!.ids).toHaveLength(2);
    await expect(db.get(deleted!)).rejects.toMatchObject({ status: 404 });
    expect(server2.get(deviceEdited!)![0]).toMatch(/^2-/);

    const delta = sent.slice(before);
    expect(delta.filter((r) => r.url.includes('/_bulk_get'))).toEqual([]);
    const reads = delta.filter((r) => r.url.includes('/_changes'));
    expect(reads.length).toBeGreaterThan(1);
    for (const r of reads) expect(new URL(r.url).searchParams.get('revs')).toBe('true');
  });

  it('from a server that does not send leaves with their history (CouchDB itself, a gateway from before), the pull asks _bulk_get as before and misses nothing', async () => {
    // The store's own CouchDB API: it answers include_docs with `doc` per row and ignores revs=true,
    // as a gateway from before this read passed it through.
    const storeUrl = String((server.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
    const sent: string[] = [];
    const wire = (async (url: string | Request, opts?: RequestInit) => {
      sent.push(String(url));
      return (PouchDB as unknown as { fetch: typeof fetch }).fetch(url, opts);
    }) as typeof fetch;
    const remote = new PouchDB(`${storeUrl}/${DB}`, { skip_setup: true, fetch: changesWithDocs(wire) } as PouchDB.Configuration.RemoteDatabaseConfiguration);
    const db = localDb();
    await db.replicate.from(remote, { batch_size: 6 } as PouchDB.Replication.ReplicateOptions);
    expect(await localLeaves(db)).toEqual(await serverLeaves());
    expect(sent.filter((u) => u.includes('/_bulk_get')).length).toBeGreaterThan(0);
  });

  it('a live pull gets what the server writes next, from its waiting read', async () => {
    const db = localDb();
    const { sent, remote } = recordingRemote(team);
    await db.replicate.from(remote, { batch_size: 100 });
    const live = db.replicate.from(remote, { live: true, batch_size: 100 });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const fresh = entry(VT, 'Vừa quét');
      await store([fresh]);
      for (let i = 0; i < 100 && !(await db.get(fresh._id).catch(() => null)); i++) await new Promise((r) => setTimeout(r, 100));
      expect((await db.get(fresh._id)).person).toMatchObject({ name: 'Vừa quét' });
    } finally {
      live.cancel();
    }
    const waits = sent.filter((r) => r.url.includes('feed=longpoll'));
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((r) => r.url.includes('revs=true'))).toBe(true);
    expect(sent.filter((r) => r.url.includes('/_bulk_get'))).toEqual([]);
  });
});

describe('a pull of named documents (doc_ids)', () => {
  it('finds them past the first batch of the database\'s changes', async () => {
    // How a first load brings its conflicted documents: by id, from a commune of thousands of changes.
    await store(Array.from({ length: 60 }, (_, i) => entry(VT, `Trước ${i}`)));
    const late = entry(VT, 'Tìm theo mã');
    await store([late]);
    const db = localDb();
    const { remote } = recordingRemote(team);
    await db.replicate.from(remote, { doc_ids: [late._id], batch_size: 20 });
    expect((await db.get(late._id)).person).toMatchObject({ name: 'Tìm theo mã' });
    expect((await db.info()).doc_count).toBe(1);
  });
});

describe('the gateway read with every leaf', () => {
  it('keeps the access rules of the other reads, in a normal and a waiting feed', async () => {
    const q = 'include_docs=true&revs=true&style=all_docs&limit=1000';
    const all = await call(team, `/sync/${DB}/_changes?${q}`);
    expect(all.status).toBe(200);
    const rows = (JSON.parse(all.text) as { results: { id: string; docs: { _id: string; _revisions: unknown }[] }[] }).results;
    expect(rows.length).toBeGreaterThan(30);
    expect(rows.every((r) => r.docs.every((d) => d._id === r.id && d._revisions))).toBe(true);
    for (const feed of ['normal', 'longpoll']) {
      const own = await call(owner.cookie, `/sync/${DB}/_changes?${q}&feed=${feed}&timeout=1000`);
      expect(own.status, feed).toBe(200);
      expect(own.text).toContain('Khách quán');
      expect(own.text).not.toContain('Chốt kiểm dịch');
      expect(own.text).not.toContain('Người thứ');
    }
    expect((await call('', `/sync/${DB}/_changes?${q}`)).status).toBe(401);
  });

  it('answers a read of every leaf beyond 1,000 rows, or in a continuous feed, with a 400 and a reason', async () => {
    for (const url of [`/sync/${DB}/_changes?include_docs=true&revs=true&limit=1001`, `/sync/${DB}/_changes?include_docs=true&revs=true`, `/sync/${DB}/_changes?include_docs=true&revs=true&limit=10&feed=continuous`]) {
      const res = await call(team, url);
      expect(res.status, url).toBe(400);
      expect(JSON.parse(res.text).reason, url).toMatch(/include_docs/);
    }
  });
});
