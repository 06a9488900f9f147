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
 * (as core/citizen/tally.ts builds them from a diary), POSTs it, waits for the answer, and sends the next.
 * 2 % of the reports are sent a second time with the same batch id, as a phone does when an answer
 * is lost: those must come back as duplicates and not be counted. All reports land on the same seven
 * commune-day documents: the hardest case for the group commit (in the country they spread over
 * ~10,000 communes × 28 days).
 *
 * The per-client and per-venue limits are turned off for the run (TALLY_CLIENT_PER_MINUTE=0,
 * TALLY_VENUE_PER_MINUTE=0, TALLY_CLIENT_VENUE_DAY_MAX=0): 20 senders from one address at hundreds
 * of reports a second is exactly what those limits refuse. What is measured is the path a report
 * takes when it is admitted. `--venue-pace N` sets TALLY_VENUE_PER_MINUTE instead: with an N too
 * large to refuse anything (1e9), it measures what deciding the shared venue pace in each tally
 * document costs. The demo district's made-up activity is off (DEMO_ACTIVITY=0): it adds
 * tallies of its own to the same days while the bench runs.
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
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import {
  exitWith,
  httpRequest,
  mainThreadCpuMs,
  parseFlags,
  percentile,
  printFigures,
  printResult,
  round,
  serverBundle,
  startBenchServer,
  tempDirs,
  workerChannel
} from './lib.mjs';

const COMMUNE = '18070'; // the demo commune, seeded at start-up
const RETRY_SHARE = 0.02;
const DAY_MS = 24 * 3600 * 1000;
const vnDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit', day: '2-digit' });

// ---------------------------------------------------------------------------------------------
// Worker thread: the senders
// ---------------------------------------------------------------------------------------------
async function workerMain() {
  const { base, venueIds, senders } = workerData;
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
    const t0 = performance.now();
    return httpRequest(`${base}/api/tallies`, { method: 'POST', body, agent }).then(
      (res) => {
        let json = null;
        try {
          json = JSON.parse(res.body.toString('utf8'));
        } catch {}
        return { status: res.status, json, ms: res.ms };
      },
      (err) => ({ status: 0, json: { reason: err.message }, ms: performance.now() - t0 })
    );
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
const OPTIONS = {
  usage: 'node bench/tallies.mjs [--seconds 20] [--senders 20] [--warmup 3] [--venue-pace 0] [--bundle dist/server.mjs]',
  spec: { seconds: 'number', senders: 'whole', warmup: 'number', venuePace: 'whole', bundle: 'path' },
  defaults: { seconds: 20, senders: 20, warmup: 3, venuePace: 0, bundle: null },
  check(opts) {
    if (opts.seconds <= 0 || opts.senders < 1) throw new Error('--seconds and --senders must be positive');
    if (opts.senders > 500) throw new Error('--senders: at most 500');
  }
};

const round1 = (x) => round(x, 1);

async function main() {
  const opts = parseFlags('tallies', OPTIONS);
  const bundle = serverBundle('tallies', { explicit: opts.bundle });
  const dirs = tempDirs('lv-tallies-');
  let server = null;
  let worker = null;
  const cleanup = async () => {
    await worker?.terminate().catch(() => {});
    await server?.close().catch(() => {});
    dirs.remove();
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
    server = await startBenchServer(bundle, { DATA_DIR: dirs.data, STATIC_DIR: dirs.static, TALLY_CLIENT_PER_MINUTE: '0', TALLY_VENUE_PER_MINUTE: String(opts.venuePace), TALLY_CLIENT_VENUE_DAY_MAX: '0', DEMO_ACTIVITY: '0' });
    const venueIds = server.demoVenues.map((v) => v.venueId);
    if (venueIds.length < 5) throw new Error(`expected the demo venues, found ${venueIds.length}`);
    console.log(`Lưu Vết anonymous tallies: ${opts.senders} concurrent senders, closed loop, ${opts.warmup} s warm-up + ${opts.seconds} s${opts.venuePace ? `, venue pace ${opts.venuePace}/min` : ''}`);
    console.log(`  server ${server.url} (in-process, embedded store), senders in a worker thread; ${os.cpus().length} CPUs, Node ${process.version}`);
    const load0 = os.loadavg()[0];

    worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'senders', base: server.url, venueIds, senders: opts.senders } });
    const senders = workerChannel(worker, 'sender worker');
    await senders.next(); // ready

    process.stdout.write('  running…');
    const main0 = mainThreadCpuMs();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const run = await senders.call({ warmup: opts.warmup, seconds: opts.seconds });
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
      latencyP50Ms: round1(percentile(s.latencies, 50)),
      latencyP95Ms: round1(percentile(s.latencies, 95)),
      latencyP99Ms: round1(percentile(s.latencies, 99)),
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
    console.log('');
    printFigures(rows);
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
    printResult({ tallies: result });
    await cleanup();
    exitWith('tallies', problems);
  } catch (err) {
    await cleanup();
    exitWith('tallies', err);
  }
}

if (isMainThread) await main();
else if (workerData?.role === 'senders') await workerMain();
