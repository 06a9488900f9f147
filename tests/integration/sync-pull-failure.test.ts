/**
 * A pull whose read of changes fails midway (a reset connection: a server instance or a store node
 * killed) must not leave a checkpoint past changes it never fetched: the next pull brings every
 * document, for a one-off pull and for a live one that retries (the app's). PouchDB's replicator
 * drops the batches it had read ahead when a `_changes` read fails, while the batch in flight
 * carries on past them (src/lib/client/pull-guard.ts); the team's pull in tests/cluster lost a
 * second of entries that way when a CouchDB node was killed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { guardPullSource } from '../../src/lib/client/pull-guard';
import { localDb, login, manualEntryDoc, PouchDB, venueDoc } from './sync-helpers';

const COMMUNE = '18073'; // a commune the demo leaves empty: every page of its changes is full
const DB = `lv_c_${COMMUNE}`;
const VENUE = 'venuepullfaa';
const ENTRIES = 120;
let server: RunningServer;
let dataDir: string;
let team = '';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-pull-failure-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  await server.store.ensureCommuneDb(COMMUNE);
  await createUser(server.store, { phone: '0911000303', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
  team = (await login(server.url, '0911000303', 'mat-khau-dai')).cookie;
  const now = Date.now() - 3_600_000;
  const docs: Record<string, unknown>[] = [venueDoc(COMMUNE, VENUE, 'Chợ phiên')];
  for (let i = 0; i < ENTRIES; i++) docs.push(manualEntryDoc(COMMUNE, VENUE, now + i * 1000, `Khách ${i}`, `k${String(i).padStart(7, '0')}`));
  const res = await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs } });
  expect(res.status).toBe(201);
  expect((res.body as { error?: string }[]).filter((r) => r.error)).toEqual([]);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * The gateway as a device reaches it, over a link that can break: `_bulk_get` answers slowly (so
 * the replicator reads changes ahead of the batch it writes), and the `failAt`-th read of changes
 * meets a reset connection (0: none). Requests once `log.done` is set are counted as late ones.
 */
function flakyRemote(failAt: number) {
  let changesReads = 0;
  const log = { late: 0, done: false };
  const pouchFetch = (PouchDB as unknown as { fetch: typeof fetch }).fetch;
  const remote = new PouchDB(`${server.url}/sync/${DB}`, {
    skip_setup: true,
    fetch: async (url: string | Request, opts?: RequestInit) => {
      if (log.done) log.late++;
      const headers = new Headers(opts?.headers);
      headers.set('cookie', team);
      const pathname = new URL(String(url)).pathname;
      if (pathname.endsWith('/_changes') && ++changesReads === failAt) throw new TypeError('fetch failed: read ECONNRESET');
      if (pathname.endsWith('/_bulk_get')) await pause(150);
      return pouchFetch(url, { ...opts, headers });
    }
  } as PouchDB.Configuration.RemoteDatabaseConfiguration);
  return { remote: guardPullSource(remote), log };
}

describe('a pull whose read of changes fails midway', () => {
  it('one-off: leaves no checkpoint past what it fetched, and the next pull brings every document', async () => {
    const db = localDb();
    const flaky = flakyRemote(4);
    await expect(db.replicate.from(flaky.remote, { batch_size: 10 })).rejects.toThrow();
    flaky.log.done = true;
    // Whatever the failed replication still does, it does now (a batch in flight ends in well under this).
    await pause(1500);

    await db.replicate.from(flakyRemote(0).remote, { batch_size: 10 });
    expect(await entries(db), `entries in the replica after a failed pull and a good one (requests by the failed one after it failed: ${flaky.log.late})`).toBe(ENTRIES);
  });

  it('live, retrying as the app does: every document arrives', async () => {
    const db = localDb();
    const flaky = flakyRemote(4);
    const live = db.replicate.from(flaky.remote, { batch_size: 10, live: true, retry: true, back_off_function: () => 200 } as PouchDB.Replication.ReplicateOptions);
    live.on('error', () => {});
    try {
      // Caught up when it pauses without an error, after the failure.
      await new Promise<void>((resolve) => live.on('paused', (err?: unknown) => !err && resolve()));
      await pause(1000);
    } finally {
      live.cancel();
    }
    expect(await entries(db), 'entries in the replica of a live pull whose read of changes failed once').toBe(ENTRIES);
  });
});

async function entries(db: PouchDB.Database): Promise<number> {
  return (await db.allDocs({ startkey: 'entry:', endkey: 'entry:\ufff0' })).rows.length;
}
