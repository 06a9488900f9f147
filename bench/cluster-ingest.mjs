#!/usr/bin/env node
/**
 * Station ingest on Apache CouchDB: a 3-node cluster (n=3, q=2) with one server instance and with
 * two, side by side in one run, and the same on a single CouchDB node (issue 14, "Figures").
 *
 * The CouchDB nodes come from the shared folder of extras (LV_SHARED_DIR, default ../shared:
 * couchdb/couchdb.sh), started by the bench in temporary folders and stopped at the end; without it
 * the bench says so and prints a RESULT that says it was skipped. The server instances are
 * dist/server.mjs, each in a child process of its own (bench/lib.mjs spawnBenchServer), with the same
 * SIGNING_KEYS and SESSION_SECRET. Instance k talks to node k (no load balancer in between: what one
 * costs is not the server's nor CouchDB's).
 *
 * The station devices are bench/ingest.mjs's (its worker thread: each device a venue owner's
 * station with its own account, venue and in-memory PouchDB, writing a batch of entries and pushing
 * it through /sync in a closed loop). With two instances, two such workers run at once, half of the
 * devices each, one per instance. Each configuration: owners register, venues go up and are signed,
 * a warm-up, then the timed part. Then every entry written is looked up in CouchDB (lost, doubled).
 *
 * Figures per configuration: entries/s stored over the timed part, push latency p50/p95 (one push =
 * one `replicate.to`), and CPU ms per stored entry of the server processes and of CouchDB's
 * beam.smp processes (all nodes), from /proc/<pid>/stat (utime + stime) before and after the timed
 * part. Throughput moves with whatever else the machine runs; CPU per entry much less.
 *
 * Usage: node bench/cluster-ingest.mjs [--seconds 20] [--devices 50] [--batch 20] [--warmup 3] [--port P] [--single-port S] [--bundle file]
 *   --port         first port of the cluster (nodes on P, P+10, P+20, each with its +5); default: free ports
 *   --single-port  port of the single node (and its +5); default: free ports
 * Prints a table and a final `RESULT {json}` line; exits non-zero when an entry was lost or doubled.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { freeNodePorts, pidsNamed, stopOnInterrupt } from '../scripts/couchdb-nodes.mjs';
import { ROOT, exitWith, httpRequest, parseFlags, percentile, printFigures, printResult, procCpuMs, round, serverBundle, sessionCookie, spawnBenchServer, tempDirs, workerChannel } from './lib.mjs';

const NAME = 'cluster-ingest';
const COMMUNE = '18070'; // the demo commune, seeded at start-up
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const TAG = Array.from(randomBytes(2), (b) => B32[b % 32]).join('');

const OPTIONS = {
  usage: 'node bench/cluster-ingest.mjs [--seconds 20] [--devices 50] [--batch 20] [--warmup 3] [--port P] [--single-port S] [--bundle dist/server.mjs]',
  spec: { seconds: 'number', devices: 'whole', batch: 'whole', warmup: 'number', port: 'whole', singlePort: 'whole', bundle: 'path' },
  defaults: { seconds: 20, devices: 50, batch: 20, warmup: 3, port: 0, singlePort: 0, bundle: null },
  check(o) {
    if (o.seconds <= 0 || o.devices < 2 || o.batch < 1) throw new Error('--seconds and --batch must be positive, --devices at least 2');
    if (o.devices > 400) throw new Error('--devices: at most 400');
  }
};

// ---------------------------------------------------------------------------------------------
// CouchDB nodes
// ---------------------------------------------------------------------------------------------

/** Nodes started with couchdb.sh in a folder of their own: `start` (one) or `cluster` (three). */
function startCouch(script, kind, base) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `lv-bench-${kind}-`));
  const args = kind === 'cluster' ? ['cluster', dir, '3', String(base)] : ['start', dir, String(base)];
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const url = r.stdout.trim().split('\n').at(-1) ?? '';
  const stop = () => {
    spawnSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  if (r.status !== 0 || !/^https?:\/\//.test(url)) {
    stop();
    throw new Error(`couchdb.sh ${args[0]} failed: ${r.stderr.slice(-300)}`);
  }
  const ports = kind === 'cluster' ? [base, base + 10, base + 20] : [base];
  const beams = ports.map((p) => Number(readFileSync(path.join(dir, `n${p}`, 'pid'), 'utf8').trim()));
  const urlOf = (port) => {
    const u = new URL(url);
    u.port = String(port);
    return u.href.replace(/\/+$/, '');
  };
  return { kind, dir, url, ports, beams, urlOf, stop };
}

async function couchGet(url, pathAndQuery) {
  const u = new URL(url);
  const auth = 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  const res = await httpRequest(`${u.protocol}//${u.host}/${pathAndQuery}`, { headers: { authorization: auth, accept: 'application/json' } });
  return { status: res.status, body: JSON.parse(res.body.toString('utf8')) };
}

// ---------------------------------------------------------------------------------------------
// One configuration: N instances on a store, the devices split over them
// ---------------------------------------------------------------------------------------------

const cpuOf = (pids) => pids.reduce((t, pid) => t + procCpuMs(`/proc/${pid}/stat`), 0);
const venueIdFor = (prefix, i) => {
  let s = '';
  for (let n = i, k = 0; k < 6; k++, n = Math.floor(n / 32)) s = B32[n % 32] + s;
  return (prefix + s).slice(0, 12);
};

async function register(base, phone, localAddress) {
  const res = await httpRequest(`${base}/api/auth/register`, { method: 'POST', body: JSON.stringify({ phone, password: 'mat-khau-bench' }), localAddress });
  const text = res.body.toString('utf8');
  const cookie = sessionCookie(res.headers['set-cookie']);
  if (res.status !== 201 || !cookie) throw new Error(`register ${phone} from ${localAddress}: ${res.status} ${text}`);
  return { cookie, userId: JSON.parse(text).userId };
}

async function runConfiguration({ key, label, couchdb, instances, opts, bundle, shared, index }) {
  const started = [];
  const workers = [];
  const dirs = tempDirs(`lv-bench-${key}-`);
  try {
    for (let k = 0; k < instances; k++) {
      started.push(await spawnBenchServer(bundle, { ...shared, COUCHDB_URL: couchdb.urlOf(couchdb.ports[k % couchdb.ports.length]), DATA_DIR: path.join(dirs.root, `data-${k}`), STATIC_DIR: dirs.static }));
    }
    // Owners: 5 per source address, an address range per configuration (limits may be shared).
    const owners = [];
    for (let i = 0; i < opts.devices; i += 10) {
      owners.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, opts.devices - i) }, (_, j) => {
            const n = i + j;
            return register(started[n % instances].url, `094${String(index)}${TAG.charCodeAt(0) % 10}${String(n).padStart(5, '0')}`, `127.${20 + index}.${1 + Math.floor(n / 250)}.${1 + (Math.floor(n / 5) % 250)}`);
          })
        ))
      );
    }
    const prefix = `bc${TAG}${B32[index]}x`;
    for (let k = 0; k < instances; k++) {
      const w = workerChannel(new Worker(path.join(ROOT, 'bench/ingest.mjs'), { workerData: { role: 'devices' } }), `device worker ${k + 1}`);
      await w.next(); // loaded
      const devs = owners
        .map((o, i) => ({ o, i }))
        .filter(({ i }) => i % instances === k)
        .map(({ o, i }) => ({ venueId: venueIdFor(prefix, i), venueName: `Tạp hóa ${i + 1}`, communeCode: COMMUNE, userId: o.userId, cookie: o.cookie, deviceId: `station-${key}-${i + 1}` }));
      await w.call({ cmd: 'setup', phase: key, remoteUrl: `${started[k].url}/sync/lv_c_${COMMUNE}`, devs });
      workers.push({ w, devs });
    }
    // The signer re-writes each new venue once: timed work starts after it.
    const venueKeys = workers.flatMap(({ devs }) => devs.map((d) => `venue:${d.venueId}`));
    for (let tries = 0; ; tries++) {
      const res = await couchGet(couchdb.url, `lv_c_${COMMUNE}/_all_docs?include_docs=true&startkey=${encodeURIComponent(JSON.stringify(`venue:${prefix}`))}&endkey=${encodeURIComponent(JSON.stringify(`venue:${prefix}\ufff0`))}`);
      if ((res.body.rows ?? []).filter((r) => r.doc?.token).length >= venueKeys.length) break;
      if (tries > 300) throw new Error(`${label}: the venues were not signed within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    process.stdout.write(`  ${label}: warm-up…`);
    const warm = await Promise.all(workers.map(({ w }) => w.call({ cmd: 'run', seconds: opts.warmup, warmup: 0, batch: opts.batch, storePid: null })));
    const pushesBefore = warm.map((m) => m.stats.devices.map((d) => d.pushes.length));
    process.stdout.write(' timed…');
    const serverPids = started.map((s) => s.pid);
    const load0 = os.loadavg()[0];
    const cpu0 = { server: cpuOf(serverPids), couch: cpuOf(couchdb.beams) };
    const wall0 = performance.now();
    const runs = await Promise.all(workers.map(({ w }) => w.call({ cmd: 'run', seconds: opts.seconds, warmup: 0, batch: opts.batch, storePid: null })));
    const wallMs = performance.now() - wall0;
    const cpu1 = { server: cpuOf(serverPids), couch: cpuOf(couchdb.beams) };
    const dead = started.filter((s) => s.exited !== null).length;
    process.stdout.write(' verifying…');

    // Every entry written (warm-up included) looked up in CouchDB; ids of the timed part counted.
    let written = 0;
    let lost = 0;
    let doubled = 0;
    let timedStored = 0;
    let errors = 0;
    let failures = 0;
    let lastError = null;
    const pushes = [];
    for (const [k, { stats }] of runs.entries()) {
      for (const [d, dev] of stats.devices.entries()) {
        pushes.push(...dev.pushes.slice(pushesBefore[k][d]));
        errors += dev.errors;
        failures += dev.failures;
        lastError ??= dev.lastError;
        const res = await couchGet(couchdb.url, `lv_c_${COMMUNE}/_all_docs?startkey=${encodeURIComponent(JSON.stringify(`entry:${dev.venueId}:`))}&endkey=${encodeURIComponent(JSON.stringify(`entry:${dev.venueId}:\ufff0`))}`);
        const ids = (res.body.rows ?? []).map((r) => r.id);
        const storedSet = new Set(ids);
        const all = [...dev.warmupIds, ...dev.measuredIds];
        const mine = new Set(all);
        written += all.length;
        for (const id of all) if (!storedSet.has(id)) lost++;
        for (const id of storedSet) if (!mine.has(id)) doubled++;
        doubled += ids.length - storedSet.size;
        for (const id of dev.measuredIds) if (storedSet.has(id)) timedStored++;
      }
    }
    const result = {
      label,
      instances,
      couchNodes: couchdb.ports.length,
      entriesPerSec: Math.round(timedStored / (wallMs / 1000)),
      pushP50Ms: round(percentile(pushes, 50), 1),
      pushP95Ms: round(percentile(pushes, 95), 1),
      pushes: pushes.length,
      timedEntriesStored: timedStored,
      entriesWritten: written,
      lost,
      doubled,
      pushErrors: errors,
      docWriteFailures: failures,
      serverCpuMsPerEntry: round((cpu1.server - cpu0.server) / timedStored, 3),
      couchCpuMsPerEntry: round((cpu1.couch - cpu0.couch) / timedStored, 3),
      totalCpuMsPerEntry: round((cpu1.server - cpu0.server + cpu1.couch - cpu0.couch) / timedStored, 3),
      serverCpuCores: round((cpu1.server - cpu0.server) / wallMs, 2),
      couchCpuCores: round((cpu1.couch - cpu0.couch) / wallMs, 2),
      loadAtStart: round(load0, 1),
      ...(dead ? { serversExited: dead } : {}),
      ...(lastError ? { lastError } : {})
    };
    console.log(` ${result.entriesPerSec} entries/s`);
    return result;
  } finally {
    for (const { w } of workers) await w.call({ cmd: 'cleanup' }).catch(() => {});
    for (const { w } of workers) await w.worker.terminate().catch(() => {});
    for (const s of started) await s.close().catch(() => {});
    dirs.remove();
  }
}

async function main() {
  const opts = parseFlags(NAME, OPTIONS);
  const script = path.resolve(ROOT, process.env.LV_SHARED_DIR || '../shared', 'couchdb', 'couchdb.sh');
  if (!existsSync(script)) {
    console.log(`${NAME} bench skipped: ${script} is missing (LV_SHARED_DIR names the folder that holds couchdb/couchdb.sh).`);
    printResult({ clusterIngest: { skipped: `no ${script}` } });
    return [];
  }
  const bundle = serverBundle(NAME, { explicit: opts.bundle });
  const watchdog = setTimeout(() => {
    console.error(`${NAME} bench: no end after 15 minutes`);
    cleanup();
    process.exit(1);
  }, 15 * 60_000);
  watchdog.unref();

  const epmdBefore = pidsNamed('epmd').length > 0;
  const stores = [];
  const cleanup = () => {
    for (const s of stores.splice(0)) s.stop();
    if (!epmdBefore && pidsNamed('beam.smp').length === 0) for (const pid of pidsNamed('epmd')) process.kill(pid, 'SIGTERM');
  };
  stopOnInterrupt(cleanup);
  try {
    const t0 = performance.now();
    const clusterPort = opts.port || (await freeNodePorts(3));
    const cluster = startCouch(script, 'cluster', clusterPort);
    stores.push(cluster);
    const singlePort = opts.singlePort || (await freeNodePorts(1));
    const single = startCouch(script, 'single', singlePort);
    stores.push(single);
    console.log(`Lưu Vết station ingest on Apache CouchDB 3.5.0: ${opts.devices} station devices, ${opts.batch} entries per push, ${opts.warmup} s warm-up + ${opts.seconds} s timed per configuration`);
    console.log(`  cluster: 3 nodes (n=3, q=2) on ${cluster.ports.join(', ')}; single node on ${single.ports[0]}; started in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${os.cpus().length} CPUs, Node ${process.version}`);
    // Shared by every instance, as a deployment shares them.
    // An Ed25519 secret key is any 32 bytes; the keyring as SIGNING_KEYS holds it (server/keys.ts).
    const keyId = String(1000 + Math.floor(Math.random() * 9000));
    const signingKeys = JSON.stringify({ active: keyId, keys: [{ id: keyId, secretKey: randomBytes(32).toString('base64url') }] });
    const shared = { SIGNING_KEYS: signingKeys, SESSION_SECRET: randomBytes(32).toString('base64'), PUBLIC_ORIGIN: 'http://luuvet.test', DEMO: '1', DEMO_ACTIVITY: '0', DEMO_TEAM_PASSWORD: 'doi-bench-cum-may' };
    const configs = [
      { key: 'cluster1', label: 'cluster, 1 instance', couchdb: cluster, instances: 1 },
      { key: 'cluster2', label: 'cluster, 2 instances', couchdb: cluster, instances: 2 },
      { key: 'single1', label: 'single node, 1 instance', couchdb: single, instances: 1 }
    ];
    const results = {};
    for (const [index, c] of configs.entries()) results[c.key] = await runConfiguration({ ...c, opts, bundle, shared, index });

    const cols = configs.map((c) => results[c.key]);
    console.log('');
    printFigures(
      [
        ['entries/s stored', ...cols.map((r) => r.entriesPerSec)],
        ['push latency p50 (ms)', ...cols.map((r) => r.pushP50Ms)],
        ['push latency p95 (ms)', ...cols.map((r) => r.pushP95Ms)],
        ['pushes (timed)', ...cols.map((r) => r.pushes)],
        ['entries written (all)', ...cols.map((r) => r.entriesWritten)],
        ['lost / doubled', ...cols.map((r) => `${r.lost} / ${r.doubled}`)],
        ['push errors / doc failures', ...cols.map((r) => `${r.pushErrors} / ${r.docWriteFailures}`)],
        ['server CPU ms/entry', ...cols.map((r) => r.serverCpuMsPerEntry)],
        ['CouchDB CPU ms/entry', ...cols.map((r) => r.couchCpuMsPerEntry)],
        ['server + CouchDB ms/entry', ...cols.map((r) => r.totalCpuMsPerEntry)],
        ['server CPU (cores)', ...cols.map((r) => r.serverCpuCores)],
        ['CouchDB CPU (cores)', ...cols.map((r) => r.couchCpuCores)],
        ['1-min load at start', ...cols.map((r) => r.loadAtStart)]
      ],
      ['cluster ×1', 'cluster ×2', 'single ×1']
    );
    const busy = cols.some((r) => r.loadAtStart > os.cpus().length * 0.75);
    console.log(`\nserver = the instances' processes; CouchDB = every node's beam.smp (3 on the cluster: each write is stored n=3 times). ${busy ? 'Other programs competed for the CPUs: throughput figures are noisy, CPU per entry less so.' : ''}`);
    const problems = [];
    for (const r of cols) {
      if (r.lost) problems.push(`${r.label}: ${r.lost} entries lost (last push error: ${r.lastError ?? 'none'})`);
      if (r.doubled) problems.push(`${r.label}: ${r.doubled} entries doubled`);
      if (!r.pushes) problems.push(`${r.label}: no push finished`);
      if (r.serversExited) problems.push(`${r.label}: ${r.serversExited} server instance(s) exited during the run`);
    }
    printResult({ clusterIngest: { ...results, devices: opts.devices, batch: opts.batch, seconds: opts.seconds, bundle: opts.bundle ?? 'dist/server.mjs' } });
    return problems;
  } finally {
    cleanup();
  }
}

main().then(
  (outcome) => exitWith(NAME, outcome),
  (err) => exitWith(NAME, err)
);
