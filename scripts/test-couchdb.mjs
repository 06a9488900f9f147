// `npm run test:couchdb [-- FILES…]`: the integration tests against a real Apache CouchDB instead of
// the embedded store (tests/integration/test-server.ts reads LV_TEST_COUCHDB_URL).
//
//   COUCHDB_URL=http://admin:pw@host:5984 npm run test:couchdb [-- --wipe]
//       that CouchDB; the tests delete its lv_* databases, so one that holds some is refused
//       unless --wipe says they may go.
//   npm run test:couchdb
//       a fresh single node of Apache CouchDB 3.5.0 from the shared folder (LV_SHARED_DIR, default
//       ../shared next to the project: couchdb/couchdb.sh), in a temporary folder, stopped after.
//
// Files run one after the other: database names are fixed (lv_directory, lv_c_<commune>…), so two
// files cannot share one CouchDB at the same moment.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeNodePorts, stopOnInterrupt } from './couchdb-nodes.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2).filter((a) => a !== '--');
const wipe = args.includes('--wipe');
const files = args.filter((a) => a !== '--wipe');

/** The shared folder of CI extras (Apache CouchDB for tests among them); absent on a fresh clone. */
function sharedDir() {
  return path.resolve(root, process.env.LV_SHARED_DIR || '../shared');
}

function credentialsHidden(url) {
  return url.replace(/\/\/[^@/\s]*@/, '//');
}

function authorised(url) {
  const parsed = new URL(url);
  const headers = { accept: 'application/json' };
  if (parsed.username) headers.authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64');
  parsed.username = parsed.password = '';
  return { base: parsed.href.replace(/\/+$/, ''), headers };
}

async function projectDatabases(url) {
  const { base, headers } = authorised(url);
  const res = await fetch(`${base}/_all_dbs`, { headers });
  if (!res.ok) throw new Error(`GET /_all_dbs answered ${res.status}: COUCHDB_URL needs an admin's name and password`);
  return (await res.json()).filter((name) => name.startsWith('lv_'));
}

async function deleteProjectDatabases(url) {
  const { base, headers } = authorised(url);
  for (const name of await projectDatabases(url)) await fetch(`${base}/${encodeURIComponent(name)}`, { method: 'DELETE', headers });
}

/** A free loopback port whose +5 is free too (a node's Erlang distribution port). */
function runVitest(couchdbUrl) {
  const results = path.join(root, 'tmp', 'results');
  mkdirSync(results, { recursive: true });
  const json = path.join(results, 'vitest-couchdb.json');
  rmSync(json, { force: true });
  const targets = files.length ? files : ['tests/integration'];
  console.log(`\n▶ vitest run ${targets.join(' ')} --no-file-parallelism  (LV_TEST_COUCHDB_URL=${credentialsHidden(couchdbUrl)})`);
  const started = Date.now();
  const run = spawnSync('npx', ['vitest', 'run', ...targets, '--no-file-parallelism', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`], {
    cwd: root,
    stdio: 'inherit',
    // COUCHDB_URL is not passed on: test servers take LV_TEST_COUCHDB_URL, where a test wants it.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'COUCHDB_URL')), LV_TEST_COUCHDB_URL: couchdbUrl }
  });
  let summary = '';
  try {
    const r = JSON.parse(readFileSync(json, 'utf8'));
    summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`;
  } catch {
    summary = 'no results (vitest did not finish)';
  }
  console.log(`\nintegration tests on CouchDB: ${summary} in ${Math.round((Date.now() - started) / 1000)} s`);
  return run.status ?? 1;
}

async function main() {
  const given = process.env.COUCHDB_URL?.trim();
  if (given) {
    console.log(`Integration tests against the CouchDB at COUCHDB_URL (${credentialsHidden(given)}).`);
    const existing = await projectDatabases(given);
    if (existing.length && !wipe) {
      console.error(`That CouchDB holds ${existing.length} lv_* database(s); the tests delete them. Run with -- --wipe if they may go.`);
      return 2;
    }
    const status = runVitest(given);
    await deleteProjectDatabases(given);
    return status;
  }

  const script = path.join(sharedDir(), 'couchdb', 'couchdb.sh');
  if (!existsSync(script)) {
    console.error(`No COUCHDB_URL, and no ${script} to start one (set LV_SHARED_DIR to the folder holding couchdb/).`);
    return 2;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lv-couchdb-'));
  const port = await freeNodePorts(1);
  console.log(`No COUCHDB_URL: starting a fresh single Apache CouchDB node from ${script} on 127.0.0.1:${port} (data in ${dir}).`);
  const stop = () => {
    spawnSync('bash', [script, 'stop', dir], { stdio: 'inherit' });
    rmSync(dir, { recursive: true, force: true });
  };
  stopOnInterrupt(stop);
  try {
    const started = Date.now();
    const start = spawnSync('bash', [script, 'start', dir, String(port)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const url = start.stdout.trim().split('\n').at(-1) ?? '';
    if (start.status !== 0 || !/^https?:\/\//.test(url)) {
      console.error(`CouchDB did not start (couchdb.sh exited with ${start.status}).`);
      return 1;
    }
    console.log(`CouchDB up in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return runVitest(url);
  } finally {
    console.log('Stopping the CouchDB node.');
    stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test:couchdb: ${credentialsHidden(String(err?.message ?? err))}`);
    process.exit(1);
  }
);
