#!/usr/bin/env node
/**
 * Gateway ingest: how many station entries per second the sync gateway stores, and what it costs
 * compared with pushing straight to the store.
 *
 * The server runs in this process (dist/server.mjs, a temp DATA_DIR, 127.0.0.1 only), exactly as
 * `npm start` runs it. Its store is the embedded one, which runs in a child process of its own
 * (dist/store.mjs; builds before the store was supervised ran it on the server's main thread), or
 * with --couchdb a real CouchDB. The simulated station devices run in a worker thread, so the load
 * generator does not take the server's event loop.
 *
 * Each device is a venue owner's station: its own account, its own venue in commune 18070, and its
 * own in-memory PouchDB. In a closed loop it writes a batch of entries locally, then pushes them with
 * a one-shot `local.replicate.to(remote)`, timing the push.
 *
 *   Phase A (gateway): remote = /sync/lv_c_18070 with the owner's session cookie.
 *   Phase B (direct):  remote = the embedded store's own URL (admin credentials), database
 *                      lv_c_99999 made for the bench, fresh venue ids; no gateway in the path.
 *
 * Each phase runs a short warm-up (same devices, same loop, not timed) and then the timed loop. After
 * each phase every entry written locally (warm-up included) is looked up on the server: lost = written
 * but not stored, duplicated = stored twice (same venue, person and time) or stored but never written.
 * entries/s = entries of the timed loop found on the server / its duration (until the last push ends).
 * Besides throughput it prints CPU time per stored entry, from /proc: the server's (this process
 * minus the device thread) and the store's (the embedded store's child process, or CouchDB's
 * beam.smp when it runs on this machine), apart and together: throughput moves with whatever else
 * the machine runs, CPU per entry much less. An in-process store (an older --bundle) is in the
 * server's figure and has no store figure of its own.
 *
 * Owners register from 127.0.0.2, 127.0.0.3, … (loopback still): the login limiter counts per source
 * address only, 10 per 15 minutes, whatever the number (its key is computed before the body is read).
 *
 * Phone numbers and venue ids carry a tag drawn for the run, so runs against one CouchDB do not meet;
 * the bench's own database lv_c_99999 is deleted at the end there (the bench venues stay in
 * lv_c_18070: use a CouchDB kept for benchmarks).
 *
 * Usage: node bench/ingest.mjs [--seconds 60] [--devices 50] [--batch 20] [--warmup 5] [--profile] [--bundle file] [--couchdb URL]
 *   --profile  samples the server thread with the V8 profiler in each phase and prints where the
 *              time goes (it slows the server a little: take throughput figures from a run without it).
 *   --bundle   another build of the server to measure (default dist/server.mjs), e.g. a candidate
 *              fix bundled with esbuild elsewhere, beside a node_modules link to this project's.
 *              A build without dist/store.mjs beside it runs its store in-process.
 *   --couchdb  the admin URL of a CouchDB to run on (COUCHDB_URL in the environment does the same).
 * Prints a table and a final `RESULT {json}` line; exits 0 when both phases stored every entry
 * exactly once, non-zero with a reason otherwise.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  ROOT,
  exitWith,
  httpRequest,
  mainThreadCpuMs,
  memoryPouchDB,
  parseFlags,
  percentile,
  printFigures,
  printResult,
  CLOCK_TICKS,
  procCpuMs,
  remotePouch,
  round,
  serverBundle,
  sessionCookie,
  startBenchServer,
  tempDirs,
  workerChannel
} from './lib.mjs';

const GATEWAY_COMMUNE = '18070'; // the demo commune, seeded at start-up
const DIRECT_COMMUNE = '99999'; // a database of the same shape, made by the bench for phase B

// ---------------------------------------------------------------------------------------------
// Realistic people: Vietnamese names and mobile numbers
// ---------------------------------------------------------------------------------------------
const SURNAMES = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Phan', 'Vũ', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Hồ', 'Ngô', 'Dương', 'Lý', 'Thái', 'Đinh'];
const MIDDLE_M = ['Văn', 'Hữu', 'Đức', 'Minh', 'Quốc', 'Công', 'Thanh', 'Xuân', 'Đình', 'Trọng'];
const MIDDLE_F = ['Thị', 'Ngọc', 'Thu', 'Thanh', 'Minh', 'Kim', 'Phương', 'Hồng', 'Mỹ', 'Bích'];
const GIVEN_M = ['An', 'Bình', 'Cường', 'Dũng', 'Hải', 'Hùng', 'Khánh', 'Long', 'Nam', 'Phúc', 'Quang', 'Sơn', 'Tài', 'Thắng', 'Tuấn', 'Việt', 'Vinh', 'Hiếu', 'Đạt', 'Toàn'];
const GIVEN_F = ['Anh', 'Chi', 'Dung', 'Giang', 'Hà', 'Hạnh', 'Hoa', 'Hương', 'Lan', 'Linh', 'Mai', 'Nga', 'Nhung', 'Oanh', 'Phương', 'Tâm', 'Thảo', 'Thủy', 'Trang', 'Yến'];
const PREFIXES = ['090', '091', '093', '094', '096', '097', '098', '086', '088', '089', '032', '033', '034', '035', '036', '037', '038', '039', '070', '076', '077', '078', '079', '081', '082', '083', '084', '085', '056', '058'];
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

function person() {
  const female = Math.random() < 0.5;
  const name = `${pick(SURNAMES)} ${pick(female ? MIDDLE_F : MIDDLE_M)} ${pick(female ? GIVEN_F : GIVEN_M)}`;
  const p = { source: 'manual', name };
  // Most people give a number at a manual station; some do not.
  if (Math.random() < 0.85) p.phone = pick(PREFIXES) + String(Math.floor(Math.random() * 1e7)).padStart(7, '0');
  return p;
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Two letters drawn for this run: phone numbers and venue ids of two runs on one CouchDB do not meet. */
const RUN_TAG = Array.from(randomBytes(2), (b) => B32[b % 32]).join('');
const RUN_PHONE = String(randomBytes(2).readUInt16BE() % 1000).padStart(3, '0');

function venueIdFor(prefix, i) {
  let s = '';
  for (let n = i, k = 0; k < 6; k++, n = Math.floor(n / 32)) s = B32[n % 32] + s;
  return (prefix + s).slice(0, 12); // prefix is 6 letters of [a-z]
}

function randomTail() {
  return randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 8);
}

// ---------------------------------------------------------------------------------------------
// Worker thread: the station devices
// ---------------------------------------------------------------------------------------------
async function workerMain() {
  const PouchDB = await memoryPouchDB();
  let devices = [];
  let localCounter = 0;

  // Per-request timings on the client side, by endpoint: where a push spends its time.
  let reqStats = new Map();
  const kindOf = (url, method) => {
    const p = new URL(url).pathname;
    if (/\/_local\//.test(p)) return `${method} _local`;
    if (p.endsWith('/_revs_diff')) return 'POST _revs_diff';
    if (p.endsWith('/_bulk_docs')) return 'POST _bulk_docs';
    if (p.endsWith('/_bulk_get')) return 'POST _bulk_get';
    if (/\/_changes$/.test(p)) return `${method} _changes`;
    if (p === '/' || p === '/sync/') return `${method} / (server root)`;
    return `${method} ${p.split('/').slice(-1)[0] || '/'}`;
  };
  const record = (kind, ms) => {
    let s = reqStats.get(kind);
    if (!s) reqStats.set(kind, (s = { n: 0, ms: [] }));
    s.n++;
    s.ms.push(ms);
  };

  const remoteFor = (url, cookie) => remotePouch(PouchDB, url, cookie, (u, method, ms) => record(kindOf(u, method), ms));

  async function setup({ phase, remoteUrl, devs }) {
    devices = await Promise.all(
      devs.map(async (d) => {
        const local = new PouchDB(`ingest-${phase}-${process.pid}-${++localCounter}`, { adapter: 'memory' });
        const remote = remoteFor(remoteUrl, d.cookie);
        await local.put({
          _id: `venue:${d.venueId}`,
          type: 'venue',
          schema: 1,
          venueId: d.venueId,
          name: d.venueName,
          venueType: 'shop',
          communeCode: d.communeCode,
          address: '',
          status: 'active',
          owner: d.userId
        });
        return { ...d, local, remote, lastTime: 0, written: [], measured: 0, pushes: [], errors: 0, lastError: null, failures: 0 };
      })
    );
    // The venue goes up first (not timed): the server learns who owns what.
    for (const dev of devices) {
      const res = await dev.local.replicate.to(dev.remote);
      if (res.docs_written !== 1 || res.doc_write_failures) throw new Error(`venue ${dev.venueId} not stored: ${JSON.stringify(res.errors ?? res)}`);
    }
  }

  function batchOf(dev, n) {
    const docs = [];
    for (let i = 0; i < n; i++) {
      // Strictly increasing per device: two entries of one station never share a millisecond.
      const time = Math.max(Date.now(), dev.lastTime + 1);
      dev.lastTime = time;
      docs.push({
        _id: `entry:${dev.venueId}:${String(time).padStart(13, '0')}:${randomTail()}`,
        type: 'entry',
        schema: 1,
        venueId: dev.venueId,
        communeCode: dev.communeCode,
        time,
        direction: Math.random() < 0.9 ? 'in' : 'out',
        person: person(),
        deviceId: dev.deviceId
      });
    }
    return docs;
  }

  async function push(dev, timed) {
    const t0 = performance.now();
    try {
      const res = await dev.local.replicate.to(dev.remote);
      if (timed) dev.pushes.push(performance.now() - t0);
      if (res.doc_write_failures) {
        dev.failures += res.doc_write_failures;
        dev.lastError = JSON.stringify(res.errors?.[0] ?? res).slice(0, 300);
      }
      return true;
    } catch (err) {
      dev.errors++;
      dev.lastError = String(err?.message ?? err).slice(0, 300);
      return false;
    }
  }

  async function loop(dev, until, batch, timed) {
    let ok = true;
    while (performance.now() < until) {
      const docs = batchOf(dev, batch);
      const results = await dev.local.bulkDocs(docs);
      for (let i = 0; i < results.length; i++) {
        if (results[i].ok) {
          dev.written.push(docs[i]._id);
          if (timed) dev.measured++;
        }
      }
      ok = await push(dev, timed);
    }
    // A failed last push leaves entries behind: one more try each, as a station would on reconnect.
    for (let i = 0; i < 3 && !ok; i++) ok = await push(dev, false);
  }

  async function run({ seconds, warmup, batch, storePid }) {
    if (warmup > 0) {
      const until = performance.now() + warmup * 1000;
      await Promise.all(devices.map((d) => loop(d, until, batch, false)));
    }
    for (const d of devices) d.measuredIds = d.written.length; // index where the timed part begins
    reqStats = new Map();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = cpuNow(storePid);
    const start = performance.now();
    const until = start + seconds * 1000;
    await Promise.all(devices.map((d) => loop(d, until, batch, true)));
    const durationMs = performance.now() - start;
    const cpu1 = cpuNow(storePid);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    return {
      durationMs,
      clientElu: elu,
      // CPU time over the timed part: this (device) thread, the server's main thread, and the rest of
      // the process (libuv pool doing LevelDB I/O, GC helpers). Unlike throughput, CPU per entry
      // hardly moves when other programs compete for the cores.
      // The store's process (its pid, read at both ends: a restart in between voids the figure).
      cpuMs: { devices: cpu1.self - cpu0.self, serverMain: cpu1.main - cpu0.main, process: cpu1.process - cpu0.process, store: cpu1.store - cpu0.store },
      devices: devices.map((d) => ({
        venueId: d.venueId,
        warmupIds: d.written.slice(0, d.measuredIds),
        measuredIds: d.written.slice(d.measuredIds),
        pushes: d.pushes,
        errors: d.errors,
        failures: d.failures,
        lastError: d.lastError
      })),
      requests: Object.fromEntries([...reqStats].map(([k, s]) => [k, { n: s.n, p50: percentile(s.ms, 50), p95: percentile(s.ms, 95), mean: s.ms.reduce((a, b) => a + b, 0) / s.n }]))
    };
  }

  async function cleanup() {
    await Promise.all(devices.map((d) => d.local.destroy()));
    devices = [];
  }

  parentPort.on('message', async (msg) => {
    try {
      if (msg.cmd === 'setup') {
        await setup(msg);
        parentPort.postMessage({ type: 'ready' });
      } else if (msg.cmd === 'run') {
        parentPort.postMessage({ type: 'done', stats: await run(msg) });
      } else if (msg.cmd === 'cleanup') {
        await cleanup();
        parentPort.postMessage({ type: 'clean' });
      }
    } catch (err) {
      parentPort.postMessage({ type: 'error', message: String(err?.stack ?? err) });
    }
  });
  parentPort.postMessage({ type: 'loaded' });
}

/**
 * CPU ms so far: the process, the calling thread (/proc/thread-self: sync reads run on it), the main
 * thread, and the store's process when it has a pid here (NaN otherwise).
 */
function cpuNow(storePid) {
  const u = process.cpuUsage();
  return { process: (u.user + u.system) / 1000, self: procCpuMs('/proc/thread-self/stat'), main: mainThreadCpuMs(), store: storePid ? procCpuMs(`/proc/${storePid}/stat`) : NaN };
}

// ---------------------------------------------------------------------------------------------
// Main thread: the server, accounts, verification, profiling, report
// ---------------------------------------------------------------------------------------------
const OPTIONS = {
  usage: 'node bench/ingest.mjs [--seconds 60] [--devices 50] [--batch 20] [--warmup 5] [--profile] [--bundle dist/server.mjs] [--couchdb URL]',
  spec: { seconds: 'number', devices: 'whole', batch: 'whole', warmup: 'number', profile: 'switch', bundle: 'path', couchdb: 'text' },
  defaults: { seconds: 60, devices: 50, batch: 20, warmup: 5, profile: false, bundle: null, couchdb: process.env.COUCHDB_URL || null },
  check(opts) {
    if (opts.couchdb && !/^https?:\/\/[^/@]+@[^/]+\/?$/.test(opts.couchdb)) throw new Error('--couchdb: an admin URL, http://user:password@host:port');
    if (opts.seconds <= 0 || opts.devices < 1 || opts.batch < 1) throw new Error('--seconds, --devices and --batch must be positive');
    if (opts.devices > 500) throw new Error('--devices: at most 500');
  }
};

/**
 * POST /api/auth/register from a given loopback source address. The login limiter allows 10 calls
 * per 15 minutes per source address (its per-number key never sees the number: see the report), so
 * the owners register from 127.0.0.2, 127.0.0.3, … — still loopback, 8 accounts per address.
 */
async function register(base, phone, localAddress) {
  const res = await httpRequest(`${base}/api/auth/register`, { method: 'POST', body: JSON.stringify({ phone, password: 'mat-khau-bench' }), localAddress });
  const text = res.body.toString('utf8');
  if (res.status !== 201) throw new Error(`register ${phone} from ${localAddress}: ${res.status} ${text}`);
  const cookie = sessionCookie(res.headers['set-cookie']);
  if (!cookie) throw new Error(`register ${phone}: no lv_session cookie`);
  return { cookie, userId: JSON.parse(text).userId };
}

/** Every entry doc of one venue on the server, paged through _all_docs. */
async function storedEntries(store, db, venueId) {
  const docs = [];
  const end = JSON.stringify(`entry:${venueId}:\ufff0`);
  let startkey = JSON.stringify(`entry:${venueId}:`);
  let skip = '0';
  for (;;) {
    const res = await store.request('GET', `${db}/_all_docs`, { query: new URLSearchParams({ startkey, endkey: end, include_docs: 'true', limit: '2000', skip }) });
    if (res.status !== 200) throw new Error(`reading ${db} for ${venueId}: ${res.status} ${JSON.stringify(res.body)}`);
    const rows = res.body.rows;
    for (const r of rows) if (r.doc) docs.push(r.doc);
    if (rows.length < 2000) return docs;
    startkey = JSON.stringify(rows[rows.length - 1].key);
    skip = '1';
  }
}

async function verify(store, db, stats) {
  let written = 0;
  let stored = 0;
  let lost = 0;
  let extra = 0;
  let dupes = 0;
  let storedMeasured = 0;
  const lostSamples = [];
  for (const dev of stats.devices) {
    const docs = await storedEntries(store, db, dev.venueId);
    const ids = new Set(docs.map((d) => d._id));
    const all = [...dev.warmupIds, ...dev.measuredIds];
    const mine = new Set(all);
    written += all.length;
    stored += docs.length;
    for (const id of all) if (!ids.has(id)) {
      lost++;
      if (lostSamples.length < 3) lostSamples.push(id);
    }
    for (const id of dev.measuredIds) if (ids.has(id)) storedMeasured++;
    for (const id of ids) if (!mine.has(id)) extra++;
    const seen = new Set();
    for (const d of docs) {
      const key = `${d.venueId}|${d.time}|${d.direction}|${d.person?.name}|${d.person?.phone ?? ''}`;
      if (seen.has(key)) dupes++;
      else seen.add(key);
    }
  }
  return { written, stored, storedMeasured, lost, duplicated: dupes + extra, dupSamePersonTime: dupes, extraIds: extra, lostSamples };
}

/**
 * The server thread's samples, each charged to what it was doing: the nearest frame (from the leaf
 * up) that belongs to a known part — the gateway's side (Fastify, session JWT, validation, the fetch
 * to the store) or the store's (express-pouchdb, PouchDB, LevelDB, the view index). Native and
 * node-internal frames (JSON, Buffer, streams) go to the part that called them.
 */
function summarizeProfile(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const parts = new Map();
  const fns = new Map();
  let total = 0;
  for (const [id, us] of dt) {
    total += us;
    const leaf = nodes.get(id);
    let part = ['(garbage collector)', '(idle)', '(program)'].includes(leaf.callFrame.functionName) ? leaf.callFrame.functionName : null;
    for (let cur = id; !part && cur !== undefined; cur = parent.get(cur)) part = partOf(nodes.get(cur).callFrame);
    part ??= 'node http/net/streams (no package on the stack)';
    parts.set(part, (parts.get(part) ?? 0) + us);
    const { url, functionName, lineNumber } = leaf.callFrame;
    const fn = `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const top = (m, k) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: +((100 * us) / total).toFixed(1) }));
  return { totalMs: Math.round(total / 1000), parts: top(parts, 20), functions: top(fns, 20) };
}

const BUNDLE = { url: '' };

function partOf({ url, lineNumber }) {
  if (!url) return null;
  // pouchdb-node's map/reduce section: the view index, which runs each map function in node:vm.
  if (url === 'node:vm' || (url.includes('pouchdb-node/lib/index.js') && lineNumber >= 7900 && lineNumber <= 8900)) return 'store: view index (map function in node:vm, per doc)';
  if (url === BUNDLE.url) return 'gateway: server code (gateway.ts, accounts, documents)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url.slice(url.lastIndexOf('node_modules/')))?.[1];
  if (url.includes('undici')) return 'gateway: fetch to the store (undici)';
  if (!pkg) return /bench\/(ingest|lib)\.mjs/.test(url) ? 'bench (profiler)' : null;
  if (pkg === 'jose') return 'gateway: session JWT check (jose)';
  if (pkg === 'valibot') return 'gateway: document validation (valibot)';
  if (/^(fastify|@fastify\/.*|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse|fast-querystring|toad-cache|abstract-logging|process-warning|cookie|fast-uri|ajv|rfdc|safe-regex2|ret|json-schema-ref-resolver)$/.test(pkg)) return 'gateway: Fastify';
  if (/^(get-folder-size|pouchdb-size|tiny-each-async)$/.test(pkg)) return 'store: disk_size on info() (get-folder-size)';
  if (/^(pouchdb-auth|pouchdb-security|couchdb-calculate-session-id|basic-auth|crypto-lite|pouchdb-validation|base64url)$/.test(pkg)) return 'store: per-request auth, security, validation';
  if (/leveldown|^level|sublevel|memdown|^ltgt$|double-ended-queue/.test(pkg)) return 'store: LevelDB';
  if (/^pouchdb|^bluebird$|^argsarray$|^promise-nodify$|^through2$|^readable-stream$/.test(pkg)) return 'store: PouchDB core';
  if (/^(express|express-pouchdb|body-parser|compression|raw-body|on-finished|on-headers|finalhandler|send|etag|accepts|negotiator|type-is|media-typer|qs|iconv-lite|depd|debug|mime|mime-types|http-errors|statuses|content-type|vary|cookie-parser|forwarded|proxy-addr|parseurl|ee-first|destroy|header-case-normalizer|aproba|encodeurl|fresh|compressible|bytes|sanitize-filename|truncate-utf8-bytes|extend)$/.test(pkg)) return 'store: express / express-pouchdb HTTP';
  return `other: ${pkg}`;
}

function shortUrl(url) {
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  return url.replace(`file://${ROOT}/`, '').replace(/^node:internal\//, 'node:');
}

async function main() {
  const opts = parseFlags('ingest', OPTIONS);
  // Bounded: setup, two phases with warm-up, verification; a hung push must not keep it alive.
  const watchdog = setTimeout(() => fail(`timed out after ${Math.round((opts.seconds + opts.warmup) * 2 + 300)} s`), ((opts.seconds + opts.warmup) * 2 + 300) * 1000);
  watchdog.unref();

  const bundle = serverBundle('ingest', { explicit: opts.bundle });
  BUNDLE.url = pathToFileURL(bundle).href;

  const dirs = tempDirs('lv-ingest-');
  let server = null;
  let client = null;
  let dropDirectDb = null;
  const cleanup = async () => {
    await client?.worker.terminate().catch(() => {});
    await dropDirectDb?.();
    await server?.close().catch(() => {});
    dirs.remove();
  };
  fail.cleanup = cleanup;

  try {
    server = await startBenchServer(bundle, { DATA_DIR: dirs.data, STATIC_DIR: dirs.static, COUCHDB_URL: opts.couchdb ?? '' });
    const base = server.url;
    // The store's admin URL: RunningServer has no field for it, but the Store's nano client keeps it.
    const storeUrl = opts.couchdb ?? server.store?.couch?.config?.url;
    if (!storeUrl || !/^https?:\/\/[^@]+@[^/]+$/.test(storeUrl.replace(/\/+$/, ''))) {
      throw new Error(
        'the embedded store URL is not reachable from the bench (server.store.couch.config.url). ' +
          'Expose it in server/main.ts: add `storeUrl: couchUrl,` to the object startServer returns (and `storeUrl: string` to RunningServer).'
      );
    }
    const storeBase = storeUrl.replace(/\/+$/, '');
    await server.store.ensureCommuneDb(DIRECT_COMMUNE);
    if (opts.couchdb) dropDirectDb = () => server.store.request('DELETE', `lv_c_${DIRECT_COMMUNE}`).catch(() => {});
    const store = storeProcess(server, opts.couchdb);

    console.log(`Lưu Vết gateway ingest: ${opts.devices} station devices, ${opts.batch} entries per push, ${opts.warmup} s warm-up + ${opts.seconds} s per phase`);
    console.log(`  server ${base} (in-process${opts.bundle ? ` from ${opts.bundle}` : ''}), store: ${store.label}; devices in a worker thread; ${os.cpus().length} CPUs, Node ${process.version}`);

    loads.push({ when: 'at start', load: os.loadavg()[0] });
    const t0 = performance.now();
    const owners = [];
    for (let i = 0; i < opts.devices; i++) owners.push(await register(base, `091${RUN_PHONE}${String(i).padStart(4, '0')}`, `127.0.0.${2 + Math.floor(i / 8)}`));
    console.log(`  registered ${owners.length} owner accounts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    client = workerChannel(new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'devices' } }), 'device worker');
    await client.next(); // loaded

    const phaseDefs = [
      { key: 'gateway', label: 'through the gateway', db: `lv_c_${GATEWAY_COMMUNE}`, communeCode: GATEWAY_COMMUNE, remoteUrl: `${base}/sync/lv_c_${GATEWAY_COMMUNE}`, prefix: `bn${RUN_TAG}gw`, viaGateway: true },
      { key: 'direct', label: 'straight to the store', db: `lv_c_${DIRECT_COMMUNE}`, communeCode: DIRECT_COMMUNE, remoteUrl: `${storeBase}/lv_c_${DIRECT_COMMUNE}`, prefix: `bn${RUN_TAG}dr`, viaGateway: false }
    ];
    const results = {};
    for (const ph of phaseDefs) {
      const devs = owners.map((o, i) => ({
        venueId: venueIdFor(ph.prefix, i),
        venueName: `Tạp hóa ${pick(SURNAMES)} ${pick(GIVEN_F)} ${i + 1}`,
        communeCode: ph.communeCode,
        userId: o.userId,
        cookie: ph.viaGateway ? o.cookie : null,
        deviceId: `station-${ph.key}-${String(i + 1).padStart(3, '0')}`
      }));
      await client.call({ cmd: 'setup', phase: ph.key, remoteUrl: ph.remoteUrl, devs });
      if (ph.viaGateway) await waitSigned(server.store, ph.db, `venue:${ph.prefix}`, devs.length);
      await settle();

      process.stdout.write(`  phase ${ph.key} (${ph.label}): running…`);
      let session = null;
      if (opts.profile) session = await startProfiler();
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      const pidBefore = store.pid();
      const { stats } = await client.call({ cmd: 'run', seconds: opts.seconds, warmup: opts.warmup, batch: opts.batch, storePid: pidBefore });
      const storeRestarted = pidBefore !== store.pid();
      const wallMs = performance.now() - wall0;
      loads.push({ when: `after ${ph.key}`, load: os.loadavg()[0] });
      const cpu = process.cpuUsage(cpu0);
      // ELU over warm-up + timed part: the server thread's busy share.
      const serverElu = performance.eventLoopUtilization(elu0).utilization;
      let profile = null;
      if (session) {
        const raw = await stopProfiler(session);
        const file = path.join(os.tmpdir(), `lv-ingest-${ph.key}.cpuprofile`);
        writeFileSync(file, JSON.stringify(raw));
        profile = { ...summarizeProfile(raw), file };
      }
      process.stdout.write(' verifying…');
      const check = await verify(server.store, ph.db, stats);
      const pushes = stats.devices.flatMap((d) => d.pushes);
      const errors = stats.devices.reduce((a, d) => a + d.errors, 0);
      const failures = stats.devices.reduce((a, d) => a + d.failures, 0);
      const lastError = stats.devices.find((d) => d.lastError)?.lastError ?? null;
      results[ph.key] = {
        entriesPerSec: Math.round(check.storedMeasured / (stats.durationMs / 1000)),
        pushP50Ms: round1(percentile(pushes, 50)),
        pushP95Ms: round1(percentile(pushes, 95)),
        pushes: pushes.length,
        entriesWritten: check.written,
        entriesStored: check.stored,
        timedEntriesStored: check.storedMeasured,
        timedSeconds: round1(stats.durationMs / 1000),
        lost: check.lost,
        duplicated: check.duplicated,
        pushErrors: errors,
        docWriteFailures: failures,
        serverThreadBusyPct: Math.round(serverElu * 100),
        clientThreadBusyPct: Math.round(stats.clientElu * 100),
        processCpuCores: round1((cpu.user + cpu.system) / 1000 / wallMs),
        // Server CPU per stored entry, timed part: the whole process minus the device thread.
        serverCpuMsPerEntry: round3((stats.cpuMs.process - stats.cpuMs.devices) / check.storedMeasured),
        serverMainThreadCpuMsPerEntry: round3(stats.cpuMs.serverMain / check.storedMeasured),
        // The store's own process (null when it runs in the server's process, is not on this
        // machine, or restarted during the run), and the two together.
        storeCpuMsPerEntry: storeRestarted ? null : round3(stats.cpuMs.store / check.storedMeasured),
        totalCpuMsPerEntry: round3((stats.cpuMs.process - stats.cpuMs.devices + (store.separate ? stats.cpuMs.store : 0)) / check.storedMeasured),
        ...(storeRestarted ? { storeRestarted } : {}),
        deviceCpuMsPerEntry: round3(stats.cpuMs.devices / check.storedMeasured),
        requests: stats.requests,
        ...(lastError ? { lastError } : {}),
        ...(check.lostSamples.length ? { lostSamples: check.lostSamples } : {})
      };
      if (profile) results[ph.key].profile = profile;
      console.log(` ${results[ph.key].entriesPerSec} entries/s`);
      await client.call({ cmd: 'cleanup' });
      global.gc?.();
      await settle();
    }

    const g = results.gateway;
    const d = results.direct;
    const overheadPct = round1(100 * (1 - g.entriesPerSec / d.entriesPerSec));
    printTable(g, d, overheadPct, opts, store);

    const problems = [];
    for (const [k, r] of Object.entries(results)) {
      if (r.lost) problems.push(`${k}: ${r.lost} entries lost (e.g. ${r.lostSamples?.join(', ')}; last push error: ${r.lastError ?? 'none'})`);
      if (r.duplicated) problems.push(`${k}: ${r.duplicated} entries duplicated`);
      if (!r.pushes) problems.push(`${k}: no push finished`);
    }
    const strip = ({ requests, profile, lostSamples, ...rest }) => rest;
    for (const [k, r] of Object.entries(results)) if (r.storeRestarted) problems.push(`${k}: the store's process restarted during the run`);
    printResult({ ingest: { gateway: strip(g), direct: strip(d), overheadPct, store: store.kind, bundle: opts.bundle ?? 'dist/server.mjs', devices: opts.devices, batch: opts.batch, seconds: opts.seconds } });
    await cleanup();
    exitWith('ingest', problems);
  } catch (err) {
    await cleanup();
    exitWith('ingest', err);
  }
}

const round3 = (x) => round(x, 3);
const round1 = (x) => round(x, 1);

function fail(message) {
  console.error(`\ningest bench failed: ${message}`);
  const c = fail.cleanup;
  fail.cleanup = null;
  Promise.resolve(c?.()).finally(() => process.exit(1));
}

const loads = [];
function loadNote() {
  return `${loads.map((l) => `${l.when} ${l.load.toFixed(1)}`).join(', ')} on ${os.cpus().length} CPUs${loads.some((l) => l.load > os.cpus().length * 0.75) ? ' — other programs compete for the CPUs: throughput figures are noisy, CPU per entry less so' : ''}`;
}

const settle = () => new Promise((r) => setTimeout(r, 1000));

/** The signer re-writes each pushed venue once; let it finish before timing. */
async function waitSigned(store, db, prefix, n) {
  for (let i = 0; i < 300; i++) {
    const res = await store.request('GET', `${db}/_all_docs`, { query: new URLSearchParams({ startkey: JSON.stringify(prefix), endkey: JSON.stringify(`${prefix}\ufff0`), include_docs: 'true' }) });
    const rows = res.body?.rows ?? [];
    if (rows.length >= n && rows.every((r) => r.doc?.token)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the signer did not sign the bench venues within 30 s');
}

async function startProfiler() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return session;
}

async function stopProfiler(session) {
  const { profile } = await session.post('Profiler.stop');
  await session.post('Profiler.disable');
  session.disconnect();
  return profile;
}

/**
 * Where the store runs and how its CPU time is read: the embedded store's child process (its pid
 * from the server), an in-process store (an older build: its time is in the server's), or CouchDB,
 * whose beam.smp is found by its node name `n<port>@` when it runs on this machine.
 */
function storeProcess(server, couchdb) {
  if (couchdb) {
    const port = new URL(couchdb).port || '5984';
    const pid = beamPid(port);
    return {
      kind: 'couchdb',
      separate: pid !== null,
      pid: () => pid,
      label: pid ? `CouchDB at port ${port} (beam.smp pid ${pid}, its CPU measured)` : `CouchDB at port ${port} (no beam.smp of this machine found for it: its CPU is not measured)`
    };
  }
  if (typeof server.storePid === 'function' && server.storePid()) {
    return { kind: 'embedded-child', separate: true, pid: () => server.storePid(), label: `embedded, own process (pid ${server.storePid()}; CPU from /proc, ${CLOCK_TICKS} ticks/s)` };
  }
  return { kind: 'embedded-in-process', separate: false, pid: () => null, label: "embedded, in the server's process (its CPU is in the server's)" };
}

/** The pid of the beam.smp whose command line names the node `n<port>@` (couchdb.sh's naming), else null. */
function beamPid(port) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!cmd[0]?.endsWith('beam.smp')) continue;
    const name = cmd[cmd.indexOf('-name') + 1] ?? '';
    if (cmd.includes('-name') && name.startsWith(`n${port}@`)) return Number(entry);
  }
  return null;
}

function printTable(g, d, overheadPct, opts, store) {
  const rows = [
    ['entries/s stored', g.entriesPerSec, d.entriesPerSec],
    ['push latency p50 (ms)', g.pushP50Ms, d.pushP50Ms],
    ['push latency p95 (ms)', g.pushP95Ms, d.pushP95Ms],
    ['pushes (timed)', g.pushes, d.pushes],
    ['entries written (all)', g.entriesWritten, d.entriesWritten],
    ['entries on the server', g.entriesStored, d.entriesStored],
    ['lost', g.lost, d.lost],
    ['duplicated', g.duplicated, d.duplicated],
    ['push errors / doc failures', `${g.pushErrors} / ${g.docWriteFailures}`, `${d.pushErrors} / ${d.docWriteFailures}`],
    ['server thread busy %', g.serverThreadBusyPct, d.serverThreadBusyPct],
    ['device thread busy %', g.clientThreadBusyPct, d.clientThreadBusyPct],
    ['process CPU (cores)', g.processCpuCores, d.processCpuCores],
    [store.kind === 'embedded-in-process' ? 'server (with store) CPU ms/entry' : 'server CPU ms/entry', g.serverCpuMsPerEntry, d.serverCpuMsPerEntry],
    ['  of which main thread', g.serverMainThreadCpuMsPerEntry, d.serverMainThreadCpuMsPerEntry],
    ['store CPU ms/entry', g.storeCpuMsPerEntry, d.storeCpuMsPerEntry],
    ['server + store CPU ms/entry', g.totalCpuMsPerEntry, d.totalCpuMsPerEntry],
    ['device CPU ms/entry', g.deviceCpuMsPerEntry, d.deviceCpuMsPerEntry]
  ];
  console.log('');
  printFigures(rows, ['gateway', 'direct']);
  console.log(`gateway overhead: ${overheadPct} % (1 - gateway/direct entries per second); by server + store CPU per entry: ${round1(100 * (1 - d.totalCpuMsPerEntry / g.totalCpuMsPerEntry))} % (1 - direct/gateway)`);
  console.log(`store: ${store.label}${store.separate ? '' : '; "store CPU" is not measured apart'}`);
  console.log(`machine load (1-min average): ${loadNote()}; peak RSS of this process ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  console.log(`targets: ≥ 1000 entries/s through the gateway: ${g.entriesPerSec >= 1000 ? 'met' : 'NOT met'}; overhead ≤ 25 %: ${overheadPct <= 25 ? 'met' : 'NOT met'}`);

  console.log('\nPer request, as the devices saw it (timed part; ms to response headers):');
  const kinds = [...new Set([...Object.keys(g.requests), ...Object.keys(d.requests)])].sort();
  const wk = Math.max(...kinds.map((k) => k.length));
  console.log(`${''.padEnd(wk)} ${'gateway n'.padStart(10)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'direct n'.padStart(10)} ${'p50'.padStart(7)} ${'p95'.padStart(7)}`);
  const f = (x) => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(1)).padStart(7);
  for (const k of kinds) {
    const a = g.requests[k] ?? {};
    const b = d.requests[k] ?? {};
    console.log(`${k.padEnd(wk)} ${String(a.n ?? 0).padStart(10)} ${f(a.p50)} ${f(a.p95)} ${String(b.n ?? 0).padStart(10)} ${f(b.p50)} ${f(b.p95)}`);
  }
  if (opts.profile) {
    for (const [name, r] of [['gateway', g], ['direct', d]]) {
      if (!r.profile) continue;
      const perEntry = (ms) => (ms / r.entriesWritten).toFixed(3);
      console.log(`\nServer thread profile, phase ${name}: ${r.profile.totalMs} ms sampled for ${r.entriesWritten} entries (${perEntry(r.profile.totalMs)} ms/entry; raw profile: ${r.profile.file})`);
      console.log('  by part (ms per entry in brackets):');
      for (const a of r.profile.parts) console.log(`  ${String(a.pct).padStart(5)} %  ${String(a.ms).padStart(7)} ms  (${perEntry(a.ms)})  ${a.name}`);
      console.log('  top functions (self time):');
      for (const a of r.profile.functions) console.log(`  ${String(a.pct).padStart(5)} %  ${String(a.ms).padStart(7)} ms  ${a.name}`);
    }
  }
  console.log('');
}

if (isMainThread) await main();
else if (workerData?.role === 'devices') await workerMain();
