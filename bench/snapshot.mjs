#!/usr/bin/env node
/**
 * Exposure snapshot: what a province's signed event list costs on the wire, and how long a fresh
 * phone on a poor link takes to hold it, checked, ready for matching (DESIGN §7).
 *
 * The server runs in this process from dist/server.mjs (embedded store, a temp DATA_DIR, 127.0.0.1
 * only), as `npm start` runs it. 10,000 events for province 42 go the way a commune team's go:
 * a team account (made with server/users.ts createUser, as `npm run user:add` does) writes
 * `exposure:` drafts in state 'published' to a local PouchDB and pushes them through /sync into the
 * ten demo communes of huyện Đức Thọ (1,000 each); the gateway wakes the signer, whose publisher
 * signs each event and writes `exp:42:<eventId>` to lv_exposures. Texts vary per event (venue name,
 * times, phone numbers), so gzip gets no more repetition than real teams would give it.
 *
 * Then, from Node over plain HTTP: the body's size raw and gzip as served (and the share of the
 * 64-byte signatures in it), the first request's time (the server builds and caches the snapshot)
 * and the time of cached ones.
 *
 * Then a fresh Chromium context (empty HTTP cache) on the same origin, its network throttled with
 * CDP Network.emulateNetworkConditions to 300 ms latency and 1 Mbit/s each way, fetches /api/keys and
 * /api/exposures/42 in parallel (as the app would), and verifies all 10,000 signatures with
 * verifyExposures (bundled by esbuild from src/lib/core, keys decoded with decodeKeysDocument).
 * Then a second request with If-None-Match (a 304 with no body), and the browser's own revalidation
 * (fetch with cache: 'no-cache'). DevTools throttling adds the latency once per request and caps
 * throughput; it does not model TCP/TLS handshakes or slow start, so a real link of these figures
 * takes one to three round trips (0.3–0.9 s) more for a first request on a new connection.
 *
 * Then the compact snapshot (`/api/exposures/42/snapshot`, src/lib/core/exposure/snapshot-format.ts)
 * of the same events on the same server, side by side with the old list: its bytes as served to
 * Chromium's Accept-Encoding (brotli), gzip and plain; a fresh Chromium (its own browser, empty
 * cache, the same throttling) fetching keys and snapshot in parallel, checking the one signature and
 * decoding the events (also timed apart); then, on that same phone, a day of changes (400 new events,
 * 50 corrections, 50 withdrawals, pushed by the teams through /sync and signed by the publisher) as
 * a delta `?since=<version it holds>`. A version covers publications a minute old (server/snapshot.ts
 * SETTLE_MS), so the bench waits a minute after each publication, as a phone checking the next day
 * would find them. The server's first request after the changes (rebuilding the province's state) is
 * made from Node before the phone asks and printed apart. Neither figure includes writing the events
 * to IndexedDB (the old figure did not either).
 *
 * Usage: node bench/snapshot.mjs [--events 10000] (CHROMIUM=path overrides /usr/bin/chromium).
 * Builds dist/server.mjs when it is missing or older than server/ or src/lib/core/. Prints a table
 * and a final `RESULT {json}` line; exits non-zero when a check fails (events missing, a signature
 * rejected, no gzip, no 304).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync, constants as zlib } from 'node:zlib';
import {
  bundleCode,
  checkChromium,
  failer,
  httpRequest,
  launchChromium,
  median,
  memoryPouchDB,
  mulberry32,
  openBenchPage,
  pageHtml,
  printResult,
  remotePouch,
  serverBundle,
  sessionCookie,
  startBenchServer,
  tableRow,
  tempDirs
} from './lib.mjs';

const PROVINCE = '42';
// The demo directory's communes of huyện Đức Thọ (district 440), province 42.
const COMMUNES = ['18070', '18073', '18076', '18079', '18082', '18085', '18088', '18091', '18094', '18097'];
const LINK = { latencyMs: 300, bitsPerSecond: 1_000_000 };
const PUBLISH_TIMEOUT_MS = 15 * 60_000;

const fail = failer('snapshot');

function args() {
  const out = { events: 10_000 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--events') out.events = Number(argv[++i]);
    else fail(`unknown argument ${argv[i]} (usage: node bench/snapshot.mjs [--events N])`);
  }
  if (!Number.isInteger(out.events) || out.events < COMMUNES.length) fail('--events must be an integer ≥ 10');
  return out;
}

/**
 * createUser from server/users.ts, bundled with its packages into one CommonJS file in the temp
 * folder (dist/server.mjs exports only startServer and readConfig). It works on the running
 * server's Store object: the same CouchDB calls `npm run user:add` makes.
 */
async function loadCreateUser(tmp) {
  const outfile = path.join(tmp, 'users.cjs');
  const source = "export { createUser } from './server/users';";
  fs.writeFileSync(outfile, await bundleCode(source, 'bench-users.ts', { platform: 'node', target: 'node20', format: 'cjs' }));
  return createRequire(import.meta.url)(outfile).createUser;
}

// ---------------------------------------------------------------------------------------------
// Drafts a commune team would write
// ---------------------------------------------------------------------------------------------
const r = mulberry32(42);
const pick = (xs) => xs[Math.floor(r() * xs.length)];
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const randomId = (len, alphabet) => Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
const PLACES = ['Chợ', 'Tạp hóa', 'Quán cà phê', 'Nhà thuốc', 'Trường THCS', 'Trạm Y tế', 'Siêu thị mini', 'Quán bún bò', 'Tiệm vàng', 'Xe khách', 'Cửa hàng điện máy', 'Nhà văn hóa khối'];
const NAMES = ['Đức Thọ', 'Bà Năm', 'Sông La', 'Hồng Lĩnh', 'Thạch Hà', 'Minh Anh', 'Hương Sơn', 'Cô Lan', 'Anh Tuấn', 'Can Lộc', 'Phúc Lợi', 'Hòa Bình'];
const MESSAGES = [
  (e) => `Ca F0 có mặt tại ${e.venueName} từ ${e.fromText} đến ${e.toText}.`,
  (e) => `Người nhiễm COVID-19 đến ${e.venueName} khoảng ${e.fromText}, tiếp xúc với nhân viên thu ngân.`,
  (e) => `F0 ngồi cùng khu vực tại ${e.venueName}, ${e.fromText}–${e.toText}.`
];
const ADVICE = [
  'Tự cách ly tại nhà, theo dõi sức khỏe và gọi trạm y tế xã để được xét nghiệm.',
  'Khai báo y tế ngay, hạn chế tiếp xúc trong 14 ngày, đo thân nhiệt hằng ngày.',
  'Đến trạm y tế để lấy mẫu xét nghiệm trong vòng 24 giờ; đeo khẩu trang khi ra ngoài.'
];
/** "08:30 20/08", Vietnam time, as a team would write it. */
function hhmm(ms) {
  const iso = new Date(ms + 7 * 3_600_000).toISOString();
  return `${iso.slice(11, 16)} ${iso.slice(8, 10)}/${iso.slice(5, 7)}`;
}

/**
 * The venues the drafts name, by commune: an event must name a venue of its commune's database (the
 * gateway refuses others), so each commune's venues are pushed with (before) its drafts, as the
 * team's registered venues would already be there.
 */
const venueDocs = new Map();

function drafts(count) {
  // The last midnight in Vietnam (17:00 UTC): events of the last 21 days, as the publisher takes
  // them (it leaves out drafts that ended over 28 days ago).
  const end = Math.floor((Date.now() - 17 * 3_600_000) / 86_400_000) * 86_400_000 + 17 * 3_600_000;
  const perCommune = Math.ceil(count / COMMUNES.length);
  const out = [];
  for (let c = 0; c < COMMUNES.length; c++) {
    // About three events per venue: cases come back to the same market, the same shops.
    const venues = Array.from({ length: Math.ceil(perCommune / 3) }, () => ({ id: randomId(12, B32), name: `${pick(PLACES)} ${pick(NAMES)}` }));
    const registered = venueDocs.get(COMMUNES[c]) ?? [];
    for (const v of venues) registered.push({ _id: `venue:${v.id}`, type: 'venue', schema: 1, venueId: v.id, name: v.name, venueType: 'market', communeCode: COMMUNES[c], address: '', status: 'active' });
    venueDocs.set(COMMUNES[c], registered);
    for (let i = 0; i < perCommune && out.length < count; i++) {
      const venue = pick(venues);
      const from = end - Math.floor(r() * 21 * 24 * 60) * 60_000;
      const to = from + (15 + Math.floor(r() * 300)) * 60_000;
      const eventId = randomId(12, 'abcdefghijklmnopqrstuvwxyz0123456789');
      const base = { venueName: venue.name, fromText: hhmm(from), toText: hhmm(to) };
      out.push({
        _id: `exposure:${venue.id}:${eventId}`,
        type: 'exposure',
        schema: 1,
        eventId,
        venueId: venue.id,
        venueName: venue.name,
        communeCode: COMMUNES[c],
        from,
        to,
        widenMinutes: r() < 0.85 ? 60 : pick([30, 120]),
        level: r() < 0.7 ? 'high' : 'monitor',
        message: pick(MESSAGES)(base),
        advice: pick(ADVICE),
        contactPhone: `0239${randomId(6, '0123456789')}`,
        state: 'published',
        updatedAt: new Date(from + 86_400_000).toISOString()
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------
async function loginCookie(base, phone, password) {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, password }) });
  const cookie = sessionCookie(res.headers.get('set-cookie'));
  if (!res.ok || !cookie) throw new Error(`team login answered ${res.status}`);
  return cookie;
}

/**
 * Replication again after a failure, as the team app's sync does: on a shared machine the store
 * can answer 503 for a moment under ten pushes at once, and a replication resumes where it stopped.
 */
async function withRetries(what, run) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= 5) throw err;
      console.log(`  ${what}: ${err.message}; again in ${attempt * 2} s`);
      await sleep(attempt * 2000);
    }
  }
}

async function pushDrafts(base, cookie, docs) {
  const PouchDB = await memoryPouchDB();
  const byCommune = groupBy(docs);
  let written = 0;
  // One device per commune team, pushing at once as ten teams would.
  await Promise.all(
    [...byCommune].map(async ([commune, list]) => {
      const local = new PouchDB(`bench-${process.pid}-${commune}`, { adapter: 'memory' });
      // Venues first: replication sends in the order written, so a draft never travels before its venue.
      const venues = venueDocs.get(commune) ?? [];
      await local.bulkDocs(venues);
      await local.bulkDocs(list);
      const remote = remotePouch(PouchDB, `${base}/sync/lv_c_${commune}`, cookie);
      const res = await withRetries(`commune ${commune}`, () => local.replicate.to(remote, { batch_size: 250 }));
      if (res.doc_write_failures) throw new Error(`commune ${commune}: ${res.doc_write_failures} drafts refused: ${JSON.stringify(res.errors?.[0] ?? '')}`);
      // Written again on a retry: counted from the store below (waitForPublished), not from here.
      written += list.length;
      await local.destroy();
    })
  );
  return written;
}

function groupBy(docs) {
  const m = new Map();
  for (const d of docs) m.set(d.communeCode, [...(m.get(d.communeCode) ?? []), d]);
  return m;
}

/** node:http, not fetch: what is sent, as sent. */
const get = (base, url, headers = {}) => httpRequest(`${base}${url}`, { headers });

async function waitForPublished(store, count) {
  const start = performance.now();
  while (performance.now() - start < PUBLISH_TIMEOUT_MS) {
    const info = await store.request('GET', 'lv_exposures');
    if ((info.body?.doc_count ?? 0) >= count) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`fewer than ${count} events published after ${PUBLISH_TIMEOUT_MS / 60_000} minutes`);
}


/** The settling time of server/snapshot.ts (SETTLE_MS): a version covers publications at least this old. */
const SETTLE_MS = 60_000;
const DAY_TIMEOUT_MS = 4 * 60_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A day of a province's changes, the way teams make them: new events, corrections of published ones
 * (a later end, another text) and withdrawals. Each team device first pulls the drafts it changes,
 * (the team app holds its communes), then pushes through /sync.
 */
async function pushDayOfChanges(base, cookie, published, { added, corrected, withdrawn }) {
  const PouchDB = await memoryPouchDB();
  const picked = [...published].sort(() => r() - 0.5).slice(0, corrected + withdrawn);
  venueDocs.clear();
  const changes = [
    ...drafts(added),
    ...picked.slice(0, corrected).map((d) => ({ ...d, to: d.to + 30 * 60_000, message: `${d.message} Cập nhật: ở lại thêm 30 phút.` })),
    ...picked.slice(corrected).map((d) => ({ ...d, state: 'withdrawn' }))
  ];
  // One commune after another: the changes of a day arrive over the day, not in one burst.
  for (const [commune, list] of groupBy(changes)) {
    {
      const local = new PouchDB(`bench-day-${process.pid}-${commune}`, { adapter: 'memory' });
      const remote = remotePouch(PouchDB, `${base}/sync/lv_c_${commune}`, cookie);
      const ids = list.map((d) => d._id);
      // The whole commune, as the team's device holds it (a doc_ids pull through the gateway stops
      // early: it filters each limited batch of the changes feed after reading it).
      await withRetries(`commune ${commune} pull`, () => local.replicate.from(remote, { batch_size: 250 }));
      const held = new Map((await local.allDocs({ keys: ids })).rows.filter((row) => row.value && !row.value.deleted).map((row) => [row.id, row.value.rev]));
      await local.bulkDocs(venueDocs.get(commune) ?? []);
      await local.bulkDocs(list.map((d) => (held.has(d._id) ? { ...d, _rev: held.get(d._id) } : d)));
      const res = await withRetries(`commune ${commune} push`, () => local.replicate.to(remote, { batch_size: 250 }));
      if (res.doc_write_failures) throw new Error(`commune ${commune}: ${res.doc_write_failures} changes refused`);
      await local.destroy();
    }
  }
  return { changes, picked: { corrected: picked.slice(0, corrected), withdrawn: picked.slice(corrected) } };
}

/** Until every change of the day is signed and in lv_exposures. */
async function waitForDay(store, changes) {
  const want = new Map(changes.map((d) => [`exp:${PROVINCE}:${d.eventId}`, d]));
  const start = performance.now();
  let missing = [];
  while (performance.now() - start < DAY_TIMEOUT_MS) {
    const res = await store.request('POST', 'lv_exposures/_all_docs', { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: [...want.keys()] } });
    missing = (res.body?.rows ?? []).filter((row) => {
      const e = row.doc?.signed?.event;
      const d = want.get(row.key);
      return !(e && e.withdrawn === (d.state === 'withdrawn') && e.to === d.to && e.message === d.message);
    });
    if (!missing.length) return performance.now() - start;
    await sleep(500);
  }
  const kinds = missing.map((row) => (want.get(row.key).state === 'withdrawn' ? 'withdrawal' : row.doc ? 'correction' : 'new event'));
  throw new Error(`the day of changes was not all published: ${['new event', 'correction', 'withdrawal'].map((k) => `${kinds.filter((x) => x === k).length} ${k}s`).join(', ')} missing`);
}

// ---------------------------------------------------------------------------------------------
// The phone: a page of the server's own origin
// ---------------------------------------------------------------------------------------------
const PAGE = `
import { verifyExposures } from './src/lib/core/exposure/exposure-verify';
import { applySnapshot, decodeSnapshotPayload, openSnapshot, snapshotSigningBytes, verifySnapshot } from './src/lib/core/exposure/snapshot-format';
import { verifyEd25519 } from './src/lib/core/ed25519';
import { decodeKeysDocument } from './src/lib/core/keys';

const resource = (url) => performance.getEntriesByType('resource').filter((e) => e.name.endsWith(url)).at(-1);
const sizes = (e) => (e ? { transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize } : null);

window.snapshotBench = {
  async fresh(province) {
    const url = '/api/exposures/' + province;
    performance.clearResourceTimings();
    const t0 = performance.now();
    // In parallel, as the app would: the key list and the events do not depend on each other.
    const keysP = fetch('/api/keys').then(async (res) => ({ keys: decodeKeysDocument(await res.json()), ms: performance.now() - t0 }));
    const snapP = fetch(url).then(async (res) => {
      const headers = { etag: res.headers.get('etag'), encoding: res.headers.get('content-encoding'), cacheControl: res.headers.get('cache-control') };
      const body = await res.json();
      return { status: res.status, headers, body, ms: performance.now() - t0 };
    });
    const [k, s] = await Promise.all([keysP, snapP]);
    const downloadedMs = performance.now() - t0;
    const v0 = performance.now();
    const verified = await verifyExposures(s.body.events, k.keys ?? []);
    const verifyMs = performance.now() - v0;
    const readyMs = performance.now() - t0;

    const n0 = performance.now();
    const again = await fetch(url, { headers: { 'If-None-Match': s.headers.etag }, cache: 'no-store' });
    const againBytes = (await again.arrayBuffer()).byteLength;
    const notModified = { status: again.status, ms: performance.now() - n0, bodyBytes: againBytes };

    const r0 = performance.now();
    const reval = await fetch(url, { cache: 'no-cache' });
    const revalEvents = (await reval.json()).events.length;
    const revalidated = { status: reval.status, ms: performance.now() - r0, events: revalEvents, ...sizes(resource(url)) };

    return {
      keysMs: k.ms, keysOk: !!k.keys, snapshotMs: s.ms, status: s.status, headers: s.headers, events: s.body.events.length,
      downloadedMs, verifyMs, readyMs, accepted: verified.events.length, rejected: verified.rejected, engine: verified.engine,
      snapshotSizes: sizes(performance.getEntriesByType('resource').find((e) => e.name.endsWith(url))),
      notModified, revalidated
    };
  },

  /** The compact snapshot on a fresh phone: keys and snapshot in parallel, one signature, decoded, held. */
  async compactFresh(province) {
    const url = '/api/exposures/' + province + '/snapshot';
    performance.clearResourceTimings();
    const t0 = performance.now();
    const keysP = fetch('/api/keys').then(async (res) => decodeKeysDocument(await res.json()));
    const snapP = fetch(url).then(async (res) => ({ status: res.status, etag: res.headers.get('etag'), encoding: res.headers.get('content-encoding'), bytes: new Uint8Array(await res.arrayBuffer()), ms: performance.now() - t0 }));
    const [keys, s] = await Promise.all([keysP, snapP]);
    const v0 = performance.now();
    const checked = await verifySnapshot(s.bytes, keys ?? [], province);
    const verifyMs = performance.now() - v0;
    if (!checked.ok) return { ok: false, reason: checked.reason };
    window.heldKeys = keys;
    window.held = applySnapshot({ version: null, events: [] }, checked.content);
    const readyMs = performance.now() - t0;
    // The two parts of the check apart: the one signature, and reading the events.
    const opened = openSnapshot(s.bytes);
    const key = keys.find((k) => k.id === opened.keyId);
    const sig0 = performance.now();
    const sigOk = await verifyEd25519(opened.signature, snapshotSigningBytes(opened.payload), key.publicKey);
    const signatureMs = performance.now() - sig0;
    const d0 = performance.now();
    decodeSnapshotPayload(opened.payload);
    const decodeMs = performance.now() - d0;
    const transfer = sizes(resource(url));
    const n0 = performance.now();
    const again = await fetch(url, { headers: { 'If-None-Match': s.etag }, cache: 'no-store' });
    const notModified = { status: again.status, ms: performance.now() - n0, bodyBytes: (await again.arrayBuffer()).byteLength };
    return {
      ok: true, status: s.status, encoding: s.encoding, bodyBytes: s.bytes.length, snapshotMs: s.ms, verifyMs, readyMs, signatureMs, sigOk, decodeMs,
      version: checked.content.version, events: window.held.events.length, sizes: transfer, notModified
    };
  },

  /** The next day: the changes since the version held. */
  async compactDelta(province) {
    const url = '/api/exposures/' + province + '/snapshot?since=' + window.held.version;
    performance.clearResourceTimings();
    const t0 = performance.now();
    const res = await fetch(url);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const downloadedMs = performance.now() - t0;
    const checked = await verifySnapshot(bytes, window.heldKeys, province);
    if (!checked.ok) return { ok: false, reason: checked.reason };
    const next = applySnapshot(window.held, checked.content);
    const readyMs = performance.now() - t0;
    if (!next) return { ok: false, reason: 'the delta does not follow from the version held' };
    const before = window.held.events.length;
    window.held = next;
    return {
      ok: true, status: res.status, encoding: res.headers.get('content-encoding'), kind: checked.content.kind, downloadedMs, readyMs,
      changed: checked.content.events.length, withdrawn: checked.content.withdrawn.length, before, after: next.events.length, sizes: sizes(resource(url))
    };
  }
};
`;

/** The bench page, served by the server under test as its app (so on the same origin as the API). */
async function writePage(staticDir) {
  fs.writeFileSync(path.join(staticDir, 'snapshot-bench.js'), await bundleCode(PAGE, 'snapshot-bench-page.ts', { minify: true }));
  fs.writeFileSync(path.join(staticDir, 'index.html'), pageHtml('/snapshot-bench.js'));
}

async function phone(base) {
  const browser = await launchChromium();
  try {
    // A fresh context: no HTTP cache, no service worker, nothing from before.
    const context = await browser.newContext();
    // The app is already installed on the phone: loading the bench page is not part of the figure.
    const page = await openBenchPage(context, `${base}/`, 'snapshotBench');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const bytesPerSecond = LINK.bitsPerSecond / 8;
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: LINK.latencyMs, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond });
    const out = await page.evaluate((province) => window.snapshotBench.fresh(province), PROVINCE);
    return { ...out, chromium: browser.version() };
  } finally {
    await browser.close();
  }
}

/**
 * The compact snapshot on a fresh phone (its own browser, empty cache), then, after `between()` has
 * published a day's changes, the delta on the same phone: it holds the version it got.
 */
async function compactPhone(base, between) {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const page = await openBenchPage(context, `${base}/`, 'snapshotBench');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const bytesPerSecond = LINK.bitsPerSecond / 8;
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: LINK.latencyMs, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond });
    const fresh = await page.evaluate((province) => window.snapshotBench.compactFresh(province), PROVINCE);
    if (!fresh.ok) throw new Error(`the phone refused the compact snapshot: ${fresh.reason}`);
    await between(fresh);
    const delta = await page.evaluate((province) => window.snapshotBench.compactDelta(province), PROVINCE);
    if (!delta.ok) throw new Error(`the phone refused the delta: ${delta.reason}`);
    return { fresh, delta };
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------
const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

async function main() {
  const opts = args();
  checkChromium();
  const bundle = serverBundle('snapshot', { rebuildStale: true });
  const dirs = tempDirs('lv-snapshot-');
  let server = null;
  const watchdog = setTimeout(() => fail(`timed out after ${PUBLISH_TIMEOUT_MS / 60_000 + 5} minutes`), PUBLISH_TIMEOUT_MS + 5 * 60_000);
  watchdog.unref();
  try {
    await writePage(dirs.static);
    const createUser = await loadCreateUser(dirs.root);
    server = await startBenchServer(bundle, { DATA_DIR: dirs.data, STATIC_DIR: dirs.static });
    const base = server.url;
    console.log(`Lưu Vết exposure snapshot: ${opts.events.toLocaleString('en-US')} events for province ${PROVINCE}; ${os.cpus().length} CPUs, Node ${process.version}`);

    await createUser(server.store, { phone: '0912999001', password: 'mat-khau-dai', role: 'team', communes: COMMUNES });
    const cookie = await loginCookie(base, '0912999001', 'mat-khau-dai');
    const docs = drafts(opts.events);
    const t0 = performance.now();
    const written = await pushDrafts(base, cookie, docs);
    const pushMs = performance.now() - t0;
    if (written !== opts.events) throw new Error(`pushed ${written} drafts of ${opts.events}`);
    const publishWaitMs = await waitForPublished(server.store, opts.events);
    const publishedAt = performance.now();
    const publishMs = performance.now() - t0;
    console.log(`  pushed ${written.toLocaleString('en-US')} drafts through /sync in ${fmtMs(pushMs)} (10 team devices at once); all signed and published ${fmtMs(publishMs)} after the first push`);

    // The first request builds the snapshot (read, serialise, hash, gzip); the next ones are served from memory.
    const first = await get(base, `/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip' });
    const cached = [];
    for (let i = 0; i < 10; i++) cached.push((await get(base, `/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip' })).ms);
    const raw = await get(base, `/api/exposures/${PROVINCE}`);
    const problems = [];
    if (first.headers['content-encoding'] !== 'gzip') problems.push('no gzip served to a client that accepts it');
    if (!gunzipSync(first.body).equals(raw.body)) problems.push('the gzip body is not the plain body compressed');
    const body = JSON.parse(raw.body.toString('utf8'));
    if (body.events.length !== opts.events) problems.push(`the snapshot holds ${body.events.length} events, not ${opts.events}`);
    const etag = first.headers.etag;
    const revalidate = await get(base, `/api/exposures/${PROVINCE}`, { 'accept-encoding': 'gzip', 'if-none-match': etag });
    if (revalidate.status !== 304) problems.push(`If-None-Match answered ${revalidate.status}, not 304`);

    // How much of the gzip is the signatures: the same body with every signature emptied.
    const unsigned = Buffer.from(JSON.stringify({ ...body, events: body.events.map((s) => ({ ...s, signature: '' })) }));
    const unsignedGzip = gzipSync(unsigned, { level: zlib.Z_BEST_COMPRESSION }).length;
    const perEvent = (bytes) => bytes / opts.events;
    // Would another body pay? Key names dropped (each event as a tuple), and brotli instead of gzip.
    // Neither is served: printed so the choice of the plain JSON + gzip stays an informed one.
    const tuples = Buffer.from(
      JSON.stringify(body.events.map(({ event: e, keyId, signature }) => [e.eventId, e.version, e.venueId, e.venueName, e.communeCode, e.from, e.to, e.widenMinutes, e.level, e.message, e.advice, e.contactPhone, e.withdrawn, keyId, signature]))
    );
    const tupleGzip = gzipSync(tuples, { level: zlib.Z_BEST_COMPRESSION }).length;
    const b0 = performance.now();
    const brotli = brotliCompressSync(raw.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.body.length } }).length;
    const brotliMs = performance.now() - b0;

    const p = await phone(base);
    console.log(`  old list on a fresh phone: ready in ${fmtMs(p.readyMs)}; the compact snapshot next (after ${SETTLE_MS / 1000} s, so that its version covers the publications)`);
    if (p.events !== opts.events || p.accepted !== opts.events || p.rejected !== 0) problems.push(`the phone verified ${p.accepted} of ${p.events} events (${p.rejected} rejected)`);
    if (p.notModified.status !== 304) problems.push(`the phone's If-None-Match answered ${p.notModified.status}`);
    if (p.keysMs < LINK.latencyMs) problems.push(`/api/keys took ${p.keysMs.toFixed(0)} ms: the ${LINK.latencyMs} ms latency was not applied`);

    // ---- The compact snapshot: the same 10,000 events, the same server, the same link ----
    const CHROMIUM_ACCEPT = 'gzip, deflate, br, zstd'; // what Chromium 156 sends, over http://127.0.0.1 as over https
    const compactUrl = `/api/exposures/${PROVINCE}/snapshot`;
    // Its version covers publications a minute old: wait that long after the last, as a phone checking tomorrow would find them.
    await sleep(Math.max(0, SETTLE_MS + 2_000 - (performance.now() - publishedAt)));
    const cFirst = await get(base, compactUrl, { 'accept-encoding': CHROMIUM_ACCEPT });
    const cCached = [];
    for (let i = 0; i < 10; i++) cCached.push((await get(base, compactUrl, { 'accept-encoding': CHROMIUM_ACCEPT })).ms);
    const cGzip = await get(base, compactUrl, { 'accept-encoding': 'gzip' });
    const cRaw = await get(base, compactUrl);
    if (cFirst.headers['content-encoding'] !== 'br') problems.push(`the compact snapshot was served to Chromium's Accept-Encoding as ${cFirst.headers['content-encoding'] ?? 'identity'}, not br`);
    if (!brotliDecompressSync(cFirst.body).equals(cRaw.body) || !gunzipSync(cGzip.body).equals(cRaw.body)) problems.push('the compressed compact bodies are not the plain one');
    const cRevalidate = await get(base, compactUrl, { 'accept-encoding': CHROMIUM_ACCEPT, 'if-none-match': cFirst.headers.etag });
    if (cRevalidate.status !== 304) problems.push(`compact If-None-Match answered ${cRevalidate.status}`);

    const DAY = { added: 400, corrected: 50, withdrawn: 50 };
    let day = null;
    let warm = null;
    const c = await compactPhone(base, async (c0) => {
      console.log(`  compact snapshot on a fresh phone: ready in ${fmtMs(c0.readyMs)} (download ${fmtMs(c0.snapshotMs)} of ${c0.bodyBytes} bytes decoded, ${c0.encoding}; verify + decode ${fmtMs(c0.verifyMs)}); now a day of changes`);
      const pushed = await pushDayOfChanges(base, cookie, docs, DAY);
      const dayPublishMs = await waitForDay(server.store, pushed.changes);
      console.log(`  ${DAY.added + DAY.corrected + DAY.withdrawn} changes pushed and published; waiting ${SETTLE_MS / 1000} s for the version to cover them`);
      day = { ...pushed, dayPublishMs };
      await sleep(SETTLE_MS + 2_000);
    });
    if (c.fresh.events !== opts.events) problems.push(`the phone holds ${c.fresh.events} events from the compact snapshot, not ${opts.events}`);
    if (!c.fresh.sigOk) problems.push('the signature alone did not verify');
    if (c.fresh.notModified.status !== 304) problems.push(`the phone's compact If-None-Match answered ${c.fresh.notModified.status}`);
    if (c.delta.kind !== 'delta') problems.push(`the day after, the phone got a ${c.delta.kind} snapshot, not a delta`);
    if (c.delta.changed !== DAY.added + DAY.corrected || c.delta.withdrawn !== DAY.withdrawn) problems.push(`the delta held ${c.delta.changed} events and ${c.delta.withdrawn} withdrawals, not ${DAY.added + DAY.corrected} and ${DAY.withdrawn}`);
    if (c.delta.after !== opts.events + DAY.added - DAY.withdrawn) problems.push(`after the delta the phone holds ${c.delta.after} events`);
    const dayDelta = await get(base, `${compactUrl}?since=${c.fresh.version}`, { 'accept-encoding': CHROMIUM_ACCEPT });
    const cTransfer = c.fresh.sizes?.encodedBodySize ?? cFirst.body.length;
    const dTransfer = c.delta.sizes?.encodedBodySize ?? dayDelta.body.length;
    const transfer = p.snapshotSizes?.encodedBodySize ?? first.body.length;
    const lineMs = (transfer * 8 * 1000) / LINK.bitsPerSecond + LINK.latencyMs;

    console.log(`\nSnapshot body (format luu-vet-exposures v1, ${opts.events.toLocaleString('en-US')} events)`);
    const row = (cells) => console.log(tableRow(cells, [34, 12, 14]));
    row(['', 'total', 'bytes / event']);
    row(['raw JSON', kb(raw.body.length), perEvent(raw.body.length).toFixed(0)]);
    row(['gzip, as served (level 9)', kb(first.body.length), perEvent(first.body.length).toFixed(0)]);
    row(['  of which signatures (gzip)', kb(first.body.length - unsignedGzip), perEvent(first.body.length - unsignedGzip).toFixed(0)]);
    row(['not served: tuples, gzip', kb(tupleGzip), perEvent(tupleGzip).toFixed(0)]);
    row(['not served: brotli q11', kb(brotli), `${perEvent(brotli).toFixed(0)}  (${fmtMs(brotliMs)} to compress)`]);
    console.log(`\nServer: first request (builds and caches) ${fmtMs(first.ms)}; cached, median of 10: ${cached.length ? median(cached).toFixed(1) : '-'} ms; If-None-Match: ${revalidate.status}`);
    console.log(`Cache-Control: ${first.headers['cache-control']}; Vary: ${first.headers.vary}; ETag: ${etag}`);

    console.log(`\nFresh phone: Chromium ${p.chromium}, ${LINK.latencyMs} ms latency, ${LINK.bitsPerSecond / 1e6} Mbit/s down and up (CDP throttling)`);
    row(['/api/keys', fmtMs(p.keysMs)]);
    row([`/api/exposures/${PROVINCE} (download + JSON)`, fmtMs(p.snapshotMs), `${kb(transfer)} on the wire (${p.headers.encoding ?? 'identity'})`]);
    row([`verify ${p.events.toLocaleString('en-US')} signatures (${p.engine})`, fmtMs(p.verifyMs)]);
    row(['ready to match (from first byte asked)', fmtMs(p.readyMs)]);
    row(['If-None-Match (explicit)', fmtMs(p.notModified.ms), `${p.notModified.status}, ${p.notModified.bodyBytes} body bytes`]);
    row(["browser revalidation (cache: 'no-cache')", fmtMs(p.revalidated.ms), `${p.revalidated.status} from cache, ${p.revalidated.transferSize} bytes transferred`]);
    console.log(`\n(the link alone: ${fmtMs(lineMs)} for ${kb(transfer)} at ${LINK.bitsPerSecond / 1e6} Mbit/s + one latency)`);

    const changes = DAY.added + DAY.corrected + DAY.withdrawn;
    console.log(`\nOld list (/api/exposures/${PROVINCE}) and compact snapshot (/api/exposures/${PROVINCE}/snapshot), the same ${opts.events.toLocaleString('en-US')} events, this run`);
    const row3 = (cells) => console.log(tableRow(cells, [44, 22, 22]));
    row3(['', 'old list', 'compact snapshot']);
    row3(['raw body', `${kb(raw.body.length)} (${perEvent(raw.body.length).toFixed(0)} B/event)`, `${kb(cRaw.body.length)} (${perEvent(cRaw.body.length).toFixed(1)} B/event)`]);
    row3(['gzip', `${kb(first.body.length)} (${perEvent(first.body.length).toFixed(1)} B/event)`, `${kb(cGzip.body.length)} (${perEvent(cGzip.body.length).toFixed(1)} B/event)`]);
    row3([`as served to Chromium (${CHROMIUM_ACCEPT})`, `gzip ${perEvent(first.body.length).toFixed(1)} B/event`, `${cFirst.headers['content-encoding']} ${perEvent(cFirst.body.length).toFixed(1)} B/event`]);
    row3(['signatures', `${opts.events.toLocaleString('en-US')} (${perEvent(first.body.length - unsignedGzip).toFixed(0)} B/event gzip)`, '1 (64 B)']);
    row3(['server: first request (build + cache)', fmtMs(first.ms), fmtMs(cFirst.ms)]);
    row3(['server: cached, median of 10', `${median(cached).toFixed(1)} ms`, `${median(cCached).toFixed(1)} ms`]);
    row3([`fresh phone: download (${LINK.latencyMs} ms, ${LINK.bitsPerSecond / 1e6} Mbit/s)`, fmtMs(p.snapshotMs), fmtMs(c.fresh.snapshotMs)]);
    row3(['fresh phone: on the wire', kb(transfer), kb(cTransfer)]);
    row3(['fresh phone: verify (+ decode)', `${fmtMs(p.verifyMs)} (${p.engine}, ${opts.events} sig.)`, `${fmtMs(c.fresh.verifyMs)} (1 sig. + decode)`]);
    row3(['  of which the one signature / decoding', '', `${c.fresh.signatureMs.toFixed(1)} ms / ${c.fresh.decodeMs.toFixed(0)} ms`]);
    row3(['fresh phone: READY TO MATCH', fmtMs(p.readyMs), fmtMs(c.fresh.readyMs)]);
    row3(['If-None-Match', `${p.notModified.status}`, `${c.fresh.notModified.status}`]);
    row3([`day after: ${changes} changes (${DAY.added} new, ${DAY.corrected} corrected, ${DAY.withdrawn} withdrawn)`, `${fmtMs(p.readyMs)} (whole list again)`, `${fmtMs(c.delta.readyMs)} (delta, ${kb(dTransfer)} ${c.delta.encoding})`]);
    console.log(`\nCompact Cache-Control: ${cFirst.headers['cache-control']}; Vary: ${cFirst.headers.vary}; ETag: ${cFirst.headers.etag}; Content-Type: ${cFirst.headers['content-type']}`);
    console.log(`The server's first request after the day's changes (rebuilds the state and the full snapshot; not in the phone's figure): ${fmtMs(warm.ms)}`);
    console.log(`Day of changes: pushed and published in ${fmtMs(day.dayPublishMs)} after the push; delta of ${dayDelta.body.length.toLocaleString('en-US')} bytes br (${(dayDelta.body.length / changes).toFixed(1)} B/change)`);
    console.log(`Targets: <= 40 B/event as served, fresh phone <= 4 s, daily delta of 500 <= 1 s, verification <= 200 ms`);
    for (const problem of problems) console.log(`\nCHECK FAILED: ${problem}`);

    const round = (x) => Number(x.toFixed(1));
    const result = {
      events: opts.events,
      province: PROVINCE,
      publish: { pushMs: round(pushMs), publishedMs: round(publishMs), waitAfterPushMs: round(publishWaitMs) },
      bytes: {
        raw: raw.body.length,
        gzip: first.body.length,
        rawPerEvent: round(perEvent(raw.body.length)),
        gzipPerEvent: round(perEvent(first.body.length)),
        signatureGzipPerEvent: round(perEvent(first.body.length - unsignedGzip)),
        tupleGzipPerEvent: round(perEvent(tupleGzip)),
        brotliPerEvent: round(perEvent(brotli))
      },
      server: { firstRequestMs: round(first.ms), cachedMedianMs: round(median(cached)), notModified: revalidate.status },
      phone: {
        chromium: p.chromium,
        link: LINK,
        keysMs: round(p.keysMs),
        snapshotMs: round(p.snapshotMs),
        transferBytes: transfer,
        verifyMs: round(p.verifyMs),
        engine: p.engine,
        readyMs: round(p.readyMs),
        accepted: p.accepted,
        notModifiedStatus: p.notModified.status,
        notModifiedMs: round(p.notModified.ms),
        revalidateMs: round(p.revalidated.ms)
      },
      compact: {
        bytes: { raw: cRaw.body.length, gzip: cGzip.body.length, served: cFirst.body.length, encoding: cFirst.headers['content-encoding'], servedPerEvent: round(perEvent(cFirst.body.length)), gzipPerEvent: round(perEvent(cGzip.body.length)) },
        server: { firstRequestMs: round(cFirst.ms), cachedMedianMs: round(median(cCached)), notModified: cRevalidate.status },
        phone: {
          snapshotMs: round(c.fresh.snapshotMs),
          transferBytes: cTransfer,
          verifyMs: round(c.fresh.verifyMs),
          signatureMs: round(c.fresh.signatureMs),
          decodeMs: round(c.fresh.decodeMs),
          readyMs: round(c.fresh.readyMs),
          notModifiedStatus: c.fresh.notModified.status
        },
        delta: { changes, transferBytes: dTransfer, bodyBytes: dayDelta.body.length, readyMs: round(c.delta.readyMs), downloadedMs: round(c.delta.downloadedMs), kind: c.delta.kind, dayPublishMs: round(day.dayPublishMs) }
      },
      problems
    };
    console.log('');
    printResult(result);
    if (problems.length) process.exitCode = 1;
  } finally {
    await server?.close().catch(() => {});
    dirs.remove();
  }
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
