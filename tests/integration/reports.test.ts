/**
 * The officials' statistics on a real server and store: commune documents and tallies written to
 * the store, the aggregates job run, `/api/reports/stats` read as a district admin, a province admin,
 * a commune team; who is refused; malformed questions; and no personal data in any answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { DB } from '../../server/store/couch';
import { createUser } from '../../server/users';
import { runAggregatesNow } from '../../server/reports/aggregates';
import { emptyTallyDoc, tallyDocId, type TallyDoc } from '../../src/lib/core/citizen/tally';
import { DAY, dayKey, fromVietnamLocal } from '../../src/lib/core/time';
import { addDays } from '../../src/lib/core/reports/period';
import type { StatsAnswer } from '../../src/lib/core/reports/figures';
import { entryDocId } from '../../src/lib/core/documents';
import { login, register } from './sync-helpers';

const PASSWORD = 'mat-khau-dai';
const SHOP = 'shopaaaaaaaa';
const MARKET = 'marketaaaaaa';
const CHECKPOINT = 'checkaaaaaaa';
const FARM = 'farmaaaaaaaa';
const SECRET_NAME = 'Nguyễn Văn Bímật';
const SECRET_PHONE = '0987654321';
const SECRET_ID = '042098765432';

let dataDir: string;
let server: RunningServer;
const cookies: Record<string, string> = {};
const today = dayKey(Date.now());
const yesterday = addDays(today, -1);
const from = addDays(today, -3);
const at = (day: string, time: string) => fromVietnamLocal(day, time)!;
const entryIds: string[] = [];

async function write(db: string, docs: object[]): Promise<void> {
  const res = await server.store.request('POST', `${db}/_bulk_docs`, { body: { docs } });
  expect(res.status).toBeLessThan(300);
  expect((res.body as { error?: string }[]).filter((r) => r.error)).toEqual([]);
}

const venue = (venueId: string, commune: string, venueType = 'shop') => ({
  _id: `venue:${venueId}`,
  type: 'venue',
  schema: 1,
  venueId,
  name: `Địa điểm ${venueId}`,
  venueType,
  communeCode: commune,
  address: 'Thôn 1',
  status: 'active',
  createdAt: new Date(Date.now() - 10 * DAY).toISOString()
});

function entry(venueId: string, commune: string, time: number, declaration?: object) {
  const _id = entryDocId(venueId, time, `r${entryIds.length}`);
  entryIds.push(_id);
  return {
    _id,
    type: 'entry',
    schema: 1,
    venueId,
    communeCode: commune,
    time,
    direction: 'in',
    person: { source: 'cccd', name: SECRET_NAME, phone: SECRET_PHONE, idNumber: SECRET_ID },
    deviceId: 'station-1',
    ...(declaration ? { declaration } : {})
  };
}

async function stats(who: string, query: string): Promise<{ status: number; text: string; json: StatsAnswer & { error?: string; reason?: string } }> {
  const res = await fetch(`${server.url}/api/reports/stats${query}`, { headers: cookies[who] ? { cookie: cookies[who] } : {} });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-reports-'));
  server = await startServer(
    await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), DEMO_ACTIVITY: '0', SESSION_SECRET: 'test-secret-reports-0123456789abcdef' })
  );
  const accounts: [string, Parameters<typeof createUser>[1]][] = [
    ['district', { phone: '0912100440', password: PASSWORD, role: 'admin', unit: '440' }],
    ['province', { phone: '0912100042', password: PASSWORD, role: 'admin', unit: '42' }],
    ['team', { phone: '0912100076', password: PASSWORD, role: 'team', communes: ['18076'] }]
  ];
  for (const [who, input] of accounts) {
    await createUser(server.store, input);
    cookies[who] = (await login(server.url, input.phone, PASSWORD)).cookie;
  }
  cookies.owner = (await register(server.url, '0912100999')).cookie;

  for (const c of ['18073', '18076']) await server.store.ensureCommuneDb(c);
  await write('lv_c_18073', [
    venue(SHOP, '18073'),
    venue(MARKET, '18073'),
    venue(CHECKPOINT, '18073', 'checkpoint'),
    entry(SHOP, '18073', at(yesterday, '10:00')),
    entry(SHOP, '18073', at(yesterday, '23:59')),
    entry(CHECKPOINT, '18073', at(yesterday, '07:00'), { fromZone: 4, fromUnit: '79' }),
    entry(CHECKPOINT, '18073', at(yesterday, '07:05'), { fromZone: 1, fromUnit: '42' })
  ]);
  await write('lv_c_18076', [venue(FARM, '18076')]);
  await write(DB.reports, [{ ...emptyTallyDoc('18073', yesterday), venues: { [MARKET]: 4 }, reports: 2 }]);
  await runAggregatesNow();
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const row = (answer: StatsAnswer, code: string) => answer.rows.find((r) => r.code === code)!;

describe('GET /api/reports/stats', () => {
  it("gives a district admin its communes' figures, low ones first, and totals that add up", async () => {
    const { status, json } = await stats('district', `?unit=440&from=${from}&to=${yesterday}`);
    expect(status).toBe(200);
    expect(json.unit).toEqual({ code: '440', name: 'Huyện Đức Thọ', level: 'district' });
    expect([json.from, json.to]).toEqual([from, yesterday]);
    expect(json.updatedAt).not.toBeNull();
    // By hand: SHOP active (2 entries, one at 23:59), MARKET active (4 tallied check-ins), the
    // checkpoint is no venue: 2 arrivals, 1 from a zone-4 unit.
    expect(row(json, '18073')).toMatchObject({
      figures: { venues: 2, venuesNew: 0, venuesActive: 2, entries: 2, checkins: 4, arrivals: 2, arrivalsRisk: 1, cases: 0, contactsOpen: 0, exposures: 0 },
      shareActive: 1,
      low: false,
      lowReasons: []
    });
    expect(row(json, '18076')).toMatchObject({ figures: { venues: 1, venuesActive: 0, entries: 0 }, shareActive: 0, low: true, lowReasons: ['share_below', 'no_checkins'] });
    expect(json.rows.map((r) => r.code)).toHaveLength(10);
    const firstHigh = json.rows.findIndex((r) => !r.low);
    expect(json.rows.slice(firstHigh).every((r) => !r.low)).toBe(true);
    for (const key of ['venues', 'venuesActive', 'entries', 'checkins', 'arrivals'] as const) {
      expect(json.totals[key]).toBe(json.rows.reduce((n, r) => n + r.figures[key], 0));
    }
    expect(json.days.map((d) => d.day)).toEqual([from, addDays(from, 1), yesterday]);
    expect(json.days.at(-1)!.figures.entries).toBe(json.totals.entries);
    expect(json.lowRule.minShareActive).toBe(0.3);
    expect(json.lowRule.text).toContain('30 %');
  });

  it('never carries a name, a phone, an ID number or a document id', async () => {
    for (const [who, q] of [
      ['district', `?unit=440&from=${from}&to=${today}`],
      ['district', `?unit=18073&from=${from}&to=${today}`],
      ['province', ''],
      ['team', '']
    ] as const) {
      const { status, text } = await stats(who, q);
      expect(status).toBe(200);
      for (const secret of [SECRET_NAME, 'Bímật', SECRET_PHONE, SECRET_ID, SHOP, MARKET, CHECKPOINT, FARM, 'entry:', 'station-1', 'Thôn 1']) expect(text).not.toContain(secret);
    }
  });

  it('takes a tally that arrives a day late into its own day, and keeps past days when retention deletes entries', async () => {
    const tally = (await server.store.db<TallyDoc>(DB.reports).get(tallyDocId('18073', yesterday))) as TallyDoc;
    await write(DB.reports, [{ ...tally, venues: { [MARKET]: 4, [SHOP]: 3 }, reports: 3 }]);
    const docs = entryIds.map((id) => ({ _id: id }));
    const found = await server.store.request('POST', 'lv_c_18073/_all_docs', { body: { keys: docs.map((d) => d._id) } });
    const revs = (found.body as { rows: { id: string; value: { rev: string } }[] }).rows;
    await write('lv_c_18073', revs.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })));
    await runAggregatesNow();
    const { json } = await stats('district', `?unit=440&from=${from}&to=${yesterday}`);
    expect(row(json, '18073').figures).toMatchObject({ venuesActive: 2, entries: 2, checkins: 7, arrivals: 2, arrivalsRisk: 1 });
  });

  it('rolls a commune up into the district it was moved to', async () => {
    const before = (await stats('province', `?unit=440&from=${from}&to=${yesterday}`)).json.totals.venues;
    await write(DB.directory, [{ _id: 'unit:441', type: 'unit', schema: 1, code: '441', name: 'Huyện Thử Nghiệm', level: 'district', parent: '42' }]);
    const unit = await server.store.db<{ _id: string; _rev?: string; parent: string }>(DB.directory).get('unit:18076');
    await write(DB.directory, [{ ...unit, parent: '441' }]);
    await runAggregatesNow();
    const moved = await stats('province', `?unit=441&from=${from}&to=${yesterday}`);
    expect(moved.status).toBe(200);
    expect(moved.json.totals).toMatchObject({ venues: 1, venuesActive: 0 });
    expect((await stats('province', `?unit=440&from=${from}&to=${yesterday}`)).json.totals.venues).toBe(before - 1);
    const province = await stats('province', `?unit=42&from=${from}&to=${yesterday}`);
    expect(province.json.totals.venues).toBe(before);
  });

  it('gives a team its own commune without rows, and nothing of another commune', async () => {
    const own = await stats('team', `?unit=18076&from=${from}&to=${yesterday}`);
    expect(own.status).toBe(200);
    expect(own.json.rows).toEqual([]);
    expect(own.json.totals.venues).toBe(1);
    expect((await stats('team', `?unit=18073&from=${from}&to=${yesterday}`)).status).toBe(403);
    expect((await stats('team', `?unit=440`)).status).toBe(403);
  });

  it('refuses owners, strangers and admins outside their unit', async () => {
    expect((await stats('owner', '?unit=18073')).status).toBe(403);
    expect((await stats('nobody', '?unit=18073')).status).toBe(401);
    const beside = await stats('district', '?unit=49');
    expect(beside.status).toBe(403);
    expect(beside.json.reason).toMatch(/outside/);
    expect((await stats('district', '?unit=42')).status).toBe(403);
  });

  it('answers a malformed or forged question with 400 and a reason', async () => {
    for (const q of [
      '?unit=abc',
      '?unit=4400000',
      `?unit=440&from=${from}`,
      '?unit=440&from=2021-13-01&to=2021-13-07',
      '?unit=440&from=2021-02-31&to=2021-03-02',
      '?unit=440&from=2021-08-10&to=2021-08-01',
      '?unit=440&from=2020-01-01&to=2021-08-01',
      '?unit=440&unit=441',
      '?unit=440&venue=shopaaaaaaaa',
      '?unit=99999'
    ]) {
      const { status, json } = await stats('district', q);
      expect(status, q).toBe(400);
      expect(json.reason, q).toBeTruthy();
    }
  });

  it('defaults to the current report week of the unit', async () => {
    const { status, json } = await stats('district', '');
    expect(status).toBe(200);
    expect(json.unit.code).toBe('440');
    const span = (Date.parse(json.to) - Date.parse(json.from)) / DAY;
    expect(span).toBe(6);
    expect(json.to >= addDays(today, -1) && json.from <= today).toBe(true);
  });
});
