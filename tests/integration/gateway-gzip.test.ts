/**
 * The sync gateway answers in gzip to clients that take it (a commune's first sync over a village
 * link is mostly bytes), plain to the others, and PouchDB replicates through it all the same.
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { entryDocId } from '../../src/lib/core/documents';
import { localDb, login, remoteDb } from './sync-helpers';

const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
const PASSWORD = 'mat-khau-gzip-18070';
let server: RunningServer;
let dataDir: string;
let cookie: string;

/** node:http, not fetch: fetch decompresses and hides what was sent. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${server.url}${url}`, { headers }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on('data', (c: Uint8Array) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-gz-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir, DEMO_TEAM_PASSWORD: PASSWORD }));
  cookie = (await login(server.url, server.demoTeam!.phone, PASSWORD)).cookie;
  const time = Date.now() - 3_600_000;
  const docs = Array.from({ length: 40 }, (_, i) => ({
    _id: entryDocId('demochoducth', time + i * 1000, `gz${i}`),
    type: 'entry',
    schema: 1,
    venueId: 'demochoducth',
    communeCode: COMMUNE,
    time: time + i * 1000,
    direction: 'in',
    person: { source: 'manual', name: `Nguyễn Thị Hương ${i}`, phone: '0987654321' },
    deviceId: 'test-device'
  }));
  await server.store.request('POST', `${DB}/_bulk_docs`, { body: { docs } });
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('gateway compression', () => {
  it('gzips a large answer for a client that takes gzip, and sends the same JSON plain to one that does not', async () => {
    const zipped = await get(`/sync/${DB}/_changes?style=all_docs`, { cookie, 'accept-encoding': 'gzip, deflate' });
    const plain = await get(`/sync/${DB}/_changes?style=all_docs`, { cookie });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const unzipped = JSON.parse(gunzipSync(new Uint8Array(zipped.body)).toString('utf8'));
    expect(unzipped.results.length).toBeGreaterThanOrEqual(40);
    // The same changes either way; on a sharded CouchDB their order and sequences differ per read.
    const rows = (body: { results: { id: string; seq?: unknown }[] }) => body.results.map(({ seq: _seq, ...row }) => row).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(rows(unzipped)).toEqual(rows(JSON.parse(plain.body.toString('utf8'))));
    expect(zipped.body.length).toBeLessThan(plain.body.length / 2);
  });

  it('leaves small answers and refusals plain, and honours gzip;q=0', async () => {
    const small = await get(`/sync/${DB}`, { cookie, 'accept-encoding': 'gzip' });
    expect(small.status).toBe(200);
    expect(small.headers['content-encoding']).toBeUndefined();
    const refused = await get(`/sync/${DB}/_changes`, { 'accept-encoding': 'gzip' });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body.toString('utf8')).error).toBe('unauthorized');
    const declined = await get(`/sync/${DB}/_changes?style=all_docs`, { cookie, 'accept-encoding': 'gzip;q=0, identity' });
    expect(declined.headers['content-encoding']).toBeUndefined();
  });

  it('replicates through the gzip answers', async () => {
    const local = localDb();
    const res = await local.replicate.from(remoteDb(server.url, DB, cookie), { batch_size: 500 });
    expect(res.ok).toBe(true);
    const ids = (await local.allDocs()).rows.map((r) => r.id);
    expect(ids.filter((id) => id.startsWith('entry:demochoducth:')).length).toBe(40);
    await local.destroy();
  });
});
