#!/usr/bin/env node
/**
 * The officials' statistics at the size of a province: 10 districts × 20 communes × 200 venues,
 * 21 days of station entries (1,000,000 by default) and of anonymous tallies. Prints:
 *   - the full rebuild of the aggregates (time, peak memory of the server process and of the
 *     embedded store's process),
 *   - the incremental pass after one more day of entries and tallies,
 *   - the load time of `/api/reports/stats` for a district and for the province, over a week and
 *     over the 21 days (median of several, through HTTP with an admin's session).
 *
 * The server runs in a child process of its own (dist/server.mjs, demo data off), so its memory is
 * its own; the bench writes the province straight to the store with `_bulk_docs` (not through the
 * gateway: the point is the aggregates, not ingest). Units are a made-up province 80 (districts
 * 800–809, communes 8DCCC). The server's own job also runs each minute while the data is written;
 * the rebuild measured comes after the load, alone.
 *
 * Usage: node bench/reports.mjs [--entries 1000000] [--venues 200] [--repeat 9] [--couchdb URL] [--bundle file]
 *   --couchdb  the admin URL of a CouchDB to run on (the databases of province 80 are written there).
 * Prints a table and a final `RESULT {json}` line.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { chromiumPath, exitWith, httpRequest, launchChromium, median, mulberry32, parseFlags, printFigures, printResult, round, serverBundle, tempDirs } from './lib.mjs';

/** The built PWA, when there is one: the statistics page is then timed in Chromium too. */
const BUILD_DIR = path.resolve('build');
const hasBuild = existsSync(path.join(BUILD_DIR, '200.html'));

const NAME = 'reports';
const opts = parseFlags(NAME, {
  usage: 'node bench/reports.mjs [--entries 1000000] [--venues 200] [--repeat 9] [--couchdb URL] [--bundle file]',
  spec: { entries: 'whole', venues: 'whole', repeat: 'whole', couchdb: 'text', bundle: 'path' },
  defaults: { entries: 1_000_000, venues: 200, repeat: 9, couchdb: process.env.COUCHDB_URL || null, bundle: null },
  check: (o) => {
    if (o.venues < 1 || o.venues > 5000) throw new Error('--venues is 1–5000');
    if (o.repeat < 1) throw new Error('--repeat is at least 1');
  }
});

const DISTRICTS = 10;
const COMMUNES = 20;
const DAYS = 21;
const DAY = 86_400_000;
const VN = 7 * 3_600_000;
// Codes beginning with 8, which no unit of the demo list has (its made-up province 99 has 99001…).
const PROVINCE = '80';
const district = (d) => `80${d}`;
const commune = (d, c) => `8${d}${String(c).padStart(3, '0')}`;
const dayKey = (ms) => new Date(ms + VN).toISOString().slice(0, 10);
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const venueId = (d, c, v) => {
  let s = '';
  for (let n = (d * COMMUNES + c) * 10_000 + v, k = 0; k < 8; k++, n = Math.floor(n / 32)) s = B32[n % 32] + s;
  return `bnch${s}`;
};
const SURNAMES = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Phan', 'Vũ', 'Đặng', 'Bùi', 'Đỗ'];
const GIVEN = ['Văn An', 'Thị Bình', 'Hữu Cường', 'Thị Dung', 'Minh Hải', 'Thị Hoa', 'Quốc Hùng', 'Thị Lan', 'Đức Long', 'Thị Mai'];

/** Store requests: straight to the store's HTTP API with its admin credentials. */
function storeClient(url) {
  const u = new URL(url);
  const auth = u.username ? 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64') : null;
  u.username = '';
  u.password = '';
  const base = u.href.replace(/\/+$/, '');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  return async (method, path, body) => {
    const res = await httpRequest(`${base}/${path}`, { method, agent, headers: { accept: 'application/json', ...(auth ? { authorization: auth } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = res.body.length ? JSON.parse(res.body.toString('utf8')) : null;
    if (res.status >= 400 && !(method === 'PUT' && res.status === 412)) throw new Error(`${method} ${path.split('?')[0]}: ${res.status} ${JSON.stringify(json).slice(0, 200)}`);
    return json;
  };
}

const vmKb = (pid, field) => {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
};
const mb = (kb) => round(kb / 1024, 0);
/** Resets a process's peak RSS (VmHWM), so the next peak is the rebuild's own. */
const resetPeak = (pid) => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};

/** A password hash in the server's format (server/auth.ts): scrypt N=2^15, r=8, p=1. */
function passwordHash(password) {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', 1 << 15, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

async function main() {
  const problems = [];
  const bundle = serverBundle(NAME, { explicit: opts.bundle, rebuildStale: true });
  const dirs = tempDirs('lv-bench-reports-');
  const env = { DATA_DIR: dirs.data, STATIC_DIR: hasBuild ? BUILD_DIR : dirs.static, DEMO: '0', ...(opts.couchdb ? { COUCHDB_URL: opts.couchdb } : {}) };
  const server = await spawnServer(bundle, env);
  try {
    const storeUrl = opts.couchdb ?? (await server.run('storeUrl'));
    const store = storeClient(storeUrl);
    const now = Date.now();
    const today = dayKey(now);
    const days = Array.from({ length: DAYS }, (_, i) => dayKey(now - (DAYS - i) * DAY)); // the 21 days before today
    const rand = mulberry32(42);
    const perCommune = Math.ceil(opts.entries / (DISTRICTS * COMMUNES));

    // The units, and an admin for the province and one for a district.
    const units = [{ code: PROVINCE, name: 'Tỉnh Thử Nghiệm', level: 'province', parent: null }];
    for (let d = 0; d < DISTRICTS; d++) {
      units.push({ code: district(d), name: `Huyện Thử ${d}`, level: 'district', parent: PROVINCE });
      for (let c = 0; c < COMMUNES; c++) units.push({ code: commune(d, c), name: `Xã Thử ${d}-${c}`, level: 'commune', parent: district(d) });
    }
    await store('POST', 'lv_directory/_bulk_docs', { docs: units.map((u) => ({ _id: `unit:${u.code}`, type: 'unit', schema: 1, ...u })) });
    const password = 'mat-khau-bench';
    const hash = passwordHash(password);
    const tag = String(randomBytes(2).readUInt16BE() % 1000).padStart(3, '0');
    const admins = { province: { phone: `0919${tag}090`, unit: PROVINCE }, district: { phone: `0919${tag}900`, unit: district(0) } };
    for (const [k, a] of Object.entries(admins)) {
      const userId = `ubench${tag}${k}`;
      await store('POST', 'lv_users/_bulk_docs', {
        docs: [
          { _id: `phone:${a.phone}`, type: 'phone', userId },
          { _id: `user:${userId}`, type: 'user', schema: 1, userId, phone: a.phone, name: 'Cán bộ thử', role: 'admin', communes: [], unit: a.unit, passwordHash: hash, sessionVersion: 1, createdAt: new Date().toISOString() }
        ]
      });
    }

    // The communes: venues, entries of 21 days, tallies.
    console.log(`writing ${DISTRICTS * COMMUNES} communes × ${opts.venues} venues, ${(perCommune * DISTRICTS * COMMUNES).toLocaleString('en')} station entries over ${DAYS} days, and tallies…`);
    const t0 = performance.now();
    let written = 0;
    const codes = [];
    for (let d = 0; d < DISTRICTS; d++) for (let c = 0; c < COMMUNES; c++) codes.push([d, c]);
    const writeDay = async (d, c, dayList, entriesPerDay) => {
      const code = commune(d, c);
      // Communes differ: in some few venues are used (the low-activity list has something to show).
      const used = Math.max(1, Math.round(opts.venues * (0.1 + 0.8 * ((d * COMMUNES + c) % 10) / 10)));
      const docs = [];
      const tallies = [];
      for (const day of dayList) {
        const start = Date.parse(`${day}T00:00:00Z`) - VN;
        for (let i = 0; i < entriesPerDay; i++) {
          const v = Math.floor(rand() * used);
          const time = start + Math.floor(rand() * DAY);
          const vid = venueId(d, c, v);
          docs.push({
            _id: `entry:${vid}:${String(time).padStart(13, '0')}:${i.toString(36)}${Math.floor(rand() * 1e9).toString(36)}`,
            type: 'entry',
            schema: 1,
            venueId: vid,
            communeCode: code,
            time,
            direction: rand() < 0.9 ? 'in' : 'out',
            person: { source: 'cccd', name: `${SURNAMES[i % 10]} ${GIVEN[(i >> 3) % 10]}`, idNumber: String(42_000_000_000 + Math.floor(rand() * 1e9)).padStart(12, '0'), phone: `09${String(Math.floor(rand() * 1e8)).padStart(8, '0')}` },
            deviceId: `station-${v}`
          });
        }
        const venues = {};
        for (let v = 0; v < used; v++) if (rand() < 0.3) venues[venueId(d, c, v)] = 1 + Math.floor(rand() * 20);
        tallies.push({ _id: `tally:${code}:${day}`, type: 'tally', schema: 1, communeCode: code, day, venues, reports: 10, writes: [] });
      }
      for (let i = 0; i < docs.length; i += 2500) {
        await store('POST', `lv_c_${code}/_bulk_docs`, { docs: docs.slice(i, i + 2500) });
        written += Math.min(2500, docs.length - i);
      }
      return tallies;
    };
    const allTallies = [];
    let next = 0;
    const workers = Array.from({ length: 3 }, async () => {
      while (next < codes.length) {
        const [d, c] = codes[next++];
        const code = commune(d, c);
        await store('PUT', `lv_c_${code}`);
        await store('PUT', `lv_c_${code}/_security`, { admins: { names: [], roles: [] }, members: { names: [], roles: ['lv_server'] } });
        const created = new Date(Date.parse(`${days[0]}T02:00:00Z`) - 30 * DAY).toISOString();
        const venues = Array.from({ length: opts.venues }, (_, v) => ({
          _id: `venue:${venueId(d, c, v)}`,
          type: 'venue',
          schema: 1,
          venueId: venueId(d, c, v),
          name: `Cửa hàng ${v}`,
          venueType: v === 0 ? 'checkpoint' : 'shop',
          communeCode: code,
          address: `Thôn ${v % 12}`,
          status: v % 50 === 7 ? 'suspended' : 'active',
          createdAt: v % 40 === 3 ? new Date(Date.parse(`${days[10]}T02:00:00Z`)).toISOString() : created
        }));
        await store('POST', `lv_c_${code}/_bulk_docs`, { docs: venues });
        allTallies.push(...(await writeDay(d, c, days, Math.ceil(perCommune / DAYS))));
        if (next % 20 === 0) process.stderr.write(`  ${next}/${codes.length} communes, ${written.toLocaleString('en')} entries, ${round((performance.now() - t0) / 1000, 0)} s\n`);
      }
    });
    await Promise.all(workers);
    for (let i = 0; i < allTallies.length; i += 1000) await store('POST', 'lv_reports/_bulk_docs', { docs: allTallies.slice(i, i + 1000) });
    const loadS = (performance.now() - t0) / 1000;
    console.log(`written in ${round(loadS, 0)} s (${round(written / loadS, 0)} entries/s)`);

    // Full rebuild, alone, with the peaks reset first. The minute's passes stop from here on (one
    // under way ends first), so each figure below is one pass and nothing else.
    await server.run('hold');
    const catchUp0 = performance.now();
    const caughtUp = await server.run('run');
    const catchUpS = (performance.now() - catchUp0) / 1000;
    const storePid = await server.run('storePid');
    const peakReset = resetPeak(server.pid) && (storePid === null || resetPeak(storePid));
    const rssBefore = vmKb(server.pid, 'VmRSS');
    const r0 = performance.now();
    const rebuilt = await server.run('rebuild');
    const rebuildS = (performance.now() - r0) / 1000;
    const serverPeak = vmKb(server.pid, 'VmHWM');
    const storePeak = storePid ? vmKb(storePid, 'VmHWM') : NaN;

    // One more day: today's entries and tallies, then one incremental pass.
    const oneDay = Math.ceil(perCommune / DAYS);
    const moreTallies = [];
    const i0 = performance.now();
    for (const [d, c] of codes) moreTallies.push(...(await writeDay(d, c, [today], oneDay)));
    await store('POST', 'lv_reports/_bulk_docs', { docs: moreTallies });
    const dayWriteS = (performance.now() - i0) / 1000;
    const p0 = performance.now();
    const pass = await server.run('run');
    const passS = (performance.now() - p0) / 1000;
    const q0 = performance.now();
    await server.run('run');
    const idleS = (performance.now() - q0) / 1000;

    // The statistics, as an admin's browser asks for them.
    const login = async (phone) => {
      const res = await httpRequest(`${server.url}/api/auth/login`, { method: 'POST', body: JSON.stringify({ phone, password }) });
      if (res.status !== 200) throw new Error(`login ${res.status} ${res.body}`);
      return /lv_session=[^;]+/.exec(String(res.headers['set-cookie']))[0];
    };
    const cookies = { district: await login(admins.district.phone), province: await login(admins.province.phone) };
    const week = `from=${dayKey(now - 7 * DAY)}&to=${dayKey(now - DAY)}`;
    const all = `from=${days[0]}&to=${today}`;
    const timings = [];
    const answers = {};
    for (const [label, who, query] of [
      ['district, a week', 'district', `unit=${district(0)}&${week}`],
      ['district, 22 days', 'district', `unit=${district(0)}&${all}`],
      ['province, a week', 'province', `unit=${PROVINCE}&${week}`],
      ['province, 22 days', 'province', `unit=${PROVINCE}&${all}`],
      ['province, current report week', 'province', `unit=${PROVINCE}`]
    ]) {
      const ms = [];
      let bytes = 0;
      for (let i = 0; i < opts.repeat + 1; i++) {
        const res = await httpRequest(`${server.url}/api/reports/stats?${query}`, { headers: { cookie: cookies[who] } });
        if (res.status !== 200) throw new Error(`stats ${label}: ${res.status} ${res.body}`);
        if (i > 0) ms.push(res.ms); // the first one warms the directory cache
        bytes = res.body.length;
        answers[label] = JSON.parse(res.body.toString('utf8'));
      }
      timings.push({ label, medianMs: round(median(ms), 1), maxMs: round(Math.max(...ms), 1), bytes });
    }

    // The pages, as an official opens them: from navigation to the table's rows on screen, in
    // Chromium (the first open loads the app's code; the median is of the opens after it).
    const pages = [];
    if (hasBuild && existsSync(chromiumPath)) {
      const browser = await launchChromium();
      try {
        for (const [label, who, query] of [
          ['district page, a week', 'district', `unit=${district(0)}&${week}`],
          ['province page, a week', 'province', `unit=${PROVINCE}&${week}`]
        ]) {
          const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
          const page = await context.newPage();
          await page.goto(`${server.url}/admin`);
          await page.getByLabel('Số điện thoại').fill(admins[who].phone);
          await page.getByLabel('Mật khẩu').fill(password);
          await page.getByRole('button', { name: 'Đăng nhập' }).last().click();
          await page.getByTestId('admin-unit').waitFor();
          const ms = [];
          for (let i = 0; i < opts.repeat + 1; i++) {
            const t0 = performance.now();
            await page.goto(`${server.url}/admin/stats?${query}`);
            await page.getByTestId('stats-row').first().waitFor({ timeout: 30_000 });
            if (i > 0) ms.push(performance.now() - t0);
          }
          pages.push({ label, medianMs: round(median(ms), 0), maxMs: round(Math.max(...ms), 0) });
          await context.close();
        }
      } finally {
        await browser.close();
      }
      for (const p of pages) if (p.medianMs > 1000) problems.push(`${p.label}: ${p.medianMs} ms, above a second`);
    }

    // What the answers say must match what was written.
    const province = answers['province, 22 days'];
    const stationEntries = province.totals.entries;
    const expected = codes.length * (DAYS + 1) * oneDay;
    if (province.rows.length !== DISTRICTS) problems.push(`province rows: ${province.rows.length}, expected ${DISTRICTS}`);
    if (province.totals.venues !== codes.length * (opts.venues - 1)) problems.push(`province venues ${province.totals.venues}, expected ${codes.length * (opts.venues - 1)}`);
    // Entries at the checkpoint (venue 0) are arrivals; 'out' scans are not entries.
    const scanned = province.totals.entries + province.totals.arrivals;
    if (scanned > expected || scanned < expected * 0.85) problems.push(`entries + arrivals ${scanned} for ${expected} scans written (about 90 % are 'in')`);
    if (answers['district, a week'].rows.length !== COMMUNES) problems.push('district rows');
    for (const t of timings) if (t.medianMs > 1000) problems.push(`${t.label}: ${t.medianMs} ms, above a second`);

    console.log('');
    printFigures(
      [
        ['station entries in the store', written.toLocaleString('en')],
        // The minute's pass under way when the load ends has most of the load to read: this is its
        // remaining time plus one pass after it (whose changes are the few it left).
        ['end of the pass under way after the load, s', round(catchUpS, 1)],
        ['  changes read by the pass after it', caughtUp?.[0]?.changes?.toLocaleString('en')],
        ['full rebuild, s', round(rebuildS, 1)],
        ['  commune changes read', rebuilt?.[0]?.changes?.toLocaleString('en')],
        ['  aggregate docs written', rebuilt?.[0]?.written?.toLocaleString('en')],
        ['  server RSS before, MB', mb(rssBefore)],
        [`  server peak RSS${peakReset ? '' : ' (since start)'}, MB`, mb(serverPeak)],
        ['  store peak RSS, MB', Number.isFinite(storePeak) ? mb(storePeak) : '—'],
        ['one more day written, s', round(dayWriteS, 1)],
        ['incremental pass, s', round(passS, 2)],
        ['  changes read', pass?.[0]?.changes?.toLocaleString('en')],
        ['  aggregate docs written', pass?.[0]?.written?.toLocaleString('en')],
        ['a pass with nothing new, s', round(idleS, 2)]
      ],
      ['']
    );
    console.log('');
    printFigures(
      timings.map((t) => [`stats: ${t.label}`, t.medianMs, t.maxMs, t.bytes]),
      ['median ms', 'max ms', 'bytes']
    );
    if (pages.length) printFigures(pages.map((p) => [p.label, p.medianMs, p.maxMs]), ['median ms', 'max ms']);
    else console.log('(no build/ or no Chromium: the statistics pages were not timed in a browser)');
    console.log(`\nprovince, 22 days: ${stationEntries.toLocaleString('en')} station entries, ${province.totals.arrivals.toLocaleString('en')} arrivals, ${province.totals.checkins.toLocaleString('en')} check-ins, ${province.totals.venuesActive}/${province.totals.venues} venues active; low: ${province.rows.filter((r) => r.low).map((r) => r.code).join(', ') || 'none'}`);
    printResult({
      entries: written,
      store: opts.couchdb ? 'couchdb' : 'embedded',
      rebuildS: round(rebuildS, 1),
      serverPeakMb: mb(serverPeak),
      storePeakMb: Number.isFinite(storePeak) ? mb(storePeak) : null,
      incrementalS: round(passS, 2),
      idlePassS: round(idleS, 2),
      catchUpS: round(catchUpS, 1),
      stats: timings,
      pages
    });
  } finally {
    await server.close();
    dirs.remove();
  }
  return problems;
}

/** What the server's process runs: the bundle's startServer, and its aggregates job on demand. */
const CHILD = `
const m = await import(process.env.LV_BENCH_BUNDLE);
const server = await m.startServer(m.readConfig(JSON.parse(process.env.LV_BENCH_CONFIG)));
process.on('message', async (msg) => {
  const reply = (value) => process.send({ id: msg.id, value });
  try {
    if (msg.cmd === 'storeUrl') reply(String(server.store.couch.config.url));
    else if (msg.cmd === 'storePid') reply(server.storePid());
    else if (msg.cmd === 'run') reply(await m.runAggregatesNow());
    else if (msg.cmd === 'rebuild') reply(await m.rebuildAggregatesNow());
    else if (msg.cmd === 'hold') { m.holdAggregates(true); reply(true); }
    else if (msg.cmd === 'close') { await server.close(); process.exit(0); }
  } catch (err) { process.send({ id: msg.id, error: String(err?.message ?? err) }); }
});
process.send({ ready: server.url });
`;

/** The server in a child process of its own (its memory is then its own), with its job on call. */
async function spawnServer(bundle, env) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, LV_BENCH_BUNDLE: pathToFileURL(bundle).href, LV_BENCH_CONFIG: JSON.stringify({ PORT: '0', HOST: '127.0.0.1', LOG: '0', PUBLIC_ORIGIN: 'http://127.0.0.1', ...env }) }
  });
  const waiting = new Map();
  let nextId = 0;
  let url = null;
  const ready = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      reject(new Error(`the server exited (${code})`));
      for (const w of waiting.values()) w.reject(new Error(`the server exited (${code})`));
    });
    child.on('message', (msg) => {
      if (msg.ready) return resolve((url = msg.ready));
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) w?.reject(new Error(msg.error));
      else w?.resolve(msg.value);
    });
  });
  await ready;
  const run = (cmd) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      child.send({ cmd, id });
    });
  return {
    pid: child.pid,
    url,
    run,
    async close() {
      if (child.exitCode !== null) return;
      child.send({ cmd: 'close', id: 0 });
      await new Promise((r) => child.once('exit', r));
    }
  };
}

main().then((p) => exitWith(NAME, p), (err) => exitWith(NAME, err));
