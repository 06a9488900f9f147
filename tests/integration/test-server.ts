/**
 * The configuration of a server under test. By default the server starts its embedded store in
 * the test's DATA_DIR. With LV_TEST_COUCHDB_URL set (an Apache CouchDB with admin credentials in
 * the URL, as `npm run test:couchdb` sets it), every test server uses that CouchDB instead, so the
 * whole integration suite runs against the production store.
 *
 * Each test file must see a store as fresh as an embedded one in a new DATA_DIR: when a server's
 * DATA_DIR does not exist yet (its first start), every lv_* database of that CouchDB is deleted
 * first. A restart on the same DATA_DIR, or a second server sharing it, keeps the data. Database
 * names are fixed (lv_directory, lv_c_<commune>…), so two files cannot share one CouchDB at the
 * same moment: the CouchDB run goes file after file (--no-file-parallelism).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readConfig, type ServerConfig } from '../../server/config';

/** The CouchDB the integration tests run against, or null for the embedded store. */
export function testCouchdbUrl(): string | null {
  return process.env.LV_TEST_COUCHDB_URL?.trim() || null;
}

/**
 * readConfig for a test server: the test's own environment, plus COUCHDB_URL when the suite runs
 * against a CouchDB (unless the test points its server at a store itself).
 */
export async function testServerConfig(input: NodeJS.ProcessEnv): Promise<ServerConfig> {
  // The demo district's three weeks of activity only where a test asks for them: the others count
  // documents in communes of that district.
  const env: NodeJS.ProcessEnv = { DEMO_ACTIVITY: '0', ...input };
  const couchdb = testCouchdbUrl();
  if (!couchdb || env.COUCHDB_URL) return readConfig(env);
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  if (!existsSync(dataDir)) await deleteProjectDatabases(couchdb);
  return readConfig({ ...env, COUCHDB_URL: couchdb });
}

/** Deletes the project's databases (lv_*), leaving CouchDB's own (_users, _replicator) alone. */
export async function deleteProjectDatabases(couchdbUrl: string): Promise<void> {
  const { base, authorization } = split(couchdbUrl);
  const headers = { accept: 'application/json', ...(authorization ? { authorization } : {}) };
  const list = await fetch(`${base}/_all_dbs`, { headers });
  if (!list.ok) throw new Error(`CouchDB at LV_TEST_COUCHDB_URL: GET /_all_dbs answered ${list.status} (admin credentials in the URL?)`);
  for (const name of ((await list.json()) as string[]).filter((n) => n.startsWith('lv_'))) {
    const res = await fetch(`${base}/${encodeURIComponent(name)}`, { method: 'DELETE', headers });
    // 404: gone already (deleted by another cleaner between the list and now).
    if (!res.ok && res.status !== 404) throw new Error(`CouchDB at LV_TEST_COUCHDB_URL: deleting ${name} answered ${res.status}`);
  }
}

/** fetch refuses URLs with credentials: move them to an Authorization header. */
function split(url: string): { base: string; authorization: string | null } {
  const parsed = new URL(url);
  const authorization = parsed.username ? 'Basic ' + Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64') : null;
  parsed.username = '';
  parsed.password = '';
  return { base: parsed.href.replace(/\/+$/, ''), authorization };
}
