// `npm run db:copy -- FROM_URL TO_URL`: copies every database of Lưu Vết (lv_*) from one CouchDB to
// another by CouchDB replication, one shot, and checks the document counts after. For backups (a
// cluster to a backup node), restores (the backup into a fresh CouchDB) and the move from the
// embedded store to a CouchDB (FROM = the DATA_DIR of a server running its embedded store: its URL
// is in DATA_DIR/store.json while it runs). Both URLs carry an admin's name and password; the replication runs on TO's
// CouchDB, which must reach FROM. A copy into databases that already hold documents merges with
// them (replication adds and updates, never deletes what only the target has): restore into an
// empty CouchDB. `_security` is not copied by replication: the server sets it again when it starts.
//
//   npm run db:copy -- http://admin:pw@db1:5984 http://admin:pw@backup:5984
//   npm run db:copy -- ./data http://admin:pw@db1:5984
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const USAGE = "usage: npm run db:copy -- FROM TO   (CouchDB URLs with an admin's name and password; FROM may be the DATA_DIR of a server running its embedded store)";
const args = process.argv.slice(2).filter((a) => a !== '--');
if (args.length !== 2) {
  console.error(USAGE);
  process.exit(2);
}

/** A URL as given, or the URL of the embedded store a running server left in DATA_DIR/store.json. */
function storeUrl(arg) {
  if (/^https?:\/\//.test(arg)) return arg.replace(/\/+$/, '');
  const file = path.join(arg, 'store.json');
  if (!existsSync(file)) {
    console.error(`db:copy: ${arg} is neither a URL nor the DATA_DIR of a running server (no store.json: start the server first)\n${USAGE}`);
    process.exit(2);
  }
  return JSON.parse(readFileSync(file, 'utf8')).url;
}
const [from, to] = [storeUrl(args[0]), storeUrl(args[1])];

/** fetch refuses URLs with credentials: they move to an Authorization header. */
function request(base, path, init = {}) {
  const url = new URL(base);
  const headers = { accept: 'application/json', 'content-type': 'application/json' };
  if (url.username) headers.authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = url.password = '';
  return fetch(url.href.replace(/\/+$/, '') + path, { ...init, headers });
}

const shown = (url) => url.replace(/\/\/[^@/]*@/, '//');

async function json(res, what) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${what}: ${res.status} ${body.reason ?? body.error ?? ''}`.trim());
  return body;
}

async function docCount(base, db) {
  const res = await request(base, `/${encodeURIComponent(db)}`);
  if (res.status === 404) return null;
  return (await json(res, `${shown(base)}/${db}`)).doc_count;
}

try {
  const dbs = (await json(await request(from, '/_all_dbs'), `${shown(from)}/_all_dbs (an admin's name and password in the URL?)`)).filter((d) => d.startsWith('lv_'));
  if (dbs.length === 0) throw new Error(`${shown(from)} holds no lv_* database: is it the right store?`);
  console.log(`copying ${dbs.length} databases from ${shown(from)} to ${shown(to)}`);
  let mismatched = 0;
  for (const db of dbs) {
    const started = Date.now();
    const result = await json(
      await request(to, '/_replicate', { method: 'POST', body: JSON.stringify({ source: `${from}/${encodeURIComponent(db)}`, target: `${to}/${encodeURIComponent(db)}`, create_target: true }) }),
      `replicating ${db}`
    );
    const [source, target] = [await docCount(from, db), await docCount(to, db)];
    // Documents written to FROM during the copy may be missing from TO: counted, and said.
    const ok = target !== null && source !== null && target >= source;
    if (!ok) mismatched++;
    console.log(`  ${db.padEnd(16)} ${String(target ?? '-').padStart(8)} of ${String(source ?? '-').padStart(8)} documents  ${((Date.now() - started) / 1000).toFixed(1)} s${result.no_changes ? ' (already up to date)' : ''}${ok ? '' : '  MISSING DOCUMENTS'}`);
  }
  if (mismatched) {
    console.error(`${mismatched} database(s) have fewer documents than the source (written to during the copy?): run the copy again`);
    process.exit(1);
  }
  console.log('done');
} catch (err) {
  console.error(`db:copy: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
