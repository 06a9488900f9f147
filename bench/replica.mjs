#!/usr/bin/env node
/**
 * The commune team's replica over a bad link: how long a fresh team device takes to hold a whole
 * commune database (DESIGN §4–5), what a day's changes cost afterwards, and what goes up.
 *
 * The server runs in this process from dist/server.mjs (embedded store, a temp DATA_DIR, 127.0.0.1
 * only) and serves the built PWA (build/, or --static). The demo commune 18070 gets --docs realistic
 * documents written straight into the store (POST _bulk_docs, not through the page): ~150 venues,
 * station entries over the last 21 days (people with Vietnamese names, phones, birth years, ID numbers
 * for some, a checkpoint's health declaration for some), ~3,000 follow-ups (newFollowup of
 * src/lib/core/casework/casework.ts, contacts of the cases found with findContacts, and checkpoint arrivals),
 * ~100 F0 cases (newCase) with a few visits each, a few exposure drafts. Every document is checked
 * with checkCommuneDoc, the gateway's own rule, before it is written. Venue tokens are placeholders
 * of a real token's length (the signer is not run).
 *
 * Then headless Chromium opens /team with its network throttled by CDP
 * (Network.emulateNetworkConditions: --latency ms per request, --kbps down, --up-kbps up; DevTools
 * throttling models neither TCP handshakes nor slow start), logs in as the demo team through the
 * page's form, and the page starts its live sync of lv_c_18070 as it does for a real team member:
 *
 *   first sync   from the login's click until the device's PouchDB (IndexedDB `_pouch_lv_c_18070`,
 *                its cached docCount read every 0.5 s) holds every document of the server's database;
 *   day's delta  --delta documents written on the server (edits of cases and follow-ups first, then
 *                new entries and follow-ups), from the moment the store has them until the live sync
 *                has them all on the device (new ones counted, edits checked by their revision);
 *   up           --up documents written on the device (a second tab of the same browser profile
 *                writes them into the same PouchDB; PouchDB tells the team page through a storage
 *                event, as it would for a second open tab), until the server has them all;
 *   case page    the team's case page /team/case?c=18070&id=<case> for a case with visits at the
 *                busiest market; the page is to record performance.measure('lv-contacts', …) from
 *                opening the case to its contacts listed: read within 20 s, else "n/a".
 *
 * Figures: wall time, bytes down (sum of CDP Network.loadingFinished encodedDataLength) and up
 * (request bodies from Network.requestWillBeSent, plus the bytes the server's sockets read, which
 * include headers), requests by kind (the replicator's round trips; the team page's preloading of its
 * other screens' code shows as "app files" and is left out of the sync totals), the page's peak JS
 * heap (Performance.getMetrics every 2 s), the renderer's peak RSS and all Chromium's peak PSS
 * (/proc), this process's RSS (the server and its embedded store), and CPU time of each. The service
 * worker is blocked: the figures are the sync's, not the precache's. Targets (first sync ≤ 2 min,
 * delta ≤ 10 s, contacts ≤ 300 ms; issue 13) are printed beside the figures; a missed one does not fail the run.
 *
 * Usage: node bench/replica.mjs [--docs 50000] [--delta 2000] [--up 200] [--kbps 1000] [--up-kbps N]
 *          [--latency 300] [--no-throttle] [--max-minutes 30] [--static dir] [--bundle file] [--profile] [--old-sync]
 *   --docs 2000    a quick smoke run (about a minute)
 *   --up-kbps      the uplink, when it differs from --kbps (3G uplinks are often half the downlink)
 *   --static       another build of the PWA to serve (default build/), e.g. a copy made before a change
 *   --bundle       another build of the server (default dist/server.mjs, rebuilt when stale)
 *   --old-sync     the first sync without the first load (src/lib/client/first-load.ts): the device is
 *                  marked as one that synced before (lv.pushedSeq), so the page starts PouchDB's sync
 *                  at once, pull and push together, as a device that synced before the first load
 *                  existed does (its push still skips the revisions its pull wrote)
 *   --profile      samples the team page's main thread (CDP Profiler, 1 ms) in the first sync and the
 *                  delta, and prints where its time goes: self time by function, with the minified
 *                  source at that place (it slows the page a little: take times from a run without it)
 * build/ must exist (npm run build). Prints tables and a final `RESULT {json}` line; exits non-zero
 * when a check fails (a document invalid or missing, a sync that never finished within --max-minutes).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ROOT,
  bundleCode,
  checkChromium,
  exitWith,
  launchChromium,
  mulberry32,
  pageHtml,
  parseFlags,
  printFigures,
  printResult,
  procCpuMs,
  round,
  serverBundle,
  startBenchServer,
  tempDirs
} from './lib.mjs';

const NAME = 'replica';
const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
const IDB_NAME = `_pouch_${DB}`;
const TEAM_PASSWORD = 'mat-khau-ban-do-18070';
const TARGETS = { firstSyncMs: 2 * 60_000, deltaMs: 10_000, contactsMs: 300 };
const DAY = 86_400_000;
const VN = 7 * 3_600_000;

const opts = parseFlags(NAME, {
  usage:
    'node bench/replica.mjs [--docs 50000] [--delta 2000] [--up 200] [--kbps 1000] [--up-kbps N] [--latency 300] [--no-throttle] [--max-minutes 30] [--static dir] [--bundle file] [--profile] [--old-sync]',
  spec: { docs: 'whole', delta: 'whole', up: 'whole', kbps: 'number', upKbps: 'number', latency: 'number', noThrottle: 'switch', maxMinutes: 'number', static: 'path', bundle: 'path', profile: 'switch', oldSync: 'switch' },
  defaults: { docs: 50_000, delta: 2000, up: 200, kbps: 1000, upKbps: null, latency: 300, noThrottle: false, maxMinutes: 30, static: path.join(ROOT, 'build'), bundle: null, profile: false, oldSync: false },
  check(o) {
    if (o.docs < 500) throw new Error('--docs must be at least 500');
    if (o.delta < 50) throw new Error('--delta must be at least 50');
    if (o.up < 10) throw new Error('--up must be at least 10');
    if (!o.noThrottle && (o.kbps <= 0 || (o.upKbps ?? o.kbps) <= 0)) throw new Error('--kbps and --up-kbps must be above 0');
    if (!fs.existsSync(path.join(o.static, '200.html'))) throw new Error(`${o.static} holds no built app (run npm run build)`);
  }
});
const LINK = opts.noThrottle ? null : { latencyMs: opts.latency, downKbps: opts.kbps, upKbps: opts.upKbps ?? opts.kbps };

// ---------------------------------------------------------------------------------------------
// The app's rules, bundled from src/lib/core for Node
// ---------------------------------------------------------------------------------------------
async function loadCore(tmp) {
  const outfile = path.join(tmp, 'replica-core.cjs');
  const source = `
    export { checkCommuneDoc, entryDocId, caseDocId } from './src/lib/core/documents';
    export { newCase, newFollowup, addVisits, tracedVisits, entryScanStart } from './src/lib/core/casework/casework';
    export { findContacts } from './src/lib/core/casework/contacts';
    export { DEFAULT_STAY_MINUTES, venueDocId } from './src/lib/core/venue/venue';
  `;
  fs.writeFileSync(outfile, await bundleCode(source, 'bench-replica-core.ts', { platform: 'node', target: 'node20', format: 'cjs' }));
  return createRequire(import.meta.url)(outfile);
}

// ---------------------------------------------------------------------------------------------
// A commune's documents
// ---------------------------------------------------------------------------------------------
const rnd = mulberry32(18070);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const chance = (p) => rnd() < p;
const randomText = (len, alphabet) => Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
const digits = (n) => randomText(n, '0123456789');
/** A station's device id (a UUID, as crypto.randomUUID() makes on the device), from the seeded generator. */
const deviceUuid = () => [8, 4, 4, 4, 12].map((n) => randomText(n, '0123456789abcdef')).join('-');
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
/** A day as YYYY-MM-DD, Vietnam time. */
const dayOf = (ms) => new Date(ms + VN).toISOString().slice(0, 10);
/** Midnight in Vietnam `daysAgo` days before `now`'s day. */
const vnMidnight = (now, daysAgo) => Math.floor((now + VN) / DAY) * DAY - VN - daysAgo * DAY;

const SURNAMES = ['Nguyễn', 'Nguyễn', 'Nguyễn', 'Trần', 'Trần', 'Lê', 'Lê', 'Phạm', 'Hoàng', 'Phan', 'Phan', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Hồ', 'Ngô', 'Dương', 'Thái', 'Đinh', 'Lý'];
const MIDDLE_M = ['Văn', 'Hữu', 'Đức', 'Minh', 'Quốc', 'Công', 'Thanh', 'Xuân', 'Đình', 'Trọng', 'Quang'];
const MIDDLE_F = ['Thị', 'Thị', 'Thị', 'Ngọc', 'Thu', 'Thanh', 'Minh', 'Kim', 'Phương', 'Hồng', 'Mỹ'];
const GIVEN_M = ['An', 'Bình', 'Cường', 'Dũng', 'Đạt', 'Hải', 'Hiếu', 'Hoàng', 'Hùng', 'Huy', 'Khánh', 'Long', 'Lộc', 'Nam', 'Nghĩa', 'Phúc', 'Quân', 'Sơn', 'Tài', 'Thắng', 'Thành', 'Tiến', 'Toàn', 'Trung', 'Tuấn', 'Việt', 'Vinh'];
const GIVEN_F = ['Anh', 'Châu', 'Dung', 'Giang', 'Hà', 'Hạnh', 'Hằng', 'Hiền', 'Hoa', 'Hồng', 'Hương', 'Huyền', 'Lan', 'Liên', 'Linh', 'Loan', 'Mai', 'My', 'Nga', 'Nhung', 'Oanh', 'Phương', 'Quỳnh', 'Thảo', 'Thủy', 'Trang', 'Tuyết', 'Vân', 'Yến'];
const PREFIXES = ['090', '091', '094', '096', '097', '098', '086', '088', '032', '033', '034', '035', '036', '037', '038', '039', '070', '077', '079', '081', '083', '085', '056'];
const PLACES = ['Đức Thọ', 'Trung Lễ', 'Tùng Ảnh', 'Yên Hồ', 'Đức Đồng', 'Liên Minh', 'Bùi La Nhân', 'Thái Yên', 'Hòa Lạc', 'Tân Dân', 'Lâm Trung Thủy', 'An Dũng', 'Quang Vĩnh', 'Sông La', 'Thọ Tường', 'Linh Cảm'];
const OWNERS = ['Cô Lan', 'Bà Năm', 'Anh Tuấn', 'Chị Hương', 'Ông Sáu', 'Cô Hoa', 'Chú Bình', 'Chị Thảo', 'Anh Hùng', 'Bà Tư'];
const OTHER_UNITS = ['18073', '18076', '18079', '18082', '42', '40', '01', '79', '48', '38'];
const NAMES_BY_TYPE = {
  market: () => `Chợ ${pick(PLACES)}`,
  shop: () => pick([`Tạp hóa ${pick(OWNERS)}`, `Cửa hàng điện máy ${pick(PLACES)}`, `Nhà thuốc ${pick(OWNERS)}`, `Siêu thị mini ${pick(PLACES)}`, `Tiệm vàng ${pick(PLACES)}`]),
  food: () => pick([`Quán bún bò ${pick(OWNERS)}`, `Quán cà phê ${pick(PLACES)}`, `Quán phở ${pick(OWNERS)}`, `Nhà hàng ${pick(PLACES)}`]),
  office: () => pick([`UBND xã ${pick(PLACES)}`, `Bưu điện ${pick(PLACES)}`, `Ngân hàng Agribank chi nhánh ${pick(PLACES)}`, `Công an xã ${pick(PLACES)}`]),
  school: () => pick([`Trường Tiểu học ${pick(PLACES)}`, `Trường THCS ${pick(PLACES)}`, `Trường Mầm non ${pick(PLACES)}`, `Trường THPT ${pick(PLACES)}`]),
  health: () => pick([`Trạm Y tế xã ${pick(PLACES)}`, `Phòng khám đa khoa ${pick(PLACES)}`]),
  worship: () => pick([`Chùa ${pick(PLACES)}`, `Nhà thờ giáo xứ ${pick(PLACES)}`, `Đền ${pick(PLACES)}`]),
  factory: () => pick([`Xưởng may ${pick(PLACES)}`, `Nhà máy gạch ${pick(PLACES)}`, `Xưởng mộc ${pick(OWNERS)}`]),
  lodging: () => pick([`Nhà nghỉ ${pick(PLACES)}`, `Khách sạn ${pick(PLACES)}`]),
  transport: () => pick([`Xe khách ${pick(PLACES)} – Vinh 38B-${digits(3)}.${digits(2)}`, `Bến xe ${pick(PLACES)}`]),
  checkpoint: () => pick([`Chốt kiểm dịch cầu ${pick(PLACES)}`, `Chốt kiểm dịch QL8A km ${int(20, 60)}`]),
  other: () => pick([`Nhà văn hóa khối ${int(1, 12)}`, `Sân bóng ${pick(PLACES)}`])
};
/** How many venues of each type a commune has (per 150), and how busy one of them is. */
const VENUE_MIX = { market: [3, 40], shop: [40, 3], food: [30, 4], office: [15, 5], school: [8, 10], health: [4, 8], worship: [6, 3], factory: [5, 8], lodging: [5, 2], transport: [8, 8], checkpoint: [5, 15], other: [21, 2] };

function newPerson() {
  const female = chance(0.5);
  const birthYear = int(1940, 2012);
  const gender = female ? 'female' : 'male';
  const century = birthYear >= 2000 ? 2 : 0;
  return {
    name: `${pick(SURNAMES)} ${pick(female ? MIDDLE_F : MIDDLE_M)} ${pick(female ? GIVEN_F : GIVEN_M)}`,
    phone: chance(0.92) ? pick(PREFIXES) + digits(7) : undefined,
    birthYear,
    birthDate: `${birthYear}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`,
    gender,
    // CCCD: province 042 (Hà Tĩnh), century and gender, the year, six digits.
    idNumber: chance(0.75) ? `042${century + (female ? 1 : 0)}${String(birthYear % 100).padStart(2, '0')}${digits(6)}` : undefined,
    oldIdNumber: chance(0.3) ? `18${digits(7)}` : undefined,
    insuranceNumber: chance(0.4) ? `${pick(['GD', 'HT', 'CN', 'TE'])}4${digits(12)}` : undefined,
    address: chance(0.7) ? `Khối ${int(1, 12)}, thị trấn Đức Thọ, huyện Đức Thọ, Hà Tĩnh` : `Xóm ${int(1, 9)}, xã ${pick(PLACES)}, huyện Đức Thọ, Hà Tĩnh`,
    communeCode: chance(0.75) ? COMMUNE : pick(OTHER_UNITS)
  };
}

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The person as a station reads them: what each kind of code carries. */
function personRead(p, venueType) {
  const r = rnd();
  const source = venueType === 'checkpoint' ? (r < 0.7 ? 'personal-qr' : r < 0.9 ? 'cccd' : 'manual') : r < 0.55 ? 'personal-qr' : r < 0.75 ? 'cccd' : r < 0.8 ? 'bhyt' : r < 0.85 ? 'national-qr' : 'manual';
  if (source === 'cccd' && p.idNumber)
    return defined({ source, name: p.name, idNumber: p.idNumber, oldIdNumber: p.oldIdNumber, birthDate: p.birthDate, gender: p.gender, address: p.address });
  if (source === 'bhyt' && p.insuranceNumber) return defined({ source, name: p.name, insuranceNumber: p.insuranceNumber, birthDate: p.birthDate, gender: p.gender, address: p.address });
  if (source === 'manual' || !p.phone) return defined({ source: 'manual', name: p.name, phone: p.phone, birthYear: p.birthYear });
  return defined({ source: source === 'national-qr' ? 'national-qr' : 'personal-qr', name: p.name, phone: p.phone, birthYear: p.birthYear, communeCode: p.communeCode, idNumber: chance(0.5) ? p.idNumber : undefined });
}

function declarationFor(time, checkpoint) {
  const ill = chance(0.06);
  return {
    selfDeclared: true,
    date: dayOf(time),
    symptoms: ill ? [pick(['fever', 'cough', 'sore-throat', 'fatigue', 'taste-smell-loss'])] : [],
    contactWithCase: chance(0.03),
    travelledUnits: checkpoint && chance(0.4) ? [pick(OTHER_UNITS.slice(4))] : [],
    vaccineDoses: pick([0, 1, 2, 2, 2, 3, 3])
  };
}

/** An hour of the day (Vietnam time, fractional) at which people pass a venue of this type. */
function hourAt(type) {
  switch (type) {
    case 'market':
      return chance(0.7) ? 5 + rnd() * 5 : 14 + rnd() * 4;
    case 'school':
      return chance(0.5) ? 6.5 + rnd() : 16.5 + rnd();
    case 'office':
    case 'factory':
      return chance(0.6) ? 7 + rnd() : chance(0.5) ? 11 + rnd() * 2 : 16.5 + rnd();
    case 'checkpoint':
      return 6 + rnd() * 16;
    case 'transport':
      return 5 + rnd() * 13;
    default:
      return 7 + rnd() * 14;
  }
}

function makeGenerator(core, now) {
  const people = [];
  const personAt = () => people[Math.floor(people.length * rnd() ** 2)]; // regulars come back often
  const earliest = now - 21 * DAY + 2 * 3_600_000; // inside the retention period for the whole run
  const stayOf = (venue) => venue.defaultStayMinutes ?? core.DEFAULT_STAY_MINUTES[venue.venueType];

  function venue() {
    const types = Object.keys(VENUE_MIX);
    const total = types.reduce((n, t) => n + VENUE_MIX[t][0], 0);
    let x = rnd() * total;
    const venueType = types.find((t) => (x -= VENUE_MIX[t][0]) < 0) ?? 'other';
    return makeVenue(venueType);
  }

  function makeVenue(venueType) {
    const venueId = randomText(12, B32);
    const created = new Date(now - int(30, 400) * DAY).toISOString();
    return defined({
      _id: core.venueDocId(venueId),
      type: 'venue',
      schema: 1,
      venueId,
      name: NAMES_BY_TYPE[venueType]().slice(0, 80),
      venueType,
      communeCode: COMMUNE,
      address: `${chance(0.5) ? `Số ${int(1, 200)} đường ${pick(['Lê Duẩn', 'Trần Phú', 'Nguyễn Du', 'Phan Đình Phùng', 'Quốc lộ 8A'])}, ` : ''}khối ${int(1, 12)}, thị trấn Đức Thọ`,
      contactPhone: chance(0.6) ? pick(PREFIXES) + digits(7) : undefined,
      defaultStayMinutes: chance(0.1) ? pick([20, 45, 120, 240]) : undefined,
      status: chance(0.96) ? 'active' : 'suspended',
      owner: venueType === 'checkpoint' ? undefined : chance(0.7) ? randomText(16, ALNUM) : undefined,
      createdAt: created,
      updatedAt: created,
      // A signed token is ~300 digits (QR numeric mode); a placeholder of that length, not verifiable.
      token: digits(int(290, 320)),
      keyId: '2021',
      signedAt: created,
      busy: VENUE_MIX[venueType][1] * (0.5 + rnd())
    });
  }

  function entry(venue, time, deviceIds) {
    const p = personAt();
    const checkpoint = venue.venueType === 'checkpoint';
    const read = personRead(p, venue.venueType);
    const withDeclaration = read.source === 'personal-qr' && chance(checkpoint ? 0.9 : 0.3);
    const outgoing = ['office', 'school', 'factory', 'lodging'].includes(venue.venueType) ? chance(0.35) : chance(0.08);
    return {
      _id: core.entryDocId(venue.venueId, time, randomText(12, HEX)),
      type: 'entry',
      schema: 1,
      venueId: venue.venueId,
      communeCode: COMMUNE,
      time,
      direction: outgoing ? 'out' : 'in',
      person: read,
      deviceId: pick(deviceIds),
      ...(withDeclaration ? { declaration: declarationFor(time, checkpoint) } : {})
    };
  }

  /** `count` entries between `from` and `to`, spread over venues by how busy they are. */
  function entries(venues, count, from, to) {
    const total = venues.reduce((n, v) => n + v.busy, 0);
    const devices = new Map(venues.map((v) => [v.venueId, Array.from({ length: int(1, 2) }, () => deviceUuid())]));
    const out = [];
    for (let tries = 0; out.length < count; tries++) {
      if (tries > 1000 * count) throw new Error('no entry time fits the range');
      let x = rnd() * total;
      const v = venues.find((u) => (x -= u.busy) < 0) ?? venues[0];
      const day = vnMidnight(to, Math.floor(rnd() * Math.ceil((to - from) / DAY + 1)));
      const time = Math.round(day + hourAt(v.venueType) * 3_600_000);
      if (time < from || time > to) continue;
      out.push(entry(v, time, devices.get(v.venueId)));
    }
    return out;
  }

  function caseVisits(venues, confirmed) {
    const visits = [];
    for (let i = int(2, 6); i > 0; i--) {
      const day = confirmed - int(1, 7) * DAY;
      const from = Math.round(day + (7 + rnd() * 12) * 3_600_000);
      if (chance(0.85)) {
        let x = rnd() * venues.reduce((n, v) => n + v.busy, 0);
        const v = venues.find((u) => (x -= u.busy) < 0) ?? venues[0];
        visits.push({ venueId: v.venueId, communeCode: COMMUNE, place: v.name, from, to: from + int(20, 180) * 60_000, source: chance(0.6) ? 'diary' : 'typed' });
      } else {
        visits.push({ place: `Nhà người thân ở xã ${pick(PLACES)}`, from, to: from + int(60, 240) * 60_000, source: 'typed' });
      }
    }
    return visits.filter((v) => v.from >= earliest && v.to < now);
  }

  function newCaseDoc(venues, visits, confirmedOn) {
    const p = personAt();
    const person = defined({ source: 'cccd', name: p.name, idNumber: p.idNumber ?? `042${digits(9)}`, birthDate: p.birthDate, gender: p.gender, address: p.address, phone: p.phone });
    const doc = core.newCase(randomText(16, ALNUM), COMMUNE, person, confirmedOn, Math.min(now, Date.parse(confirmedOn) + int(1, 20) * 3_600_000));
    doc.visits = core.addVisits([], visits);
    if (chance(0.4)) doc.notes = pick(['Đã lấy mẫu PCR cho gia đình.', 'F0 làm ở chợ, bán rau buổi sáng.', 'Con đi học trường THCS, đã báo nhà trường.', 'Cách ly tại nhà, đo SpO2 hai lần một ngày.']);
    if (chance(0.2)) doc.status = 'closed';
    return doc;
  }

  /** The case's contacts among `byVenue` (entries of each venue, by time), as the case page would find them. */
  function contactsOf(caseDoc, byVenue, venueById) {
    const visits = core.tracedVisits(caseDoc.visits, COMMUNE);
    const entriesNear = [];
    for (const v of visits) {
      const list = byVenue.get(v.venueId) ?? [];
      const start = core.entryScanStart(v, 60, 24 * 60);
      for (const e of list) if (e.time >= start && e.time <= v.to + 60 * 60_000) entriesNear.push(e);
    }
    return core.findContacts(visits, entriesNear, (id) => stayOf(venueById.get(id)));
  }

  function followupFrom(e, about, updatedAt) {
    const f = core.newFollowup(e, COMMUNE, updatedAt, about);
    const r = rnd();
    if (r < 0.75) f.calledOn = dayOf(Math.max(e.time, updatedAt - DAY));
    if (r < 0.55) {
      f.isolationFrom = dayOf(e.time);
      f.isolationUntil = dayOf(e.time + 7 * DAY);
    }
    if (r < 0.45) {
      f.test = pick(['pending', 'negative', 'negative', 'negative', 'positive']);
      f.testedOn = dayOf(Math.min(updatedAt, e.time + 3 * DAY));
    }
    if (chance(0.25)) f.notes = pick(['Không nghe máy, gọi lại buổi chiều.', 'Đã hướng dẫn tự cách ly tại nhà.', 'Gia đình 4 người, đã báo tổ dân phố.', 'Có ho nhẹ, hẹn xét nghiệm ngày mai.']);
    if (chance(0.3)) f.state = 'closed';
    return f;
  }

  function arrivalFrom(e, updatedAt) {
    const zone = pick([3, 3, 4, 2]);
    const symptoms = e.declaration?.symptoms ?? [];
    return followupFrom(e, { fromUnit: pick(OTHER_UNITS.slice(4)), fromZone: zone, symptoms }, updatedAt);
  }

  function exposureDraft(caseDoc, visit) {
    const eventId = randomText(16, ALNUM);
    return {
      _id: `exposure:${visit.venueId}:${eventId}`,
      type: 'exposure',
      schema: 1,
      eventId,
      venueId: visit.venueId,
      venueName: visit.place,
      communeCode: COMMUNE,
      from: visit.from,
      to: visit.to,
      widenMinutes: 60,
      level: chance(0.7) ? 'high' : 'monitor',
      message: `Ca F0 có mặt tại ${visit.place} ngày ${dayOf(visit.from).split('-').reverse().join('/')}.`,
      advice: 'Tự theo dõi sức khỏe, khai báo y tế và gọi trạm y tế nếu có triệu chứng.',
      contactPhone: `0239${digits(7)}`,
      state: 'draft',
      updatedAt: caseDoc.updatedAt
    };
  }

  /** The whole database: venues, entries, cases (one of them at the busiest market), follow-ups, drafts. */
  function commune(total) {
    const nVenues = Math.max(12, Math.round(total * 0.003));
    const nCases = Math.max(5, Math.round(total * 0.002));
    const nFollowups = Math.max(30, Math.round(total * 0.06));
    const nExposures = Math.max(3, Math.round(total * 0.0002));
    const nEntries = total - nVenues - nCases - nFollowups - nExposures;
    for (let i = Math.max(500, Math.round(nEntries / 6)); i > 0; i--) people.push(newPerson());

    const venues = [makeVenue('market'), makeVenue('checkpoint'), ...Array.from({ length: nVenues - 2 }, venue)];
    const venueById = new Map(venues.map((v) => [v.venueId, v]));
    const ents = entries(venues, nEntries, earliest, now - 60_000);
    const byVenue = new Map();
    for (const e of ents) {
      if (!byVenue.has(e.venueId)) byVenue.set(e.venueId, []);
      byVenue.get(e.venueId).push(e);
    }
    for (const list of byVenue.values()) list.sort((a, b) => a.time - b.time);

    // The case for the case page: a visit to the busiest market with 50–200 contacts (about 120).
    const market = venues.filter((v) => v.venueType === 'market').sort((a, b) => (byVenue.get(b.venueId)?.length ?? 0) - (byVenue.get(a.venueId)?.length ?? 0))[0];
    let best = null;
    for (let d = 2; d <= 12; d++)
      for (const minutes of [30, 60, 90, 120]) {
        const from = vnMidnight(now, d) + 6.5 * 3_600_000;
        const visit = { venueId: market.venueId, communeCode: COMMUNE, place: market.name, from, to: from + minutes * 60_000, source: 'diary' };
        const n = contactsOf({ visits: [visit] }, byVenue, venueById).length;
        if (!best || Math.abs(n - 120) < Math.abs(best.n - 120)) best = { visit, n, d };
      }
    const hookVisits = [best.visit, ...caseVisits(venues.filter((v) => v.venueType === 'shop' || v.venueType === 'food'), vnMidnight(now, best.d - 1)).slice(0, 2)];
    const hook = newCaseDoc(venues, hookVisits, dayOf(vnMidnight(now, best.d - 2)));
    hook.status = 'open';
    const cases = [hook];
    while (cases.length < nCases) {
      const confirmed = vnMidnight(now, int(0, 14));
      cases.push(newCaseDoc(venues, caseVisits(venues, confirmed), dayOf(confirmed)));
    }

    // Follow-ups: the contacts of each case (the hook case's all, then a share each), then arrivals at the checkpoints.
    const followups = new Map();
    const add = (f) => followups.size < nFollowups && !followups.has(f._id) && followups.set(f._id, f);
    const contactQuota = Math.round(nFollowups * 0.8);
    for (const c of cases) {
      const found = contactsOf(c, byVenue, venueById);
      const quota = c === hook ? found.length : Math.ceil(contactQuota / nCases);
      for (const contact of found.slice(0, quota)) if (followups.size < contactQuota) add(followupFrom(contact.entry, { caseId: c.caseId }, Math.min(now, Date.parse(c.updatedAt) + int(1, 48) * 3_600_000)));
    }
    const arrivalsFrom = ents.filter((e) => venueById.get(e.venueId).venueType === 'checkpoint' && e.direction === 'in');
    for (const e of arrivalsFrom) if (followups.size < nFollowups && chance(0.5)) add(arrivalFrom(e, Math.min(now, e.time + int(1, 30) * 3_600_000)));
    for (let i = 0; followups.size < nFollowups && i < 10 * nFollowups; i++) {
      const c = pick(cases);
      add(followupFrom(pick(ents), { caseId: c.caseId }, now - int(0, 5) * DAY));
    }

    const exposures = [];
    for (const c of cases) for (const v of c.visits) if (v.venueId && exposures.length < nExposures) exposures.push(exposureDraft(c, v));

    const strip = ({ busy: _b, ...v }) => v;
    return {
      venues: venues.map(strip),
      venueList: venues,
      entries: ents,
      cases,
      followups: [...followups.values()],
      exposures,
      hook: { caseId: hook.caseId, venue: market.name, contacts: best.n, visit: best.visit },
      byVenue
    };
  }

  /** A day of work on the server: edits of cases and follow-ups first, then new entries and follow-ups. */
  function serverDay(db, count, revs, dayNow) {
    const caseEdits = Math.max(2, Math.round(count * 0.01));
    const followupEdits = Math.max(5, Math.round(count * 0.1));
    const newFollowups = Math.max(5, Math.round(count * 0.1));
    const edits = [];
    for (const c of db.cases.slice(1, 1 + caseEdits)) {
      const visits = caseVisits(db.venueList, vnMidnight(dayNow, 0)).slice(0, 1);
      edits.push({ ...c, _rev: revs.get(c._id), visits: core.addVisits(c.visits, visits), notes: `${c.notes ?? ''} Bổ sung lịch trình ngày ${dayOf(dayNow)}.`.trim(), updatedAt: new Date(dayNow).toISOString() });
    }
    for (const f of db.followups.slice(0, followupEdits))
      edits.push({ ...f, _rev: revs.get(f._id), calledOn: f.calledOn ?? dayOf(dayNow), test: f.test === 'none' ? 'pending' : f.test, testedOn: f.testedOn ?? dayOf(dayNow), updatedAt: new Date(dayNow).toISOString() });
    const today = entries(db.venueList, count - edits.length - newFollowups, dayNow - 14 * 3_600_000, dayNow - 60_000);
    const known = new Set(db.followups.map((f) => f._id));
    const fresh = new Map();
    const c = db.cases[db.cases.length - 1];
    for (const e of today) {
      if (fresh.size >= newFollowups) break;
      const f = db.venueList.find((v) => v.venueId === e.venueId).venueType === 'checkpoint' ? arrivalFrom(e, dayNow) : followupFrom(e, { caseId: c.caseId }, dayNow);
      if (!known.has(f._id)) fresh.set(f._id, f);
    }
    for (let i = 0; fresh.size < newFollowups && i < 100 * newFollowups; i++) {
      const f = followupFrom(pick(today), { caseId: pick(db.cases).caseId }, dayNow);
      if (!known.has(f._id)) fresh.set(f._id, f);
    }
    return { edits, added: [...today, ...fresh.values()] };
  }

  /** What a team member writes on the device at a checkpoint: arrivals scanned, some followed. */
  function deviceWrites(db, count, dayNow) {
    const checkpoint = db.venueList.find((v) => v.venueType === 'checkpoint');
    const devices = [deviceUuid()];
    const nFollowups = Math.round(count * 0.2);
    const scanned = Array.from({ length: count - nFollowups }, () => entry(checkpoint, dayNow - int(1, 6 * 60) * 60_000, devices));
    const followed = scanned.slice(0, nFollowups).map((e) => arrivalFrom(e, dayNow));
    return [...scanned, ...followed];
  }

  return { commune, serverDay, deviceWrites };
}

function validate(core, docs) {
  const bad = [];
  for (const d of docs) {
    const check = core.checkCommuneDoc(d, COMMUNE);
    if (!check.ok) bad.push(`${d._id}: ${check.reason}`);
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------
/**
 * A store call, once more when a kept-alive socket was reset under it: the embedded store closes
 * idle sockets after Node's 5 s keepAliveTimeout, and a request sent as it does so fails with
 * ECONNRESET (seen here between phases, after minutes without a call).
 */
async function storeRequest(store, ...args) {
  try {
    return await store.request(...args);
  } catch (err) {
    if (err?.code !== 'ECONNRESET' && !/socket hang up/.test(err?.message ?? '')) throw err;
    console.error(`  (the store's socket was reset under ${args[0]} ${args[1]}: sent again)`);
    return store.request(...args);
  }
}

async function bulkWrite(store, docs, revs, batch = 2000) {
  for (let i = 0; i < docs.length; i += batch) {
    const res = await storeRequest(store, 'POST', `${DB}/_bulk_docs`, { body: { docs: docs.slice(i, i + batch) } });
    if (res.status !== 201) throw new Error(`_bulk_docs answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
    for (const r of res.body) {
      if (r.error) throw new Error(`the store refused ${r.id}: ${r.error} ${r.reason ?? ''}`);
      revs.set(r.id, r.rev);
    }
  }
}

async function serverDocCount(store) {
  const res = await storeRequest(store, 'GET', DB);
  return res.body?.doc_count ?? 0;
}

async function serverHas(store, ids) {
  const res = await storeRequest(store, 'POST', `${DB}/_all_docs`, { body: { keys: ids } });
  return (res.body?.rows ?? []).filter((r) => r.value && !r.value.deleted).length;
}

/** Bytes read from and written to the clients by the server's sockets, so far (headers included). */
function socketMeter(httpServer) {
  const sockets = new Set();
  httpServer.on('connection', (s) => sockets.add(s));
  return () => {
    let read = 0;
    let written = 0;
    for (const s of sockets) {
      read += s.bytesRead;
      written += s.bytesWritten;
    }
    return { read, written };
  };
}

// ---------------------------------------------------------------------------------------------
// The browser: network accounting, memory, the page's replica
// ---------------------------------------------------------------------------------------------
/** A request's kind: the replicator's call, prefixed with the database when it is not the commune's. */
function kindOf(url, method) {
  const p = new URL(url).pathname;
  if (!p.startsWith('/sync/')) return p.startsWith('/api/') ? 'api' : 'app files';
  if (p === '/sync/' || p === '/sync') return `${method} /sync/`;
  const db = p.split('/')[2];
  const of = db === DB ? '' : `${db}: `;
  if (p.includes('/_local/')) return `${of}${method} _local`;
  for (const k of ['_changes', '_bulk_get', '_revs_diff', '_bulk_docs']) if (p.endsWith(`/${k}`)) return `${of}${method} ${k}`;
  return `${of}${method} db info`;
}

/** Requests, bytes down and up, by kind; `mark()` starts a phase, `since(mark)` reads it. */
function networkMeter(cdp) {
  const byId = new Map();
  /** Each sync request with its times (this process's clock, as CDP's events arrive): the phases' timelines. */
  const log = new Map();
  const totals = new Map(); // kind -> { n, down, up, longpoll }
  const bump = (kind, field, by) => {
    let t = totals.get(kind);
    if (!t) totals.set(kind, (t = { n: 0, down: 0, up: 0 }));
    t[field] += by;
  };
  cdp.on('Network.requestWillBeSent', (e) => {
    const kind = kindOf(e.request.url, e.request.method);
    let up = 0;
    if (e.request.postDataEntries) for (const p of e.request.postDataEntries) up += p.bytes ? Buffer.from(p.bytes, 'base64').length : 0;
    else if (e.request.postData) up = Buffer.byteLength(e.request.postData);
    byId.set(e.requestId, kind);
    bump(kind, 'n', 1);
    bump(kind, 'up', up);
    if (kind !== 'app files') log.set(e.requestId, { kind, feed: new URL(e.request.url).searchParams.get('feed'), start: performance.now(), end: null, down: 0, up });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const kind = byId.get(e.requestId);
    if (kind) bump(kind, 'down', e.encodedDataLength);
    const entry = log.get(e.requestId);
    if (entry) Object.assign(entry, { end: performance.now(), down: e.encodedDataLength });
  });
  cdp.on('Network.loadingFailed', (e) => byId.get(e.requestId) && bump(byId.get(e.requestId), 'failed', 1));
  const snapshot = () => new Map([...totals].map(([k, v]) => [k, { ...v }]));
  return {
    mark: snapshot,
    since(mark) {
      const out = {};
      for (const [k, v] of totals) {
        const m = mark.get(k) ?? { n: 0, down: 0, up: 0, failed: 0 };
        const d = { n: v.n - m.n, down: v.down - m.down, up: v.up - m.up, failed: (v.failed ?? 0) - (m.failed ?? 0) };
        if (d.n || d.down || d.up) out[k] = d;
      }
      return out;
    },
    /** Sync requests sent from `from` (performance.now()) on, oldest first. */
    requestsFrom(from) {
      return [...log.values()].filter((r) => r.start >= from).sort((a, b) => a.start - b.start);
    }
  };
}

const sumKinds = (kinds, field, onlySync = true) => Object.entries(kinds).reduce((n, [k, v]) => (!onlySync || (k !== 'app files' && k !== 'api') ? n + v[field] : n), 0);

/**
 * The Chromium processes started under this one: the largest renderer's RSS, the sum of all their
 * PSS (proportional set size: shared pages counted once, so the sum means something), and CPU time
 * so far (renderers, and all of them; a process that has exited takes its share with it).
 */
function chromiumProcs() {
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.set(Number(pid), { ppid });
    } catch {}
  }
  const mine = (pid) => {
    for (let p = pid, hops = 0; p > 1 && hops < 10; p = procs.get(p)?.ppid ?? 0, hops++) if (p === process.pid) return pid !== process.pid;
    return false;
  };
  const out = { renderer: 0, all: 0, rendererCpuMs: 0, allCpuMs: 0 };
  for (const pid of procs.keys()) {
    if (!mine(pid)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chrom/i.test(cmd)) continue;
      const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      out.all += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
      const cpu = procCpuMs(`/proc/${pid}/stat`) || 0;
      out.allCpuMs += cpu;
      if (cmd.includes('--type=renderer')) {
        out.renderer = Math.max(out.renderer, rss);
        out.rendererCpuMs += cpu;
      }
    } catch {}
  }
  return out;
}

/** CPU ms so far of the renderers, all Chromium, and this process (the server and its store). */
function cpuNow() {
  const c = chromiumProcs();
  return { renderer: c.rendererCpuMs, chromium: c.allCpuMs, server: procCpuMs('/proc/self/stat') };
}
const cpuSince = (a) => {
  const b = cpuNow();
  return { renderer: b.renderer - a.renderer, chromium: b.chromium - a.chromium, server: b.server - a.server };
};

/** Peaks of the page's JS heap, Chromium's RSS and this process's RSS, sampled every 2 s; `reset()` starts a phase. */
function memoryMeter(cdp) {
  let peak;
  const reset = () => (peak = { heap: 0, heapTotal: 0, renderer: 0, chromium: 0, server: 0 });
  reset();
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
      peak.heap = Math.max(peak.heap, m.JSHeapUsedSize ?? 0);
      peak.heapTotal = Math.max(peak.heapTotal, m.JSHeapTotalSize ?? 0);
    } catch {}
    const rss = chromiumProcs();
    peak.renderer = Math.max(peak.renderer, rss.renderer);
    peak.chromium = Math.max(peak.chromium, rss.all);
    peak.server = Math.max(peak.server, process.memoryUsage.rss());
    busy = false;
  };
  const timer = setInterval(sample, 2000);
  return { sample, read: () => ({ ...peak }), reset, stop: () => clearInterval(timer) };
}

/** In the team page: the replica's document count (PouchDB's cached docCount in its meta-store) and the sync bar's state. */
async function readReplica(page) {
  return page.evaluate(async (name) => {
    const state = document.querySelector('[data-testid="sync-bar"]')?.getAttribute('data-state') ?? null;
    const dbs = await indexedDB.databases();
    if (!dbs.some((d) => d.name === name)) return { count: 0, state };
    const count = await new Promise((resolve, reject) => {
      const req = indexedDB.open(name);
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => db.close();
        if (!db.objectStoreNames.contains('meta-store')) return void (db.close(), resolve(0));
        const get = db.transaction('meta-store', 'readonly').objectStore('meta-store').get('meta-store');
        get.onsuccess = () => (db.close(), resolve(get.result?.docCount ?? 0));
        get.onerror = () => (db.close(), reject(get.error));
      };
    });
    return { count, state };
  }, IDB_NAME);
}

/** The winning revision the device holds for each id (null when it has none). */
async function localRevs(page, ids) {
  return page.evaluate(
    async ({ name, ids }) => {
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const store = db.transaction('document-store', 'readonly').objectStore('document-store');
      const revs = await Promise.all(ids.map((id) => new Promise((resolve) => {
        const g = store.get(id);
        g.onsuccess = () => resolve(g.result?.winningRev ?? null);
        g.onerror = () => resolve(null);
      })));
      db.close();
      return revs;
    },
    { name: IDB_NAME, ids }
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read()` every `every` ms until `done(value)`; resolves with the value and when it was first seen, or null at `deadline`. */
async function pollUntil(read, done, every, deadline, onValue = () => {}) {
  for (;;) {
    const value = await read().catch(() => null);
    const at = performance.now();
    if (value !== null) onValue(value, at);
    if (value !== null && done(value)) return { value, at };
    if (at > deadline) return null;
    await sleep(every);
  }
}

/** Self time of a CPU profile by function (with the built source at that place) and by file, largest first. */
function profileSummary(profile, staticDir, top = 14) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map();
  const byFile = new Map();
  const lines = new Map();
  const sourceAt = (url, line, col) => {
    try {
      const file = path.join(staticDir, new URL(url).pathname);
      if (!lines.has(file)) lines.set(file, fs.readFileSync(file, 'utf8').split('\n'));
      return lines.get(file)[line]?.slice(col, col + 70).replace(/\s+/g, ' ') ?? '';
    } catch {
      return '';
    }
  };
  for (const [id, us] of selfUs) {
    const cf = nodes.get(id).callFrame;
    const file = cf.url ? path.basename(new URL(cf.url).pathname) : cf.functionName || '(native)';
    const key = cf.url ? `${cf.functionName || '(anonymous)'} ${file}:${cf.lineNumber + 1}:${cf.columnNumber + 1}` : cf.functionName || '(native)';
    const f = byFn.get(key) ?? { us: 0, source: cf.url ? sourceAt(cf.url, cf.lineNumber, cf.columnNumber) : '' };
    f.us += us;
    byFn.set(key, f);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const share = (us) => `${((100 * us) / total).toFixed(1)} %`;
  console.log(`  by file: ${[...byFile].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([f, us]) => `${f} ${share(us)}`).join(', ')}`);
  for (const [key, f] of [...byFn].sort((a, b) => b[1].us - a[1].us).slice(0, top)) console.log(`  ${share(f.us).padStart(7)}  ${(f.us / 1e6).toFixed(1).padStart(6)} s  ${key}  ${f.source}`);
}

async function startProfile(cdp) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
  await cdp.send('Profiler.start');
}

// A second tab of the same profile: writes documents into the device's PouchDB, as a station tab would.
const WRITER = `
import PouchDB from 'pouchdb-browser';
window.replicaWriter = {
  async write(name, docs) {
    const db = new PouchDB(name, { auto_compaction: true });
    const res = await db.bulkDocs(docs);
    await db.close();
    return res.filter((r) => r.error).map((r) => r.id + ': ' + r.error);
  }
};
`;

// ---------------------------------------------------------------------------------------------
const MiB = (b) => (b / 1048576).toFixed(1);
const KiB = (b) => `${(b / 1024).toFixed(0)} KiB`;
const fmtS = (ms) => (ms === null ? '—' : ms >= 100_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`);
const versus = (ms, target) => (ms === null ? 'not reached' : ms <= target ? 'met' : 'MISSED');

async function main() {
  checkChromium();
  const bundle = serverBundle(NAME, { explicit: opts.bundle, rebuildStale: !opts.bundle });
  const dirs = tempDirs('lv-replica-');
  const problems = [];
  let server = null;
  let browser = null;
  const watchdogMs = (opts.maxMinutes + 15) * 60_000;
  const watchdog = setTimeout(() => exitWith(NAME, new Error(`timed out after ${watchdogMs / 60_000} minutes`)), watchdogMs);
  watchdog.unref();
  try {
    const core = await loadCore(dirs.root);
    server = await startBenchServer(bundle, { DATA_DIR: dirs.data, STATIC_DIR: opts.static, DEMO_TEAM_PASSWORD: TEAM_PASSWORD });
    const base = server.url;
    const store = server.store;
    const linkText = LINK ? `${LINK.downKbps} kbit/s down, ${LINK.upKbps} kbit/s up, ${LINK.latencyMs} ms latency (CDP throttling)` : 'no throttling (loopback)';
    console.log(`Lưu Vết commune replica: ${opts.docs.toLocaleString('en-US')} documents in ${DB}; ${linkText}; ${os.cpus().length} CPUs, Node ${process.version}`);

    // --- the commune's database, written straight into the store
    const now = Date.now();
    const gen = makeGenerator(core, now);
    const g0 = performance.now();
    const db = gen.commune(opts.docs);
    const docs = [...db.venues, ...db.entries, ...db.cases, ...db.followups, ...db.exposures];
    const genMs = performance.now() - g0;
    const v0 = performance.now();
    const invalid = validate(core, docs);
    const validateMs = performance.now() - v0;
    if (invalid.length) throw new Error(`${invalid.length} generated documents fail checkCommuneDoc, e.g. ${invalid.slice(0, 3).join('; ')}`);
    const revs = new Map();
    const s0 = performance.now();
    await bulkWrite(store, docs, revs);
    const seedMs = performance.now() - s0;
    const expected = await serverDocCount(store);
    const rawBytes = docs.reduce((n, d) => n + Buffer.byteLength(JSON.stringify(d)), 0);
    const withDeclaration = db.entries.filter((e) => e.declaration).length;
    console.log(
      `  generated ${docs.length.toLocaleString('en-US')} documents in ${fmtS(genMs)} (${db.venues.length} venues, ${db.entries.length.toLocaleString('en-US')} entries of which ${withDeclaration.toLocaleString('en-US')} with a declaration, ` +
        `${db.followups.length.toLocaleString('en-US')} follow-ups, ${db.cases.length} cases, ${db.exposures.length} exposure drafts; ${MiB(rawBytes)} MiB of JSON, ${Math.round(rawBytes / docs.length)} bytes a document)`
    );
    console.log(`  all valid by checkCommuneDoc (${fmtS(validateMs)}); written to the store in ${fmtS(seedMs)} (${Math.round(docs.length / (seedMs / 1000))} docs/s); the database holds ${expected.toLocaleString('en-US')} (with the demo venues)`);
    console.log(`  case for the case page: ${db.hook.caseId}, a visit to ${db.hook.venue} with ${db.hook.contacts} contacts (findContacts)`);

    // --- the team device
    const meter = socketMeter(server.app.server);
    browser = await launchChromium();
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`team page error: ${err.message}`));
    const cdp = await context.newCDPSession(page);
    // Request bodies in the events (for the bytes up), but no response bodies kept for DevTools: the
    // renderer would hold up to 100 MB of them, and its memory is one of the figures.
    await cdp.send('Network.enable', { maxPostDataSize: 64 * 1024 * 1024, maxTotalBufferSize: 0, maxResourceBufferSize: 0 });
    await cdp.send('Performance.enable');
    if (LINK)
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: LINK.latencyMs,
        downloadThroughput: (LINK.downKbps * 1000) / 8,
        uploadThroughput: (LINK.upKbps * 1000) / 8
      });
    const net = networkMeter(cdp);
    const mem = memoryMeter(cdp);
    const deadline = () => performance.now() + opts.maxMinutes * 60_000;

    const l0 = performance.now();
    await page.goto(`${base}/team`);
    await page.locator('#auth-phone').waitFor({ timeout: 120_000 });
    const appMs = performance.now() - l0;
    const appNet = net.since(new Map());
    // The mark of a device that has synced before: the page then starts PouchDB's sync at once, as before the first load.
    if (opts.oldSync) await page.evaluate((db) => localStorage.setItem(`lv.pushedSeq.${db}`, '0'), DB);

    // First sync: from the login to every document on the device.
    mem.reset();
    const mark1 = net.mark();
    const cpu1 = cpuNow();
    const sock1 = meter();
    await page.fill('#auth-phone', server.demoTeam.phone);
    await page.fill('#auth-password', TEAM_PASSWORD);
    if (opts.profile) await startProfile(cdp);
    const t1 = performance.now();
    await page.click('[data-testid="auth-form"] button[type="submit"]');
    let firstDocAt = null;
    let lastPrint = t1;
    const first = await pollUntil(
      () => readReplica(page),
      (v) => v.count >= expected,
      500,
      deadline(),
      (v, at) => {
        if (v.count > 0 && firstDocAt === null) firstDocAt = at;
        if (at - lastPrint > 60_000) {
          lastPrint = at;
          console.log(`  … ${fmtS(at - t1)}: ${v.count.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} on the device`);
        }
      }
    );
    const firstMs = first ? first.at - t1 : null;
    const firstCpu = cpuSince(cpu1);
    const firstProfile = opts.profile ? (await cdp.send('Profiler.stop')).profile : null;
    if (!first) problems.push(`first sync: not every document on the device after ${opts.maxMinutes} minutes`);
    // The sync bar: up to date once both directions are idle (the push side echoes the pulled docs back to _revs_diff).
    let barState = null;
    const bar = first ? await pollUntil(() => readReplica(page), (v) => v.state === 'done', 250, performance.now() + 2 * 60_000, (v) => (barState = v.state)) : null;
    if (first && !bar) console.log(`  the sync bar still says '${barState}' 2 minutes after the last document came down`);
    const barMs = bar ? bar.at - t1 : null;
    await mem.sample();
    const firstNet = net.since(mark1);
    const firstSock = { read: meter().read - sock1.read, written: meter().written - sock1.written };
    const firstMem = mem.read();
    const finalCount = (await readReplica(page)).count;

    // The day's delta, written on the server, pulled by the live sync.
    await sleep(3000);
    mem.reset();
    const day = gen.serverDay(db, opts.delta, revs, Date.now());
    const deltaDocs = [...day.edits, ...day.added];
    const badDelta = validate(core, deltaDocs);
    if (badDelta.length) throw new Error(`delta documents fail checkCommuneDoc: ${badDelta.slice(0, 3).join('; ')}`);
    const before = (await readReplica(page)).count;
    const mark2 = net.mark();
    const cpu2 = cpuNow();
    const sock2 = meter();
    if (opts.profile) await startProfile(cdp);
    const t2 = performance.now();
    await bulkWrite(store, deltaDocs, revs, 500);
    const written2 = performance.now();
    const deltaCount = await serverDocCount(store);
    const editIds = day.edits.map((d) => d._id);
    const deltaSeen = [];
    const delta = await pollUntil(
      async () => {
        const v = await readReplica(page);
        if (v.count < deltaCount) return { ...v, edits: 0 };
        const got = await localRevs(page, editIds);
        return { ...v, edits: got.filter((rev, i) => rev === revs.get(editIds[i])).length };
      },
      (v) => v.count >= deltaCount && v.edits === editIds.length,
      250,
      performance.now() + 10 * 60_000,
      (v, at) => {
        if (!deltaSeen.length || deltaSeen.at(-1).count !== v.count || deltaSeen.at(-1).edits !== v.edits) deltaSeen.push({ at, count: v.count, edits: v.edits });
      }
    );
    const deltaMs = delta ? delta.at - written2 : null;
    const deltaCpu = cpuSince(cpu2);
    const deltaProfile = opts.profile ? (await cdp.send('Profiler.stop')).profile : null;
    if (!delta) problems.push(`delta: the device did not get all ${deltaDocs.length} documents within 10 minutes`);
    await mem.sample();
    const deltaNet = net.since(mark2);
    const deltaLog = net.requestsFrom(t2 - 30_000).filter((r) => r.end === null || r.end >= t2);
    const deltaSock = { read: meter().read - sock2.read, written: meter().written - sock2.written };
    const deltaMem = mem.read();

    // Up: documents written on the device, pushed by the live sync.
    await sleep(3000);
    const upDocs = gen.deviceWrites(db, opts.up, Date.now());
    const badUp = validate(core, upDocs);
    if (badUp.length) throw new Error(`device documents fail checkCommuneDoc: ${badUp.slice(0, 3).join('; ')}`);
    const writerJs = await bundleCode(WRITER, 'bench-replica-writer.ts', { minify: true });
    const writer = await context.newPage();
    writer.on('pageerror', (err) => console.error(`writer tab error: ${err.message}`));
    await writer.route('**/__bench/**', (route) =>
      route.fulfill(route.request().url().endsWith('.js') ? { contentType: 'text/javascript', body: writerJs } : { contentType: 'text/html', body: pageHtml('/__bench/writer.js') })
    );
    await writer.goto(`${base}/__bench/writer.html`);
    await writer.waitForFunction(() => 'replicaWriter' in window);
    const mark3 = net.mark();
    const sock3 = meter();
    const t3 = performance.now();
    const writeErrors = await writer.evaluate(({ name, docs }) => window.replicaWriter.write(name, docs), { name: DB, docs: upDocs });
    const written3 = performance.now();
    if (writeErrors.length) problems.push(`the device refused its own writes: ${writeErrors.slice(0, 3).join('; ')}`);
    const upIds = upDocs.map((d) => d._id);
    const up = await pollUntil(() => serverHas(store, upIds), (n) => n >= upIds.length, 100, performance.now() + 10 * 60_000);
    const upMs = up ? up.at - written3 : null;
    if (!up) problems.push(`up: the server did not get all ${upIds.length} documents within 10 minutes`);
    await sleep(1500); // the checkpoint after the push
    const upNet = net.since(mark3);
    const upSock = { read: meter().read - sock3.read, written: meter().written - sock3.written };
    await writer.close();

    // The case page (not built yet): performance.measure('lv-contacts') from opening the case to its contacts listed.
    const caseUrl = `/team/case?c=${COMMUNE}&id=${db.hook.caseId}`;
    await page.evaluate((href) => {
      const a = document.createElement('a');
      a.href = href;
      document.body.append(a);
      a.click();
    }, caseUrl);
    const measure = await pollUntil(
      () => page.evaluate(() => performance.getEntriesByName('lv-contacts', 'measure').at(-1)?.duration ?? null).catch(() => null),
      (ms) => ms !== null,
      250,
      performance.now() + 20_000
    ).catch(() => null);
    const contactsMs = measure?.value ?? null;
    const caseState = contactsMs === null ? 'n/a (page not built)' : `${contactsMs.toFixed(0)} ms`;
    mem.stop();

    // --- report
    const chromiumVersion = browser.version();
    console.log(`\nTeam device: Chromium ${chromiumVersion}, ${linkText}; the app (/team, login form) loaded in ${fmtS(appMs)}, ${KiB(sumKinds(appNet, 'down', false))} down`);
    printFigures(
      [
        [`first sync: all documents on the device${opts.oldSync ? ' (--old-sync)' : ''}`, fmtS(firstMs), '≤ 2 min', versus(firstMs, TARGETS.firstSyncMs)],
        ['  first document on the device', fmtS(firstDocAt === null ? null : firstDocAt - t1)],
        ['  sync bar says up to date', fmtS(barMs)],
        [`day's delta: ${deltaDocs.length} docs on the device`, fmtS(deltaMs), '≤ 10 s', versus(deltaMs, TARGETS.deltaMs)],
        ['  (writing them to the store took)', fmtS(written2 - t2)],
        [`up: ${upDocs.length} docs from the device on the server`, fmtS(upMs)],
        ['  (writing them on the device took)', fmtS(written3 - t3)],
        ["case page: 'lv-contacts' measure", caseState, '≤ 300 ms', contactsMs === null ? 'n/a' : versus(contactsMs, TARGETS.contactsMs)]
      ],
      ['measured', 'target', '']
    );

    console.log('\nTraffic (sync requests; down = encodedDataLength, up = request bodies; socket = bytes the server read / wrote, headers included)');
    const traffic = (label, kinds, sock) => [label, sumKinds(kinds, 'n'), KiB(sumKinds(kinds, 'down')), KiB(sumKinds(kinds, 'up')), KiB(sock.written), KiB(sock.read)];
    printFigures([traffic('first sync', firstNet, firstSock), traffic("day's delta", deltaNet, deltaSock), traffic('up', upNet, upSock)], ['requests', 'down', 'up', 'socket down', 'socket up']);
    console.log('\nFirst sync by request kind');
    printFigures(
      Object.entries(firstNet)
        .sort((a, b) => b[1].down - a[1].down)
        .map(([k, v]) => [k, v.n, KiB(v.down), KiB(v.up), v.failed ? `${v.failed} failed` : '']),
      ['requests', 'down', 'up', '']
    );
    console.log("\nDay's delta by request kind");
    printFigures(
      Object.entries(deltaNet)
        .sort((a, b) => b[1].down - a[1].down)
        .map(([k, v]) => [k, v.n, KiB(v.down), KiB(v.up), v.failed ? `${v.failed} failed` : '']),
      ['requests', 'down', 'up', '']
    );
    console.log(`\nDay's delta, request by request (s from the first write to the store; the store had them all at ${fmtS(written2 - t2)}; the device at ${fmtS(deltaMs === null ? null : deltaMs + written2 - t2)})`);
    printFigures(
      deltaLog.map((r) => [`${r.kind}${r.feed ? ` (${r.feed})` : ''}`, ((r.start - t2) / 1000).toFixed(2), r.end === null ? 'open' : ((r.end - t2) / 1000).toFixed(2), KiB(r.down), KiB(r.up)]),
      ['sent', 'done', 'down', 'up']
    );
    console.log(`  on the device: ${deltaSeen.map((v) => `${((v.at - t2) / 1000).toFixed(1)} s ${v.count - before} new${v.edits ? ` + ${v.edits} edits` : ''}`).join(', ')}`);
    console.log('\nMemory peaks (sampled every 2 s)');
    printFigures(
      [
        ['page JS heap used', `${MiB(firstMem.heap)} MiB`, `${MiB(deltaMem.heap)} MiB`],
        ['page JS heap total', `${MiB(firstMem.heapTotal)} MiB`, `${MiB(deltaMem.heapTotal)} MiB`],
        ['renderer RSS (largest)', `${MiB(firstMem.renderer)} MiB`, `${MiB(deltaMem.renderer)} MiB`],
        ['all Chromium processes PSS', `${MiB(firstMem.chromium)} MiB`, `${MiB(deltaMem.chromium)} MiB`],
        ['this process (server + store) RSS', `${MiB(firstMem.server)} MiB`, `${MiB(deltaMem.server)} MiB`]
      ],
      ['first sync', "day's delta"]
    );
    console.log('\nCPU time (s; 2 cores = 2 s a second)');
    const cpuRow = (label, wallMs, c) => [label, fmtS(wallMs), (c.renderer / 1000).toFixed(1), (c.chromium / 1000).toFixed(1), (c.server / 1000).toFixed(1)];
    printFigures([cpuRow('first sync', firstMs, firstCpu), cpuRow("day's delta", deltaMs, deltaCpu)], ['wall', 'renderer', 'all Chromium', 'server']);
    if (firstProfile) {
      console.log('\nWhere the team page spends its main thread in the first sync (self time)');
      profileSummary(firstProfile, opts.static);
      console.log("\n… and in the day's delta");
      profileSummary(deltaProfile, opts.static);
    }
    if (finalCount !== expected) problems.push(`the device holds ${finalCount} documents, the server ${expected}`);
    for (const p of problems) console.log(`\nCHECK FAILED: ${p}`);

    const kinds = (k) => Object.fromEntries(Object.entries(k).map(([name, v]) => [name, v]));
    console.log('');
    printResult({
      docs: docs.length,
      serverDocs: expected,
      syncPath: opts.oldSync ? 'replicator (--old-sync)' : 'first load, then replicator',
      link: LINK,
      chromium: chromiumVersion,
      seed: { generateMs: round(genMs, 0), validateMs: round(validateMs, 0), writeMs: round(seedMs, 0), jsonBytes: rawBytes, entries: db.entries.length, followups: db.followups.length, cases: db.cases.length, venues: db.venues.length, exposures: db.exposures.length },
      appLoad: { ms: round(appMs, 0), downBytes: sumKinds(appNet, 'down', false) },
      firstSync: {
        ms: round(firstMs, 0),
        targetMs: TARGETS.firstSyncMs,
        firstDocMs: round(firstDocAt === null ? null : firstDocAt - t1, 0),
        syncBarDoneMs: round(barMs, 0),
        requests: sumKinds(firstNet, 'n'),
        downBytes: sumKinds(firstNet, 'down'),
        upBytes: sumKinds(firstNet, 'up'),
        socketDownBytes: firstSock.written,
        socketUpBytes: firstSock.read,
        byKind: kinds(firstNet),
        peakHeapBytes: firstMem.heap,
        peakRendererRssBytes: firstMem.renderer,
        peakChromiumPssBytes: firstMem.chromium,
        peakServerRssBytes: firstMem.server,
        cpuMs: { renderer: round(firstCpu.renderer, 0), chromium: round(firstCpu.chromium, 0), server: round(firstCpu.server, 0) }
      },
      delta: {
        docs: deltaDocs.length,
        edits: day.edits.length,
        ms: round(deltaMs, 0),
        targetMs: TARGETS.deltaMs,
        storeWriteMs: round(written2 - t2, 0),
        requests: sumKinds(deltaNet, 'n'),
        downBytes: sumKinds(deltaNet, 'down'),
        upBytes: sumKinds(deltaNet, 'up'),
        socketDownBytes: deltaSock.written,
        socketUpBytes: deltaSock.read,
        byKind: kinds(deltaNet),
        peakHeapBytes: deltaMem.heap,
        cpuMs: { renderer: round(deltaCpu.renderer, 0), chromium: round(deltaCpu.chromium, 0), server: round(deltaCpu.server, 0) }
      },
      up: { docs: upDocs.length, ms: round(upMs, 0), deviceWriteMs: round(written3 - t3, 0), requests: sumKinds(upNet, 'n'), downBytes: sumKinds(upNet, 'down'), upBytes: sumKinds(upNet, 'up'), socketUpBytes: upSock.read, byKind: kinds(upNet) },
      casePage: { caseId: db.hook.caseId, expectedContacts: db.hook.contacts, contactsMs: round(contactsMs, 1), targetMs: TARGETS.contactsMs, state: contactsMs === null ? 'not built' : 'measured' },
      problems
    });
    return problems;
  } finally {
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    dirs.remove();
  }
}

main().then(
  (problems) => exitWith(NAME, problems),
  (err) => exitWith(NAME, err)
);
