import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { decodeKeysDocument } from '../../src/lib/core/keys';
import { classifyScan } from '../../src/lib/core/citizen/scan';
import { verifyVenueToken } from '../../src/lib/core/venue/venue-token';
import { communeDbName } from '../../server/store/couch';

let server: RunningServer;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-int-'));
  // A stand-in for the built PWA: the route shells and the SPA fallback.
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(path.join(staticDir, '_app', 'immutable'), { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), '<title>fallback</title>');
  writeFileSync(path.join(staticDir, 'index.html'), '<title>home</title>');
  writeFileSync(path.join(staticDir, 'c.html'), '<title>checkin</title>');
  writeFileSync(path.join(staticDir, '_app', 'immutable', 'a.js'), 'export {}');
  env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir };
  server = await startServer(await testServerConfig(env));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('server on the embedded store', () => {
  it('reports health', async () => {
    const res = await fetch(`${server.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, store: 'up', publicOrigin: null });
  });

  it('bootstraps the databases with their _security', async () => {
    const dbs = await server.store.couch.db.list();
    expect(dbs).toEqual(expect.arrayContaining(['lv_directory', 'lv_exposures', 'lv_users', 'lv_reports', communeDbName('18070')]));
    const security = await server.store.couch.request({ db: 'lv_users', path: '_security' });
    expect(security.members.roles).toEqual(['lv_server']);
  });

  it('serves public keys that verify every demo venue code', async () => {
    const res = await fetch(`${server.url}/api/keys`);
    expect(res.headers.get('cache-control')).toContain('max-age');
    const keys = decodeKeysDocument(await res.json());
    expect(keys).not.toBeNull();
    const demo = (await (await fetch(`${server.url}/api/demo`)).json()) as { venues: { url: string; name: string }[] };
    expect(demo.venues.length).toBeGreaterThanOrEqual(5);
    for (const venue of demo.venues) {
      const scan = classifyScan(venue.url);
      if (scan.kind !== 'venue') throw new Error(`demo code not a venue code: ${venue.url}`);
      expect(scan.parsed.claims.name).toBe(venue.name);
      await expect(verifyVenueToken(scan.parsed, keys!)).resolves.toBe('verified');
    }
  });

  it('keeps the key and the demo venues across a restart', async () => {
    const before = await (await fetch(`${server.url}/api/keys`)).json();
    const demoBefore = server.demoVenues;
    await server.close();
    server = await startServer(await testServerConfig(env));
    expect(await (await fetch(`${server.url}/api/keys`)).json()).toEqual(before);
    expect(server.demoVenues).toEqual(demoBefore);
  });

  it('answers unknown API routes, sync paths and bad bodies with clear 4xx JSON', async () => {
    const unknown = await fetch(`${server.url}/api/nothing`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).reason).toBeTruthy();
    const sync = await fetch(`${server.url}/sync/lv_users/_all_docs`);
    expect(sync.status).toBe(404);
    const big = await fetch(`${server.url}/api/nothing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(300 * 1024) })
    });
    expect(big.status).toBe(413);
    const bad = await fetch(`${server.url}/api/nothing`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).reason).toMatch(/malformed/);
  });

  it('serves route shells, the SPA fallback and long-lived hashed assets', async () => {
    const checkin = await fetch(`${server.url}/c`);
    expect(await checkin.text()).toContain('checkin');
    expect(checkin.headers.get('cache-control')).toBe('no-cache');
    expect(await (await fetch(`${server.url}/`)).text()).toContain('home');
    expect(await (await fetch(`${server.url}/somewhere/else?x=1`)).text()).toContain('fallback');
    expect(await (await fetch(`${server.url}/../../etc/passwd`)).text()).not.toContain('root:');
    const asset = await fetch(`${server.url}/_app/immutable/a.js`);
    expect(asset.headers.get('cache-control')).toContain('immutable');
  });
});
