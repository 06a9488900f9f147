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
import { decodeSnapshotPayloadV1, verifySnapshotV1 } from './src/lib/core/exposure/snapshot-format-v1';
import { loadNoble, verifyEd25519 } from './src/lib/core/ed25519';
import { decodeKeysDocument } from './src/lib/core/keys';
import { exposureDb, runExposureCheck, setHomeProvince } from './src/lib/client/exposure-check';
import { cachedKeys, prefetchKeys, refreshKeys } from './src/lib/client/keys';

const resource = (url) => performance.getEntriesByType('resource').filter((e) => e.name.endsWith(url)).at(-1);
const sizes = (e) => (e ? { transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize } : null);
const FORMATS = {
  1: { magic: 'LVS1', path: '/snapshot', verify: verifySnapshotV1, decode: decodeSnapshotPayloadV1 },
  2: { magic: 'LVS2', path: '/snapshot/v2', verify: verifySnapshot, decode: decodeSnapshotPayload }
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

window.snapshotBench = {
  /** The old per-event list (/api/exposures/<province>) on a fresh phone: keys and list in parallel, 10,000 signatures. */
  async fresh(province) {
    const url = '/api/exposures/' + province;
    performance.clearResourceTimings();
    const t0 = performance.now();
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

  /** The old list's 10,000 signatures once more, with the noble fallback (a phone without WebCrypto Ed25519). */
  async oldNoble(province) {
    const keys = decodeKeysDocument(await (await fetch('/api/keys')).json());
    const body = await (await fetch('/api/exposures/' + province)).json();
    const t0 = performance.now();
    const verified = await verifyExposures(body.events, keys, { engine: 'noble' });
    return { ms: performance.now() - t0, accepted: verified.events.length, engine: verified.engine };
  },

  /** A compact snapshot on a fresh phone with the core functions alone (no IndexedDB): keys and snapshot in parallel, one signature, decoded. */
  async compactFresh(province, format) {
    const f = FORMATS[format];
    const url = '/api/exposures/' + province + f.path;
    performance.clearResourceTimings();
    const t0 = performance.now();
    const keysP = fetch('/api/keys').then(async (res) => decodeKeysDocument(await res.json()));
    const snapP = fetch(url).then(async (res) => ({ status: res.status, etag: res.headers.get('etag'), encoding: res.headers.get('content-encoding'), bytes: new Uint8Array(await res.arrayBuffer()), ms: performance.now() - t0 }));
    const [keys, s] = await Promise.all([keysP, snapP]);
    const v0 = performance.now();
    const checked = await f.verify(s.bytes, keys ?? [], province);
    const verifyMs = performance.now() - v0;
    if (!checked.ok) return { ok: false, reason: checked.reason };
    window.heldKeys = keys;
    window.held = applySnapshot({ version: null, events: [] }, checked.content);
    const readyMs = performance.now() - t0;
    const transfer = sizes(resource(url));
    const n0 = performance.now();
    const again = await fetch(url, { headers: { 'If-None-Match': s.etag }, cache: 'no-store' });
    const notModified = { status: again.status, ms: performance.now() - n0, bodyBytes: (await again.arrayBuffer()).byteLength };
    return {
      ok: true, status: s.status, encoding: s.encoding, bodyBytes: s.bytes.length, snapshotMs: s.ms, verifyMs, readyMs,
      version: checked.content.version, events: window.held.events.length, sizes: transfer, notModified
    };
  },

  /** The next day, core functions alone: the changes since the version held. */
  async compactDelta(province, format) {
    const f = FORMATS[format];
    const url = '/api/exposures/' + province + f.path + '?since=' + window.held.version;
    performance.clearResourceTimings();
    const t0 = performance.now();
    const res = await fetch(url);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const downloadedMs = performance.now() - t0;
    const checked = await f.verify(bytes, window.heldKeys, province);
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
  },

  /**
   * The app's own exposure check (src/lib/client/exposure-check.ts with the app's key cache,
   * src/lib/client/keys.ts): what a phone does when the citizen opens the app, from the call to the
   * list verified, stored in IndexedDB and matched. The home province is set before (the settings
   * screen); nothing else is held, the province table included, on the first call.
   */
  async appCheck(province) {
    await setHomeProvince(province);
    performance.clearResourceTimings();
    performance.clearMarks();
    const t0 = performance.now();
    const status = await runExposureCheck({
      keys: async (refresh) => (refresh ? ((await refreshKeys()) ?? cachedKeys()) : (await prefetchKeys(), cachedKeys())),
      notify: async () => {}
    });
    const readyMs = performance.now() - t0;
    const requests = performance.getEntriesByType('resource').map((e) => {
      const u = new URL(e.name);
      return { url: u.pathname + u.search, start: e.startTime - t0, firstByte: e.responseStart - t0, end: e.responseEnd - t0, encodedBodySize: e.encodedBodySize, transferSize: e.transferSize };
    });
    // The check's own User Timing marks (exposure-check.ts): downloaded, verified (and decoded), stored.
    const marks = Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('lv-exposures:' + province + ':')).map((m) => [m.name.split(':')[2], m.startTime - t0]));
    const held = await exposureDb.snapshots.get(province);
    return { readyMs, status, requests, marks, version: held?.version ?? null, eventsHeld: status.eventsHeld };
  },

  /**
   * Checking a whole snapshot in this browser, apart from the network: the signature (WebCrypto,
   * and the noble fallback) and the decoding, 7 times each; the first run is a cold one.
   */
  async verifyTimes(province, format) {
    const f = FORMATS[format];
    const keys = decodeKeysDocument(await (await fetch('/api/keys', { cache: 'no-store' })).json());
    const bytes = new Uint8Array(await (await fetch('/api/exposures/' + province + f.path, { cache: 'no-store' })).arrayBuffer());
    const opened = openSnapshot(bytes, f.magic);
    const key = keys.find((k) => k.id === opened.keyId);
    const message = snapshotSigningBytes(opened.payload, f.magic);
    const noble = await loadNoble();
    const runs = { whole: [], signature: [], decode: [], nobleSignature: [] };
    let events = 0;
    for (let i = 0; i < 7; i++) {
      let t = performance.now();
      const checked = await f.verify(bytes, keys, province);
      runs.whole.push(performance.now() - t);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      events = checked.content.events.length;
      t = performance.now();
      const sigOk = await verifyEd25519(opened.signature, message, key.publicKey);
      runs.signature.push(performance.now() - t);
      t = performance.now();
      f.decode(opened.payload);
      runs.decode.push(performance.now() - t);
      t = performance.now();
      const nobleOk = noble.verify(opened.signature, message, key.publicKey);
      runs.nobleSignature.push(performance.now() - t);
      if (!sigOk || !nobleOk) return { ok: false, reason: 'the signature alone did not verify' };
    }
    const summary = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, { first: xs[0], median: median(xs) }]));
    return { ok: true, bytes: bytes.length, events, ...summary };
  }
};
`;

/** The bench page, served by the server under test as its app (so on the same origin as the API). */
async function writePage(staticDir) {
  fs.writeFileSync(path.join(staticDir, 'snapshot-bench.js'), await bundleCode(PAGE, 'snapshot-bench-page.ts', { minify: true, alias: { $lib: './src/lib' } }));
  fs.writeFileSync(path.join(staticDir, 'index.html'), pageHtml('/snapshot-bench.js'));
}

async function phone(base) {
  const browser = await launchChromium();
  try {
    const { page } = await throttledPhone(browser, base);
    const out = await page.evaluate((province) => window.snapshotBench.fresh(province), PROVINCE);
    return { ...out, chromium: browser.version() };
  } finally {
    await browser.close();
  }
}

/** A fresh phone: its own browser context (empty HTTP cache, storage, no service worker), the bench page loaded, then the link throttled. */
async function throttledPhone(browser, base) {
  const context = await browser.newContext();
  // The app is already installed on the phone: loading the bench page is not part of the figure.
  const page = await openBenchPage(context, `${base}/`, 'snapshotBench');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const bytesPerSecond = LINK.bitsPerSecond / 8;
  const throttle = (on) =>
    cdp.send('Network.emulateNetworkConditions', on ? { offline: false, latency: LINK.latencyMs, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond } : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await throttle(true);
  return { page, throttle };
}

/**
 * The compact snapshots on fresh phones, one after the other on the same link (never two downloads
 * sharing it): LVS1 and LVS2 with the core functions alone, as the first figures were taken, and
 * LVS2 through the app's own check (IndexedDB included). Then, after `between()` has published a
 * day's changes, the delta on each of the three phones: they hold the version they got. Then, on
 * the app's phone with the throttling off, the checking of whole snapshots timed apart.
 */
async function compactPhones(base, between) {
  const browser = await launchChromium();
  try {
    const v1 = await throttledPhone(browser, base);
    const v2 = await throttledPhone(browser, base);
    const app = await throttledPhone(browser, base);
    const fresh = {
      v1: await v1.page.evaluate(([p, f]) => window.snapshotBench.compactFresh(p, f), [PROVINCE, 1]),
      v2: await v2.page.evaluate(([p, f]) => window.snapshotBench.compactFresh(p, f), [PROVINCE, 2]),
      app: await app.page.evaluate((p) => window.snapshotBench.appCheck(p), PROVINCE)
    };
    for (const [name, r] of Object.entries(fresh)) if (r.ok === false) throw new Error(`the ${name} phone refused the compact snapshot: ${r.reason}`);
    await between(fresh);
    const delta = {
      v1: await v1.page.evaluate(([p, f]) => window.snapshotBench.compactDelta(p, f), [PROVINCE, 1]),
      v2: await v2.page.evaluate(([p, f]) => window.snapshotBench.compactDelta(p, f), [PROVINCE, 2]),
      app: await app.page.evaluate((p) => window.snapshotBench.appCheck(p), PROVINCE)
    };
    for (const [name, r] of Object.entries(delta)) if (r.ok === false) throw new Error(`the ${name} phone refused the delta: ${r.reason}`);
    await app.throttle(false);
    const verify = {
      v1: await app.page.evaluate(([p, f]) => window.snapshotBench.verifyTimes(p, f), [PROVINCE, 1]),
      v2: await app.page.evaluate(([p, f]) => window.snapshotBench.verifyTimes(p, f), [PROVINCE, 2]),
      oldNoble: await app.page.evaluate((p) => window.snapshotBench.oldNoble(p), PROVINCE)
    };
    for (const [name, r] of Object.entries(verify)) if (r.ok === false) throw new Error(`verifying ${name} in Chromium failed: ${r.reason}`);
    return { fresh, delta, verify };
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

    // ---- The compact snapshots, LVS1 and LVS2: the same events, the same server, the same link ----
    const CHROMIUM_ACCEPT = 'gzip, deflate, br, zstd'; // what Chromium 156 sends, over http://127.0.0.1 as over https
    const urls = { v1: `/api/exposures/${PROVINCE}/snapshot`, v2: `/api/exposures/${PROVINCE}/snapshot/v2` };
    // Its version covers publications a minute old: wait that long after the last, as a phone checking tomorrow would find them.
    await sleep(Math.max(0, SETTLE_MS + 2_000 - (performance.now() - publishedAt)));
    const served = {};
    for (const [name, url] of Object.entries(urls)) {
      // LVS1 first: its first request also builds the province's state, which LVS2's then finds built.
      const first = await get(base, url, { 'accept-encoding': CHROMIUM_ACCEPT });
      const cached = [];
      for (let i = 0; i < 10; i++) cached.push((await get(base, url, { 'accept-encoding': CHROMIUM_ACCEPT })).ms);
      const gz = await get(base, url, { 'accept-encoding': 'gzip' });
      const plain = await get(base, url);
      if (first.headers['content-encoding'] !== 'br') problems.push(`${name} was served to Chromium's Accept-Encoding as ${first.headers['content-encoding'] ?? 'identity'}, not br`);
      if (!brotliDecompressSync(first.body).equals(plain.body) || !gunzipSync(gz.body).equals(plain.body)) problems.push(`the compressed ${name} bodies are not the plain one`);
      if (plain.body.subarray(0, 4).toString('latin1') !== (name === 'v1' ? 'LVS1' : 'LVS2')) problems.push(`${url} is not ${name === 'v1' ? 'LVS1' : 'LVS2'}`);
      const revalidate = await get(base, url, { 'accept-encoding': CHROMIUM_ACCEPT, 'if-none-match': first.headers.etag });
      if (revalidate.status !== 304) problems.push(`${name} If-None-Match answered ${revalidate.status}`);
      served[name] = { first, cached, gz, plain, revalidate };
    }

    const DAY = { added: 400, corrected: 50, withdrawn: 50 };
    const changes = DAY.added + DAY.corrected + DAY.withdrawn;
    let day = null;
    let warm = null;
    const c = await compactPhones(base, async (f) => {
      console.log(`  compact snapshots on fresh phones: LVS1 ready in ${fmtMs(f.v1.readyMs)}, LVS2 in ${fmtMs(f.v2.readyMs)} (core functions), the app's check with LVS2 in ${fmtMs(f.app.readyMs)}; now a day of changes`);
      const pushed = await pushDayOfChanges(base, cookie, docs, DAY);
      const dayPublishMs = await waitForDay(server.store, pushed.changes);
      console.log(`  ${changes} changes pushed and published; waiting ${SETTLE_MS / 1000} s for the version to cover them`);
      day = { ...pushed, dayPublishMs };
      await sleep(SETTLE_MS + 2_000);
      // The server's first request after the changes rebuilds the province's state: made from Node, so that the phones' figures are the delta's alone.
      warm = await get(base, `${urls.v2}?since=${f.app.version}`, { 'accept-encoding': CHROMIUM_ACCEPT });
    });
    const fresh1 = c.fresh.v1;
    const fresh2 = c.fresh.v2;
    const app = c.fresh.app;
    const appDelta = c.delta.app;
    for (const [name, f] of [['LVS1', fresh1], ['LVS2', fresh2]]) {
      if (f.events !== opts.events) problems.push(`the ${name} phone holds ${f.events} events, not ${opts.events}`);
      if (f.notModified.status !== 304) problems.push(`the ${name} phone's If-None-Match answered ${f.notModified.status}`);
    }
    if (app.eventsHeld !== opts.events || app.status.rejected !== 0 || app.status.fetchFailed) problems.push(`the app's check holds ${app.eventsHeld} events (rejected ${app.status.rejected}, failed ${app.status.fetchFailed})`);
    const expectAfter = opts.events + DAY.added - DAY.withdrawn;
    for (const [name, d] of [['LVS1', c.delta.v1], ['LVS2', c.delta.v2]]) {
      if (d.kind !== 'delta') problems.push(`the day after, the ${name} phone got a ${d.kind} snapshot, not a delta`);
      if (d.changed !== DAY.added + DAY.corrected || d.withdrawn !== DAY.withdrawn) problems.push(`the ${name} delta held ${d.changed} events and ${d.withdrawn} withdrawals, not ${DAY.added + DAY.corrected} and ${DAY.withdrawn}`);
      if (d.after !== expectAfter) problems.push(`after the ${name} delta the phone holds ${d.after} events, not ${expectAfter}`);
    }
    if (appDelta.eventsHeld !== expectAfter) problems.push(`after the day the app holds ${appDelta.eventsHeld} events, not ${expectAfter}`);
    const appSnapshot = (r, delta) => r.requests.find((q) => q.url.startsWith(urls.v2) && q.url.includes('?since=') === delta);
    if (!appSnapshot(app, false)) problems.push(`the app's first check did not ask for ${urls.v2}`);
    if (!appSnapshot(appDelta, true)) problems.push(`the app's next check did not ask for a delta (${appDelta.requests.map((q) => q.url).join(', ')})`);
    const dayDelta = { v1: await get(base, `${urls.v1}?since=${fresh1.version}`, { 'accept-encoding': CHROMIUM_ACCEPT }), v2: await get(base, `${urls.v2}?since=${fresh2.version}`, { 'accept-encoding': CHROMIUM_ACCEPT }) };
    const transfer = p.snapshotSizes?.encodedBodySize ?? first.body.length;
    const onWire = (f, fallback) => f.sizes?.encodedBodySize ?? fallback;
    const lineMs = (bytes) => (bytes * 8 * 1000) / LINK.bitsPerSecond + LINK.latencyMs;
    const v = c.verify;

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
    console.log(`\n(the link alone: ${fmtMs(lineMs(transfer))} for ${kb(transfer)} at ${LINK.bitsPerSecond / 1e6} Mbit/s + one latency)`);

    console.log(`\nOld list (/api/exposures/${PROVINCE}), LVS1 (${urls.v1}) and LVS2 (${urls.v2}), the same ${opts.events.toLocaleString('en-US')} events, this run`);
    const row4 = (cells) => console.log(tableRow(cells, [46, 24, 24, 24]));
    const per = (bytes) => `${kb(bytes)} (${perEvent(bytes).toFixed(1)} B/event)`;
    row4(['', 'old list', 'LVS1', 'LVS2']);
    row4(['raw body', per(raw.body.length), per(served.v1.plain.body.length), per(served.v2.plain.body.length)]);
    row4(['gzip', per(first.body.length), per(served.v1.gz.body.length), per(served.v2.gz.body.length)]);
    row4([`AS SERVED to Chromium (${CHROMIUM_ACCEPT})`, `gzip ${perEvent(first.body.length).toFixed(1)} B/event`, `br ${perEvent(served.v1.first.body.length).toFixed(1)} B/event`, `br ${perEvent(served.v2.first.body.length).toFixed(1)} B/event`]);
    row4(['signatures', `${opts.events.toLocaleString('en-US')} (${perEvent(first.body.length - unsignedGzip).toFixed(0)} B/event gzip)`, '1 (64 B)', '1 (64 B)']);
    row4(['server: first request (build + cache)', fmtMs(first.ms), `${fmtMs(served.v1.first.ms)} (+ state)`, fmtMs(served.v2.first.ms)]);
    row4(['server: cached, median of 10', `${median(cached).toFixed(1)} ms`, `${median(served.v1.cached).toFixed(1)} ms`, `${median(served.v2.cached).toFixed(1)} ms`]);
    row4([`fresh phone, core functions: download`, fmtMs(p.snapshotMs), fmtMs(fresh1.snapshotMs), fmtMs(fresh2.snapshotMs)]);
    row4(['  on the wire', kb(transfer), kb(onWire(fresh1, served.v1.first.body.length)), kb(onWire(fresh2, served.v2.first.body.length))]);
    row4(['  verify (+ decode)', `${fmtMs(p.verifyMs)} (${opts.events} sig.)`, fmtMs(fresh1.verifyMs), fmtMs(fresh2.verifyMs)]);
    row4(['  ready to match (no storage)', fmtMs(p.readyMs), fmtMs(fresh1.readyMs), fmtMs(fresh2.readyMs)]);
    row4(['  the link alone (bytes at 1 Mbit/s + 1 latency)', fmtMs(lineMs(transfer)), fmtMs(lineMs(onWire(fresh1, served.v1.first.body.length))), fmtMs(lineMs(onWire(fresh2, served.v2.first.body.length)))]);
    row4([`FRESH PHONE, THE APP'S CHECK (stored, matched)`, '', '', fmtMs(app.readyMs)]);
    row4([`day after: ${changes} changes, core functions`, `${fmtMs(p.readyMs)} (whole list)`, `${fmtMs(c.delta.v1.readyMs)} (${kb(onWire(c.delta.v1, dayDelta.v1.body.length))} ${c.delta.v1.encoding})`, `${fmtMs(c.delta.v2.readyMs)} (${kb(onWire(c.delta.v2, dayDelta.v2.body.length))} ${c.delta.v2.encoding})`]);
    row4([`DAILY DELTA, THE APP'S CHECK (stored, matched)`, '', '', fmtMs(appDelta.readyMs)]);

    const timeline = (r) => {
      for (const q of r.requests) console.log(`    ${q.url.padEnd(44)} asked at ${fmtMs(q.start).padStart(6)}, first byte ${fmtMs(q.firstByte).padStart(6)}, last byte ${fmtMs(q.end).padStart(6)}, ${q.encodedBodySize.toLocaleString('en-US')} bytes`);
      const m = r.marks;
      if (m.downloaded !== undefined && m.verified !== undefined && m.stored !== undefined) {
        console.log(`    downloaded at ${fmtMs(m.downloaded)}; verified and decoded ${fmtMs(m.verified - m.downloaded)}; stored in IndexedDB ${fmtMs(m.stored - m.verified)}; read back, matched, status ${fmtMs(r.readyMs - m.stored)}; READY at ${fmtMs(r.readyMs)}`);
      } else {
        const last = Math.max(...r.requests.map((q) => q.end));
        console.log(`    after the last byte: verify, decode, store in IndexedDB, match: ${fmtMs(r.readyMs - last)}; ready at ${fmtMs(r.readyMs)}`);
      }
    };
    console.log(`\nThe app's check on a fresh phone (src/lib/client/exposure-check.ts, home province ${PROVINCE} set, nothing else held), where the time goes:`);
    timeline(app);
    console.log(`The app's check the day after (holds the version of the day before; the key list and the province table are held):`);
    timeline(appDelta);

    console.log(`\nChecking a whole snapshot in Chromium, apart from the network (7 runs: first / median)`);
    const row5 = (cells) => console.log(tableRow(cells, [52, 22, 22]));
    const fm = (x) => `${x.first.toFixed(1)} / ${x.median.toFixed(1)} ms`;
    row5(['', `LVS1 (${v.v1.events} events)`, `LVS2 (${v.v2.events} events)`]);
    row5(['WHOLE CHECK (WebCrypto signature + decode)', fm(v.v1.whole), fm(v.v2.whole)]);
    row5(['  the signature, WebCrypto Ed25519', fm(v.v1.signature), fm(v.v2.signature)]);
    row5(['  decoding the events', fm(v.v1.decode), fm(v.v2.decode)]);
    row5(['the signature, noble fallback', fm(v.v1.nobleSignature), fm(v.v2.nobleSignature)]);
    row5(['WHOLE CHECK with noble (signature + decode, medians)', `${(v.v1.nobleSignature.median + v.v1.decode.median).toFixed(1)} ms`, `${(v.v2.nobleSignature.median + v.v2.decode.median).toFixed(1)} ms`]);
    console.log(`  old list, ${opts.events.toLocaleString('en-US')} signatures one by one: WebCrypto ${fmtMs(p.verifyMs)} (on the fresh phone above), noble ${fmtMs(v.oldNoble.ms)}`);

    console.log(`\nCompact Cache-Control: ${served.v2.first.headers['cache-control']}; Vary: ${served.v2.first.headers.vary}; ETag: ${served.v2.first.headers.etag}; Content-Type: ${served.v2.first.headers['content-type']}`);
    console.log(`The server's first request after the day's changes (rebuilds the state and the LVS2 delta; not in the phones' figures): ${fmtMs(warm.ms)}`);
    console.log(`Day of changes: pushed and published in ${fmtMs(day.dayPublishMs)} after the push; delta br LVS1 ${dayDelta.v1.body.length.toLocaleString('en-US')} bytes (${(dayDelta.v1.body.length / changes).toFixed(1)} B/change), LVS2 ${dayDelta.v2.body.length.toLocaleString('en-US')} bytes (${(dayDelta.v2.body.length / changes).toFixed(1)} B/change)`);
    const verdict = (ok) => (ok ? 'met' : 'NOT met');
    console.log(
      `Targets: <= 40 B/event as served: LVS2 ${perEvent(served.v2.first.body.length).toFixed(1)} (${verdict(perEvent(served.v2.first.body.length) <= 40)}); ` +
        `fresh phone <= 4 s: ${fmtMs(app.readyMs)} (${verdict(app.readyMs <= 4000)}); daily delta of ${changes} <= 1 s: ${fmtMs(appDelta.readyMs)} (${verdict(appDelta.readyMs <= 1000)}); ` +
        `verification <= 200 ms: ${v.v2.whole.median.toFixed(0)} ms WebCrypto, ${(v.v2.nobleSignature.median + v.v2.decode.median).toFixed(0)} ms noble (${verdict(v.v2.whole.median <= 200)})`
    );
    for (const problem of problems) console.log(`\nCHECK FAILED: ${problem}`);

    const round = (x) => Number(x.toFixed(1));
    const compactServed = (sv) => ({
      raw: sv.plain.body.length,
      gzip: sv.gz.body.length,
      served: sv.first.body.length,
      encoding: sv.first.headers['content-encoding'],
      servedPerEvent: round(perEvent(sv.first.body.length)),
      gzipPerEvent: round(perEvent(sv.gz.body.length)),
      firstRequestMs: round(sv.first.ms),
      cachedMedianMs: round(median(sv.cached)),
      notModified: sv.revalidate.status
    });
    const corePhone = (f, d, fallback) => ({ snapshotMs: round(f.snapshotMs), transferBytes: onWire(f, fallback), verifyMs: round(f.verifyMs), readyMs: round(f.readyMs), notModifiedStatus: f.notModified.status, deltaReadyMs: round(d.readyMs), deltaTransferBytes: d.sizes?.encodedBodySize ?? null, deltaKind: d.kind });
    const verifySummary = (x) => ({ wholeFirstMs: round(x.whole.first), wholeMedianMs: round(x.whole.median), signatureMedianMs: round(x.signature.median), decodeMedianMs: round(x.decode.median), nobleSignatureMedianMs: round(x.nobleSignature.median), nobleWholeMs: round(x.nobleSignature.median + x.decode.median) });
    const appSummary = (r) => ({ readyMs: round(r.readyMs), eventsHeld: r.eventsHeld, marks: Object.fromEntries(Object.entries(r.marks).map(([k, x]) => [k, round(x)])), requests: r.requests.map((q) => ({ url: q.url, startMs: round(q.start), endMs: round(q.end), bytes: q.encodedBodySize })) });
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
        nobleVerifyMs: round(v.oldNoble.ms),
        engine: p.engine,
        readyMs: round(p.readyMs),
        accepted: p.accepted,
        notModifiedStatus: p.notModified.status,
        notModifiedMs: round(p.notModified.ms),
        revalidateMs: round(p.revalidated.ms)
      },
      lvs1: { bytes: compactServed(served.v1), phone: corePhone(fresh1, c.delta.v1, served.v1.first.body.length), verify: verifySummary(v.v1), deltaBodyBytes: dayDelta.v1.body.length },
      lvs2: {
        bytes: compactServed(served.v2),
        phone: corePhone(fresh2, c.delta.v2, served.v2.first.body.length),
        verify: verifySummary(v.v2),
        deltaBodyBytes: dayDelta.v2.body.length,
        app: { fresh: appSummary(app), delta: appSummary(appDelta) }
      },
      day: { changes, ...DAY, publishMs: round(day.dayPublishMs), serverFirstRequestMs: round(warm.ms) },
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
