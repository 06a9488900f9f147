/**
 * A province mirrors the public databases (`lv_directory`, `lv_exposures`) with Apache CouchDB's
 * own replicator, pulling from the gateway: one-shot and continuous. Runs where a real CouchDB is
 * given (`npm run test:couchdb`, LV_TEST_COUCHDB_URL); the replicator is CouchDB's, so there is
 * nothing to run it against on the embedded store alone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main';
import { login } from './sync-helpers';
import { testCouchdbUrl, testServerConfig } from './test-server';

const couchUrl = testCouchdbUrl();
const PASSWORD = 'to-covid-mirror-test';

/** A call to the CouchDB itself, as its admin. */
async function couch(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(couchUrl!);
  const authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const res = await fetch(`${url.href.replace(/\/+$/, '')}/${pathname}`, {
    method,
    headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const target = (db: string) => `${couchUrl!.replace(/\/+$/, '')}/${db}`;

describe.skipIf(!couchUrl)("CouchDB's replicator mirrors the public databases through the gateway", () => {
  let server: RunningServer;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-mirror-'));
    const staticDir = path.join(dataDir, 'build');
    mkdirSync(staticDir, { recursive: true });
    writeFileSync(path.join(staticDir, '200.html'), 'x');
    // A short bound on waiting clients: the continuous feed ends and the replicator reconnects within the test.
    server = await startServer(
      await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir, DEMO_TEAM_PASSWORD: PASSWORD, SYNC_LONGPOLL_MS: '2000' })
    );
    for (const db of ['mirror_directory', 'mirror_exposures']) await couch('DELETE', db);
  });

  afterAll(async () => {
    const doc = await couch('GET', '_replicator/mirror-exposures');
    if (doc.status === 200) await couch('DELETE', `_replicator/mirror-exposures?rev=${String(doc.json._rev)}`);
    for (const db of ['mirror_directory', 'mirror_exposures']) await couch('DELETE', db);
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('one-shot: copies every public document, and a second run finds nothing to do', async () => {
    const first = await couch('POST', '_replicate', { source: `${server.url}/sync/lv_directory`, target: target('mirror_directory'), create_target: true });
    expect(first.status).toBe(200);
    expect(first.json.ok).toBe(true);
    const changes = (await (await fetch(`${server.url}/sync/lv_directory/_changes?since=0`)).json()) as { results: unknown[] };
    const mirrored = await couch('GET', 'mirror_directory');
    expect(mirrored.json.doc_count).toBe(changes.results.length);
    const again = await couch('POST', '_replicate', { source: `${server.url}/sync/lv_directory`, target: target('mirror_directory') });
    // The checkpoints on both sides agree: nothing is read again.
    expect(again.json).toMatchObject({ ok: true, no_changes: true });
    // Its checkpoint on the source was kept in the server's memory, never in the store.
    const locals = await couch('GET', 'lv_directory/_local_docs');
    expect(locals.json.rows).toEqual([]);
  });

  it('continuous: a newly published event reaches the mirror, and the replication keeps running past the feed bound', async () => {
    const doc = { _id: 'mirror-exposures', source: `${server.url}/sync/lv_exposures`, target: target('mirror_exposures'), create_target: true, continuous: true };
    expect((await couch('PUT', '_replicator/mirror-exposures', doc)).status).toBe(201);
    const team = await login(server.url, '0912000070', PASSWORD);
    const venueId = server.demoVenues[0]!.venueId;
    const now = Date.now();
    const event = {
      _id: `exposure:${venueId}:evmirror0001`,
      type: 'exposure',
      schema: 1,
      eventId: 'evmirror0001',
      venueId,
      venueName: server.demoVenues[0]!.name,
      communeCode: '18070',
      from: now - 3 * 3_600_000,
      to: now - 2 * 3_600_000,
      widenMinutes: 60,
      level: 'high',
      message: 'Ca F0 có mặt',
      advice: 'Cách ly tại nhà',
      contactPhone: '0239123456',
      state: 'published'
    };
    const pushed = await fetch(`${server.url}/sync/lv_c_18070/_bulk_docs`, { method: 'POST', headers: { cookie: team.cookie, 'content-type': 'application/json' }, body: JSON.stringify({ docs: [event] }) });
    expect(await pushed.json()).toEqual([expect.objectContaining({ ok: true })]);
    await expect.poll(async () => (await couch('GET', 'mirror_exposures/exp:42:evmirror0001')).status, { timeout: 30_000, interval: 500 }).toBe(200);
    // Several feed bounds later the job still runs, without errors.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const job = await couch('GET', '_scheduler/docs/_replicator/mirror-exposures');
    expect(job.json).toMatchObject({ state: 'running', error_count: 0 });
  });
});
