#!/usr/bin/env node
/**
 * Anonymous tallies: how many reports per second `POST /api/tallies` accepts with none lost, with
 * 20 concurrent senders.
 *
 * The server runs in this process (dist/server.mjs, embedded store, a temp DATA_DIR, 127.0.0.1 only),
 * as `npm start` runs it. The senders run in a worker thread, so the load generator does not take
 * the server's event loop (2 cores: one for the server, one for the senders).
 *
 * Each sender is a phone that has been offline a while, in a closed loop: it builds a report of
 * 1–5 complete days (of the last 7) × 1–5 of the demo venues of commune 18070, 1–3 check-ins each
 * (as core/tally.ts builds them from a diary), POSTs it, waits for the answer, and sends the next.
 * 2 % of the reports are sent a second time with the same batch id, as a phone does when an answer
 * is lost: those must come back as duplicates and not be counted. All reports land on the same seven
 * commune-day documents: the hardest case for the group commit (in the country they spread over
 * ~10,000 communes × 28 days).
 *
 * The per-client and per-venue limits are turned off for the run (TALLY_CLIENT_PER_MINUTE=0,
 * TALLY_VENUE_PER_MINUTE=0): 20 senders from one address at hundreds of reports a second is exactly
 * what those limits refuse. What is measured is the path a report takes when it is admitted.
 *
 * After a short warm-up (same loop, not timed) and the timed loop, every accepted count (warm-up
 * included) is checked against `lv_reports`: lost = counts acknowledged but not stored, extra =
 * stored but never acknowledged (a report counted twice). reports/s = reports acknowledged in the
 * timed loop / its duration; latency = POST to answer, as a sender sees it.
 *
 * Usage: node bench/tallies.mjs [--seconds 20] [--senders 20] [--warmup 3] [--bundle dist/server.mjs]
 * Prints a table and a final `RESULT {json}` line; exits 0 when every acknowledged count is stored
 * exactly once, non-zero with a reason otherwise.
 */
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMMUNE = '18070'; // the demo commune, seeded at start-up
const RETRY_SHARE = 0.02;
const DAY_MS = 24 * 3600 * 1000;
const vnDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit', day: '2-digit' });

// ---------------------------------------------------------------------------------------------
// Worker thread: the senders
// ---------------------------------------------------------------------------------------------
async function workerMain() {
  const { base, venueIds, senders } = workerData;
  const { hostname, port } = new URL(base);
  // One kept-alive connection per sender, as each phone has its own.
  const agent = new http.Agent({ keepAlive: true, maxSockets: senders });
  const rand = (n) => Math.floor(Math.random() * n);
  const batch = () => randomBytes(15).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 20);

  function report() {
    const now = Date.now();
    const days = new Set();
    const nDays = 1 + rand(5);
    while (days.size < nDays) days.add(vnDay.format(new Date(now - (1 + rand(7)) * DAY_MS)));
    return {
      format: 'luu-vet-tally',
      version: 1,
      batch: batch(),
      days: [...days].sort().map((day) => {
        const venues = new Set();
        const nVenues = 1 + rand(5);
        while (venues.size < nVenues) venues.add(venueIds[rand(venueIds.length)]);
        return { day, venues: [...venues].map((venueId) => ({ venueId, communeCode: COMMUNE, count: 1 + rand(3) })) };
      })
    };
  }

  function post(body) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        { host: hostname, port, path: '/api/tallies', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            let json = null;
            try {
              json = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode, json, ms: performance.now() - t0 });
          });
        }
      );
      req.on('error', (err) => resolve({ status: 0, json: { reason: err.message }, ms: performance.now() - t0 }));
      req.end(body);
    });
  }

  // Acknowledged counts per `day|venueId`, and reports per day, warm-up included.
  const expected = new Map();
  const reportsPerDay = new Map();
  const stats = { latencies: [], reportsAll: 0, reports: 0, counts: 0, duplicatesSent: 0, duplicatesAcknowledged: 0, duplicatesCounted: 0, errors: 0, ignored: 0, lastError: null };

  async function sender(until, timed) {
    while (performance.now() < until) {
      const r = report();
      const body = JSON.stringify(r);
      const res = await post(body);
      if (timed) stats.latencies.push(res.ms);
      if (res.status !== 200 || !res.json?.ok) {
        stats.errors++;
        stats.lastError = `${res.status} ${JSON.stringify(res.json).slice(0, 200)}`;
        continue;
      }
      const sum = r.days.reduce((s, d) => s + d.venues.reduce((a, v) => a + v.count, 0), 0);
      if (res.json.accepted !== sum) {
        stats.ignored += sum - res.json.accepted;
        stats.lastError = `accepted ${res.json.accepted} of ${sum}: ${JSON.stringify(res.json.ignoredBy)}`;
        continue; // cannot be attributed to venue-days: counted as a problem
      }
      stats.reportsAll++;
      for (const d of r.days) {
        reportsPerDay.set(d.day, (reportsPerDay.get(d.day) ?? 0) + 1);
        for (const v of d.venues) expected.set(`${d.day}|${v.venueId}`, (expected.get(`${d.day}|${v.venueId}`) ?? 0) + v.count);
      }
      if (timed) {
        stats.reports++;
        stats.counts += sum;
      }
      if (Math.random() < RETRY_SHARE) {
        // The phone did not get the answer and sends the same report again.
        const again = await post(body);
        if (timed) stats.duplicatesSent++;
        if (again.status === 200 && again.json?.duplicate) {
          if (timed) stats.duplicatesAcknowledged++;
        } else if (again.status === 200) stats.duplicatesCounted++;
        else {
          stats.errors++;
          stats.lastError = `retry: ${again.status} ${JSON.stringify(again.json).slice(0, 200)}`;
        }
      }
    }
  }

  parentPort.on('message', async ({ warmup, seconds }) => {
    if (warmup > 0) {
      const until = performance.now() + warmup * 1000;
      await Promise.all(Array.from({ length: senders }, () => sender(until, false)));
    }
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const start = performance.now();
    await Promise.all(Array.from({ length: senders }, () => sender(start + seconds * 1000, true)));
    const durationMs = performance.now() - start;
    parentPort.postMessage({
      durationMs,
      senderElu: performance.eventLoopUtilization(elu0).utilization,
      stats,
      expected: [...expected],
      reportsPerDay: [...reportsPerDay]
    });
    agent.destroy();
  });
  parentPort.postMessage({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Main thread: the server, verification, report
// ---------------------------------------------------------------------------------------------
function parseArgs(argv) {
  const opts = { seconds: 20, senders: 20, warmup: 3, bundle: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => {
      const v = inline ?? argv[++i];
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number, not "${v}"`);
      return n;
    };
    if (flag === '--seconds') opts.seconds = value();
    else if (flag === '--senders') opts.senders = Math.floor(value());
    else if (flag === '--warmup') opts.warmup = value();
    else if (flag === '--bundle') opts.bundle = path.resolve(inline ?? argv[++i] ?? '');
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: node bench/tallies.mjs [--seconds 20] [--senders 20] [--warmup 3] [--bundle dist/server.mjs]');
      process.exit(0);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  if (opts.seconds <= 0 || opts.senders < 1) throw new Error('--seconds and --senders must be positive');
  if (opts.senders > 500) throw new Error('--senders: at most 500');
  return opts;
}

function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
/** CPU ms of the main thread so far (from /proc: the senders' thread is not in it). */
function mainThreadCpuMs() {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100 on Linux
  } catch {
    return NaN;
  }
}
const round1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`tallies bench: ${err.message}`);
    process.exit(2);
  }
  const bundle = opts.bundle ?? path.join(ROOT, 'dist/server.mjs');
  if (!existsSync(bundle)) {
    if (opts.bundle) {
      console.error(`tallies bench failed: --bundle ${bundle}: no such file`);
      process.exit(1);
    }
    console.error('tallies bench: dist/server.mjs is missing, building it (node scripts/build-server.mjs)…');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['scripts/build-server.mjs'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0 || !existsSync(bundle)) {
      console.error('tallies bench failed: could not build dist/server.mjs');
      process.exit(1);
    }
  }
  const { startServer, readConfig } = await import(pathToFileURL(bundle).href);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lv-tallies-'));
  const staticDir = path.join(tmp, 'static');
  mkdirSync(staticDir);
  writeFileSync(path.join(staticDir, '200.html'), '<!doctype html><title>bench</title>');
  let server = null;
  let worker = null;
  const cleanup = async () => {
    await worker?.terminate().catch(() => {});
    await server?.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  };
  // Bounded: a hung server must not keep the bench alive.
  const limitSec = (opts.seconds + opts.warmup) * 3 + 120;
  const watchdog = setTimeout(async () => {
    console.error(`\ntallies bench failed: timed out after ${limitSec} s`);
    await cleanup();
    process.exit(1);
  }, limitSec * 1000);
  watchdog.unref();

  try {
    server = await startServer(
      readConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: path.join(tmp, 'data'),
        LOG: '0',
        STATIC_DIR: staticDir,
        PUBLIC_ORIGIN: 'http://127.0.0.1',
        TALLY_CLIENT_PER_MINUTE: '0',
        TALLY_VENUE_PER_MINUTE: '0'
      })
    );
    const venueIds = server.demoVenues.map((v) => v.venueId);
    if (venueIds.length < 5) throw new Error(`expected the demo venues, found ${venueIds.length}`);
    console.log(`Lưu Vết anonymous tallies: ${opts.senders} concurrent senders, closed loop, ${opts.warmup} s warm-up + ${opts.seconds} s`);
    console.log(`  server ${server.url} (in-process, embedded store), senders in a worker thread; ${os.cpus().length} CPUs, Node ${process.version}`);
    const load0 = os.loadavg()[0];

    worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'senders', base: server.url, venueIds, senders: opts.senders } });
    const messages = [];
    let wake = null;
    worker.on('message', (m) => {
      messages.push(m);
      wake?.();
    });
    worker.on('error', (err) => {
      messages.push({ error: err });
      wake?.();
    });
    const next = async () => {
      while (!messages.length) await new Promise((r) => (wake = r));
      const m = messages.shift();
      if (m.error) throw m.error;
      return m;
    };
    await next(); // ready

    process.stdout.write('  running…');
    const main0 = mainThreadCpuMs();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    worker.postMessage({ warmup: opts.warmup, seconds: opts.seconds });
    const run = await next();
    const cpu = process.cpuUsage(cpu0);
    const mainCpuMs = mainThreadCpuMs() - main0;
    const serverElu = performance.eventLoopUtilization(elu0).utilization;
    process.stdout.write(' verifying…');

    const docs = (await server.store.docsByPrefix('lv_reports', `tally:${COMMUNE}:`)) ?? [];
    const stored = new Map();
    const storedReports = new Map();
    // Group commit, seen from the store: a document's revision number is how many writes it took.
    let writes = 0;
    let reportsInDocs = 0;
    for (const doc of docs) {
      writes += Number(doc._rev.split('-')[0]);
      reportsInDocs += doc.reports;
      storedReports.set(doc.day, doc.reports);
      for (const [venueId, n] of Object.entries(doc.venues)) stored.set(`${doc.day}|${venueId}`, n);
    }
    const expected = new Map(run.expected);
    let lost = 0;
    let extra = 0;
    for (const key of new Set([...expected.keys(), ...stored.keys()])) {
      const d = (stored.get(key) ?? 0) - (expected.get(key) ?? 0);
      if (d < 0) lost -= d;
      else extra += d;
    }
    let reportMismatch = 0;
    for (const [day, n] of run.reportsPerDay) reportMismatch += Math.abs((storedReports.get(day) ?? 0) - n);
    const countsAcknowledged = [...expected.values()].reduce((a, b) => a + b, 0);
    const countsStored = [...stored.values()].reduce((a, b) => a + b, 0);
    console.log(' done');

    const s = run.stats;
    const seconds = run.durationMs / 1000;
    const result = {
      reportsPerSec: Math.round(s.reports / seconds),
      countsPerSec: Math.round(s.counts / seconds),
      latencyP50Ms: round1(pct(s.latencies, 50)),
      latencyP95Ms: round1(pct(s.latencies, 95)),
      latencyP99Ms: round1(pct(s.latencies, 99)),
      reportsTimed: s.reports,
      countsAcknowledged,
      countsStored,
      lost,
      extra,
      reportsPerDocMismatch: reportMismatch,
      reportsPerDocWrite: round1(reportsInDocs / writes),
      duplicatesSent: s.duplicatesSent,
      duplicatesAcknowledged: s.duplicatesAcknowledged,
      duplicatesCounted: s.duplicatesCounted,
      errors: s.errors,
      countsIgnored: s.ignored,
      serverThreadBusyPct: Math.round(serverElu * 100),
      senderThreadBusyPct: Math.round(run.senderElu * 100),
      // The server's thread (Fastify and the embedded store's HTTP side), warm-up included: unlike
      // throughput, CPU per report hardly moves when other programs compete for the cores.
      serverThreadCpuMsPerReport: Math.round((mainCpuMs / s.reportsAll) * 100) / 100,
      processCpuCores: round1((cpu.user + cpu.system) / 1000 / (run.durationMs + opts.warmup * 1000)),
      senders: opts.senders,
      seconds: round1(seconds)
    };

    const rows = [
      ['reports/s acknowledged', result.reportsPerSec],
      ['counts/s acknowledged', result.countsPerSec],
      ['latency p50 (ms)', result.latencyP50Ms],
      ['latency p95 (ms)', result.latencyP95Ms],
      ['latency p99 (ms)', result.latencyP99Ms],
      ['reports (timed)', result.reportsTimed],
      ['counts acknowledged (all)', countsAcknowledged],
      ['counts in lv_reports', countsStored],
      ['lost', lost],
      ['extra (counted twice)', extra],
      ['report tallies off', reportMismatch],
      ['reports per document write', result.reportsPerDocWrite],
      ['resent with same batch', `${s.duplicatesSent} (${s.duplicatesAcknowledged} as duplicates)`],
      ['errors / counts ignored', `${s.errors} / ${s.ignored}`],
      ['server thread busy %', result.serverThreadBusyPct],
      ['sender thread busy %', result.senderThreadBusyPct],
      ['server thread CPU ms/report', result.serverThreadCpuMsPerReport],
      ['process CPU (cores)', result.processCpuCores]
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log('');
    for (const [label, v] of rows) console.log(`${label.padEnd(w)} ${String(v ?? '—').padStart(14)}`);
    const load1 = os.loadavg()[0];
    console.log(
      `machine load (1-min average): ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end on ${os.cpus().length} CPUs${Math.max(load0, load1) > os.cpus().length * 0.75 ? ' — other programs compete for the CPUs: throughput figures are noisy' : ''}`
    );
    console.log('');

    const problems = [];
    if (lost) problems.push(`${lost} acknowledged counts are not in lv_reports`);
    if (extra) problems.push(`${extra} counts in lv_reports were never acknowledged (counted twice)`);
    if (reportMismatch) problems.push(`the report tallies of the documents are off by ${reportMismatch}`);
    if (s.duplicatesCounted) problems.push(`${s.duplicatesCounted} resent reports were counted again`);
    if (s.errors) problems.push(`${s.errors} requests failed (last: ${s.lastError})`);
    if (s.ignored) problems.push(`${s.ignored} counts were ignored with the limits off (last: ${s.lastError})`);
    if (!s.reports) problems.push('no report was acknowledged');
    console.log('RESULT ' + JSON.stringify({ tallies: result }));
    await cleanup();
    if (problems.length) {
      console.error(`\ntallies bench failed:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    process.exit(0);
  } catch (err) {
    await cleanup();
    console.error(`\ntallies bench failed: ${err?.stack ?? err}`);
    process.exit(1);
  }
}

if (isMainThread) await main();
else if (workerData?.role === 'senders') await workerMain();
