/**
 * A caller who sees only part of a database (an owner: its own venues) must not be told "nothing
 * more" while its rows lie further on. PouchDB's replicator ends a one-off pull at the first empty
 * page of `_changes`, and the gateway filters the store's pages: a page made only of other venues'
 * rows came back empty, so an owner's pull stopped before its newest entries, and a long-poll
 * waited for the next change of the commune before reading on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { localDb, manualEntryDoc, register, remoteDb, venueDoc } from './sync-helpers';

const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
const MINE = 'venuemineaa2';
const THEIRS = 'venuetheirs2';
/** Other owners' entries between the owner's first and last documents: many pages of 20. */
const FOREIGN = 150;

let server: RunningServer;
let dataDir: string;
let owner: { cookie: string; userId: string };
/** The commune's sequence before the other owner's entries. */
let sinceBefore: unknown;
/** The owner's three newest entries, after the other owner's. */
let lastEntryIds: string[];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-pages-'));
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none') }));
  owner = await register(server.url, '0911000101');
  const other = await register(server.url, '0911000102');
  const push = async (cookie: string, docs: unknown[]) => {
    const res = await fetch(`${server.url}/sync/${DB}/_bulk_docs`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ docs }) });
    expect(res.status).toBe(201);
    const rows = (await res.json()) as { ok?: boolean; error?: string; reason?: string }[];
    expect(rows.filter((r) => !r.ok)).toEqual([]);
  };
  const t = Date.now() - 3_600_000;
  await push(owner.cookie, [venueDoc(COMMUNE, MINE, 'Quán Cơm Bà Tư', owner.userId), manualEntryDoc(COMMUNE, MINE, t, 'Khách đầu', 'first001')]);
  // The server signs the venue (a new revision of it): taken before the sequence, so that the
  // owner's rows after it are only the entries below.
  let signed = false;
  for (let i = 0; i < 300 && !signed; i++) {
    signed = !!((await server.store.request('GET', `${DB}/venue:${MINE}`)).body as { token?: string }).token;
    if (!signed) await new Promise((r) => setTimeout(r, 50));
  }
  expect(signed, 'the server signs the venue within 15 s').toBe(true);
  const info = await server.store.request('GET', DB);
  sinceBefore = (info.body as { update_seq: unknown }).update_seq;
  await push(other.cookie, [venueDoc(COMMUNE, THEIRS, 'Chợ Đêm', other.userId)]);
  for (let i = 0; i < FOREIGN; i += 50)
    await push(
      other.cookie,
      Array.from({ length: 50 }, (_, k) => manualEntryDoc(COMMUNE, THEIRS, t + i + k, `Khách ${i + k}`, `k${String(i + k).padStart(7, '0')}`))
    );
  const last = [1, 2, 3].map((k) => manualEntryDoc(COMMUNE, MINE, t + 10_000 + k, `Khách cuối ${k}`, `last000${k}`));
  lastEntryIds = last.map((d) => d._id);
  await push(owner.cookie, last);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const changes = async (query: string) => {
  const res = await fetch(`${server.url}/sync/${DB}/_changes?${query}`, { headers: { cookie: owner.cookie } });
  expect(res.status).toBe(200);
  return (await res.json()) as { results: { id: string; seq: unknown }[]; last_seq: unknown };
};

describe('an owner pulling a busy commune', () => {
  it('gets every document of its venues in a one-off pull with small batches', async () => {
    const local = localDb();
    const result = await local.replicate.from(remoteDb(server.url, DB, owner.cookie), { batch_size: 20 });
    expect(result.ok).toBe(true);
    const ids = (await local.allDocs()).rows.map((r) => r.id).sort();
    expect(ids).toHaveLength(5);
    expect(ids).toEqual(expect.arrayContaining(lastEntryIds));
    expect(ids.every((id) => id.includes(MINE))).toBe(true);
  });

  /**
   * Reads on from `since` until the owner's three newest entries are all answered; every answer must
   * hold something (an empty one is what ends a replicator's pull), keep to the limit, and repeat
   * nothing. CouchDB's shards interleave their rows, so how the three fall into answers varies.
   */
  async function readAll(query: string, limit: number) {
    const got: string[] = [];
    let since = sinceBefore;
    for (let i = 0; i < lastEntryIds.length && got.length < lastEntryIds.length; i++) {
      const started = Date.now();
      const page = await changes(`${query}&limit=${limit}&since=${encodeURIComponent(String(since))}`);
      expect(Date.now() - started, 'answered without waiting for another change').toBeLessThan(15_000);
      expect(page.results.length).toBeGreaterThan(0);
      expect(page.results.length).toBeLessThanOrEqual(limit);
      got.push(...page.results.map((r) => r.id));
      since = page.last_seq;
    }
    expect(got.sort()).toEqual(lastEntryIds);
  }

  it('is answered its next rows at once, past pages of rows it may not see', async () => {
    await readAll('feed=normal', 20);
    // A long-poll does not wait for the next change of the commune to read on.
    await readAll('feed=longpoll&timeout=20000', 20);
  });

  it('keeps to its limit and resumes after the last row answered', async () => {
    await readAll('feed=normal', 2);
    await readAll('feed=normal', 1);
  });
});
