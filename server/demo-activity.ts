/**
 * Three weeks of made-up activity in the communes of Huyện Đức Thọ, so that an official's screens
 * (statistics, low-activity list, reports) have numbers on a newcomer's machine: venues registered
 * over the weeks, station entries, checkpoint arrivals, one F0 case with its contacts, and the
 * anonymous check-in tallies of phones. Some communes register many venues and scan little, as the
 * district documents this is modelled on complain of ("Quang Vĩnh, Tùng Châu, Trường Sơn, Yên Hồ").
 *
 * Demo data only (DEMO=1, the default of `npm start`; DEMO_ACTIVITY=0 leaves it out). Seeded once:
 * a marker document in lv_reports says it was done, so a restart days later adds nothing. The
 * people are invented (names from common Vietnamese names, numbers of no one) and go the way of
 * real entries: retention deletes them after 21 days; the aggregates keep their counts.
 *
 * Thị trấn Đức Thọ (18070), the commune of the demo team and of the browser tests, gets tallies of
 * past days only and no entries: its lists of entries and contacts stay the tests' own.
 */
import { entryDocId, caseDocId, followupDocId, type CaseRecord, type FollowupRecord, type StationEntryRecord, type VenueRecord } from '../src/lib/core/documents';
import { emptyTallyDoc, type TallyDoc } from '../src/lib/core/citizen/tally';
import { DAY, dayKey, fromVietnamLocal } from '../src/lib/core/time';
import { signVenueToken } from '../src/lib/core/venue/venue-signing';
import { venueDocId, type VenueType } from '../src/lib/core/venue/venue';
import { scheduleDocId, type ScheduleDoc } from '../src/lib/core/reports/period';
import type { Keyring } from './keys';
import { DB, getOrNull, type Store } from './store/couch';

const MARKER_ID = 'demo-activity';
// Twenty days ending yesterday: all of it younger than the 21 days of retention, which runs at start.
const DAYS = 20;

/** Report days of the demo units: Thursday for Hà Tĩnh and Đức Thọ, Friday for Quảng Nam (from their documents). */
const DEMO_SCHEDULES: { code: string; weekday: ScheduleDoc['weekday']; monthDay: number }[] = [
  { code: '42', weekday: 4, monthDay: 5 },
  { code: '440', weekday: 4, monthDay: 5 },
  { code: '49', weekday: 5, monthDay: 5 }
];

interface DemoCommune {
  code: string;
  place: string;
  /** venues registered */
  venues: number;
  /** of which scanned at a station on a typical day */
  scanning: number;
  /** entries per scanning venue per day */
  perDay: number;
  /** phones' tallied check-ins per day over the commune */
  checkins: number;
}

const COMMUNES: DemoCommune[] = [
  { code: '18073', place: 'Quang Vĩnh', venues: 14, scanning: 1, perDay: 3, checkins: 2 },
  { code: '18076', place: 'Tùng Châu', venues: 12, scanning: 1, perDay: 2, checkins: 1 },
  { code: '18079', place: 'Trường Sơn', venues: 11, scanning: 2, perDay: 3, checkins: 3 },
  { code: '18082', place: 'Yên Hồ', venues: 10, scanning: 1, perDay: 2, checkins: 2 },
  { code: '18085', place: 'Bùi La Nhân', venues: 6, scanning: 5, perDay: 14, checkins: 25 },
  { code: '18088', place: 'Thanh Bình Thịnh', venues: 8, scanning: 6, perDay: 12, checkins: 30 },
  { code: '18091', place: 'Đức Đồng', venues: 5, scanning: 4, perDay: 10, checkins: 18 },
  { code: '18094', place: 'Đức Lạng', venues: 7, scanning: 5, perDay: 11, checkins: 22 },
  { code: '18097', place: 'Tân Hương', venues: 4, scanning: 3, perDay: 9, checkins: 12 }
];

const PLACES: { type: VenueType; name: (place: string, n: number) => string }[] = [
  { type: 'market', name: (p) => `Chợ ${p}` },
  { type: 'health', name: (p) => `Trạm Y tế xã ${p}` },
  { type: 'office', name: (p) => `UBND xã ${p}` },
  { type: 'school', name: (p) => `Trường Tiểu học ${p}` },
  { type: 'school', name: (p) => `Trường THCS ${p}` },
  { type: 'shop', name: (p, n) => `Cửa hàng tạp hóa ${p} ${n}` },
  { type: 'food', name: (p, n) => `Quán ăn ${p} ${n}` },
  { type: 'office', name: (p) => `Bưu điện văn hóa xã ${p}` },
  { type: 'shop', name: (p, n) => `Hiệu thuốc ${p} ${n}` },
  { type: 'food', name: (p, n) => `Quán cà phê ${p} ${n}` }
];

const FAMILY = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Phan', 'Võ', 'Đặng', 'Bùi', 'Đỗ'];
const MIDDLE = ['Văn', 'Thị', 'Đức', 'Minh', 'Thu', 'Quang', 'Hồng', 'Ngọc'];
const GIVEN = ['An', 'Bình', 'Chi', 'Dũng', 'Hà', 'Hải', 'Hoa', 'Hùng', 'Lan', 'Long', 'Mai', 'Nam', 'Phương', 'Quân', 'Tâm', 'Thảo', 'Trang', 'Tuấn', 'Vân', 'Yến'];

/** A small deterministic generator: the same demo on every machine, no Math.random. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]! };
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** A 12-letter venue id of the app's alphabet, fixed by commune and number. */
function demoVenueId(commune: string, n: number): string {
  let x = Number(commune) * 100 + n;
  let tail = '';
  for (let i = 0; i < 7; i++) {
    tail = BASE32[x % 32] + tail;
    x = Math.floor(x / 32);
  }
  return `demoa${tail}`;
}

export interface DemoActivityResult {
  venues: number;
  entries: number;
  tallies: number;
}

/** The report days of the demo units, written when missing (an admin may have changed them since). */
export async function seedDemoSchedules(store: Store): Promise<void> {
  const db = store.db<ScheduleDoc>(DB.directory);
  for (const s of DEMO_SCHEDULES) {
    if (await getOrNull(db, scheduleDocId(s.code))) continue;
    await db.insert({ _id: scheduleDocId(s.code), type: 'schedule', schema: 1, code: s.code, weekday: s.weekday, monthDay: s.monthDay });
  }
}

/**
 * Seeds the activity of the last twenty days, ending yesterday (today stays empty: what happens
 * today is what a user does). Returns null when it was seeded before.
 */
export async function seedDemoActivity(store: Store, keyring: Keyring, now = Date.now()): Promise<DemoActivityResult | null> {
  const reports = store.db<{ _id: string; type: string; at?: string }>(DB.reports);
  if (await getOrNull(reports, MARKER_ID)) return null;
  const rng = generator(20211126);
  const today = dayKey(now);
  const days = Array.from({ length: DAYS }, (_, i) => dayKey(now - (DAYS - i) * DAY));
  const result: DemoActivityResult = { venues: 0, entries: 0, tallies: 0 };
  const tallies: TallyDoc[] = [];
  const person = () => {
    const name = `${rng.pick(FAMILY)} ${rng.pick(MIDDLE)} ${rng.pick(GIVEN)}`;
    return { source: 'manual' as const, name, phone: `09${String(10_000_000 + rng.int(89_999_999))}`, birthYear: 1950 + rng.int(55) };
  };
  const at = (day: string, fromHour: number, toHour: number) => fromVietnamLocal(day, `${String(fromHour + rng.int(toHour - fromHour)).padStart(2, '0')}:${String(rng.int(60)).padStart(2, '0')}`)!;

  for (const commune of COMMUNES) {
    const dbName = await store.ensureCommuneDb(commune.code);
    const docs: (VenueRecord | StationEntryRecord | CaseRecord | FollowupRecord)[] = [];
    const venues: VenueRecord[] = [];
    for (let n = 0; n < commune.venues; n++) {
      const kind = PLACES[n % PLACES.length]!;
      const venueId = demoVenueId(commune.code, n);
      // Most venues registered in the first week (the campaign's start), the rest over the others.
      const createdDay = n < Math.ceil(commune.venues * 0.6) ? days[rng.int(5)]! : days[5 + rng.int(DAYS - 6)]!;
      const name = kind.name(commune.place, Math.floor(n / PLACES.length) + 1);
      const base = { venueId, name, communeCode: commune.code, venueType: kind.type };
      const venue: VenueRecord = {
        _id: venueDocId(venueId),
        type: 'venue',
        schema: 1,
        ...base,
        address: `Thôn ${1 + (n % 6)}, xã ${commune.place}`,
        status: 'active',
        demo: true,
        createdAt: new Date(at(createdDay, 7, 17)).toISOString(),
        token: signVenueToken(base, keyring.active),
        keyId: keyring.active.id,
        signedAt: new Date(now).toISOString()
      };
      venues.push(venue);
      docs.push(venue);
    }
    // A checkpoint at Yên Hồ, on the road in from the neighbouring districts.
    if (commune.code === '18082') {
      const venueId = demoVenueId(commune.code, 99);
      const base = { venueId, name: 'Chốt kiểm dịch cầu Yên Hồ', communeCode: commune.code, venueType: 'checkpoint' as const };
      const checkpoint: VenueRecord = {
        _id: venueDocId(venueId), type: 'venue', schema: 1, ...base, address: 'Quốc lộ 8A, xã Yên Hồ', status: 'active', demo: true,
        createdAt: new Date(at(days[0]!, 7, 9)).toISOString(), token: signVenueToken(base, keyring.active), keyId: keyring.active.id, signedAt: new Date(now).toISOString()
      };
      docs.push(checkpoint);
      const origins: { unit: string; zone: 1 | 2 | 3 | 4 }[] = [{ unit: '18070', zone: 4 }, { unit: '18076', zone: 3 }, { unit: '42', zone: 2 }, { unit: '49', zone: 1 }];
      for (const day of days) {
        for (let k = 0; k < 4 + rng.int(6); k++) {
          const origin = rng.pick(origins);
          const time = at(day, 6, 20);
          docs.push({
            _id: entryDocId(venueId, time, `d${result.entries++}`), type: 'entry', schema: 1, venueId, communeCode: commune.code, time, direction: 'in', person: person(), deviceId: 'demo-checkpoint',
            declaration: { checkedAt: day, declaredOn: day, fromUnit: origin.unit, fromZone: origin.zone, symptoms: [] }
          });
        }
      }
    }
    // Station entries: the scanning venues, on days after they were registered.
    const entryTimes = new Map<string, { id: string; time: number; person: ReturnType<typeof person> }[]>();
    for (const venue of venues.slice(0, commune.scanning)) {
      const created = dayKey(Date.parse(venue.createdAt!));
      for (const day of days) {
        if (day <= created) continue;
        const count = Math.max(0, commune.perDay - 2 + rng.int(5));
        for (let k = 0; k < count; k++) {
          const time = at(day, 7, 21);
          const p = person();
          const id = entryDocId(venue.venueId, time, `d${result.entries++}`);
          docs.push({ _id: id, type: 'entry', schema: 1, venueId: venue.venueId, communeCode: commune.code, time, direction: 'in', person: p, deviceId: 'demo-station' });
          const list = entryTimes.get(venue.venueId) ?? [];
          list.push({ id, time, person: p });
          entryTimes.set(venue.venueId, list);
        }
      }
    }
    // Trường Sơn: an F0 case confirmed ten days ago, traced to its market, with three contacts.
    if (commune.code === '18079') {
      const market = venues[0]!;
      const confirmedOn = days[DAYS - 10]!;
      const visitDay = days[DAYS - 12]!;
      const from = fromVietnamLocal(visitDay, '07:00')!;
      const caseId = 'demoactcase00001';
      const iso = new Date(fromVietnamLocal(confirmedOn, '15:00')!).toISOString();
      docs.push({
        _id: caseDocId(caseId), type: 'case', schema: 1, caseId, communeCode: commune.code, person: { source: 'manual', name: 'Lê Văn Ca', phone: '0900000079', birthYear: 1978 },
        confirmedOn, status: 'open', visits: [{ venueId: market.venueId, communeCode: commune.code, place: market.name, from, to: from + 2 * 3600_000, source: 'typed' }], notes: 'Ca bệnh mẫu (demo).',
        createdAt: iso, updatedAt: iso
      });
      const contacts = (entryTimes.get(market.venueId) ?? []).filter((e) => dayKey(e.time) === visitDay).slice(0, 3);
      contacts.forEach((e, i) => {
        docs.push({
          _id: followupDocId(e.id, caseId), type: 'followup', schema: 1, communeCode: commune.code, kind: 'contact', caseId, entryId: e.id, person: e.person, at: e.time,
          test: i === 0 ? 'negative' : 'pending', state: i === 0 ? 'closed' : 'open', updatedAt: iso
        });
      });
    }
    await writeAll(store, dbName, docs);
    result.venues += venues.length;

    // Phones' tallies: spread over the venues in use, mostly the scanning ones.
    for (const day of days) {
      const doc = emptyTallyDoc(commune.code, day);
      const open = venues.filter((v) => dayKey(Date.parse(v.createdAt!)) <= day);
      for (let k = 0; k < commune.checkins; k++) {
        // Where few scan, phones check in at the same few places: the other posters hang unused.
        const anywhere = commune.checkins >= 10 && k % 3 === 0;
        const venue = open[anywhere ? rng.int(open.length) : rng.int(Math.min(open.length, Math.max(1, commune.scanning)))];
        if (venue) doc.venues[venue.venueId] = (doc.venues[venue.venueId] ?? 0) + 1;
      }
      doc.reports = Math.ceil(commune.checkins / 3);
      if (Object.keys(doc.venues).length) tallies.push(doc);
    }
  }
  // The demo team's commune: its demo venues (seeded at the first start, server/demo.ts) date from
  // the first day of the activity, so that no week shows check-ins at venues not yet registered;
  // then phones' check-ins there on past days, nothing today.
  const town = store.db<VenueRecord>(await store.ensureCommuneDb('18070'));
  for (const venueId of ['demochoducth', 'demothcsduct', 'demotramyte2', 'democafesong', 'demoubndttdt', 'demoxekhach3']) {
    const venue = await getOrNull(town, venueDocId(venueId));
    const first = new Date(fromVietnamLocal(days[0]!, '07:00')!).toISOString();
    if (venue && (!venue.createdAt || venue.createdAt > first)) await town.insert({ ...venue, createdAt: first });
  }
  const towns = ['demochoducth', 'democafesong', 'demotramyte2', 'demothcsduct'];
  for (const day of days.slice(-14)) {
    if (day === today) continue;
    const doc = emptyTallyDoc('18070', day);
    for (const venueId of towns.slice(0, 1 + rng.int(towns.length))) doc.venues[venueId] = 1 + rng.int(12);
    doc.reports = 3;
    tallies.push(doc);
  }
  // Tallies merge into what phones may already have sent for those days.
  const existing = await store.db<TallyDoc>(DB.reports).fetch({ keys: tallies.map((t) => t._id) }, { include_docs: true });
  const stored = new Map<string, TallyDoc>();
  for (const row of existing.rows) if ('doc' in row && row.doc) stored.set(row.id, row.doc as TallyDoc);
  const merged = tallies.map((t) => {
    const old = stored.get(t._id);
    if (!old) return t;
    const venues = { ...old.venues };
    for (const [id, n] of Object.entries(t.venues)) venues[id] = (venues[id] ?? 0) + n;
    return { ...old, venues, reports: old.reports + t.reports };
  });
  await writeAll(store, DB.reports, merged);
  result.tallies = merged.length;
  await reports.insert({ _id: MARKER_ID, type: 'demo', at: new Date(now).toISOString() });
  return result;
}

async function writeAll(store: Store, dbName: string, docs: readonly { _id: string }[]): Promise<void> {
  const db = store.db<{ _id: string }>(dbName);
  for (let i = 0; i < docs.length; i += 500) {
    const results = await db.bulk({ docs: docs.slice(i, i + 500) as { _id: string }[] });
    const failed = results.filter((r) => r.error && r.error !== 'conflict');
    if (failed.length) throw new Error(`demo activity: ${failed.length} documents not written (${failed[0]!.error})`);
  }
}
