/**
 * Weekly reports end to end on a real server: a commune team's PouchDB pushes `report:<periodId>`
 * through the gateway, the submissions job copies it into lv_reports, and the district admin reads
 * who reported on time, late or not at all through `/api/reports/submissions`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { createUser } from '../../server/users';
import { reportDocId, type ReportRecord } from '../../src/lib/core/documents';
import { addDays, currentWeek, DEFAULT_SCHEDULE, scheduleDocId, weekPeriod, type Period, type ScheduleDoc } from '../../src/lib/core/reports/period';
import type { SubmissionsAnswer } from '../../src/lib/core/reports/report';
import { dayKey, fromVietnamLocal } from '../../src/lib/core/time';
import { localDb, login, register, remoteDb } from './sync-helpers';

let server: RunningServer;
let dataDir: string;
let base: string;
const cookies: Record<'team' | 'team2' | 'district' | 'province' | 'otherAdmin' | 'owner', string> = { team: '', team2: '', district: '', province: '', otherAdmin: '', owner: '' };

const today = dayKey(Date.now());
/** The district's current report week (its report day from the directory) and one two weeks behind, whose reports are all due. */
let current: Period;
let past: Period;

function report(communeCode: string, period: Period, over: Partial<ReportRecord> = {}): ReportRecord {
  const now = new Date().toISOString();
  return {
    _id: reportDocId(period.id),
    type: 'report',
    schema: 1,
    communeCode,
    periodId: period.id,
    difficulties: 'Thôn 3 mất sóng điện thoại',
    proposals: 'Cấp thêm 50 tờ mã QR',
    done: 'Đã kiểm tra 12 địa điểm',
    state: 'submitted',
    submittedAt: now,
    updatedAt: now,
    figures: { venues: 12, venuesNew: 1, venuesActive: 5, entries: 40, checkins: 3, arrivals: 2, arrivalsRisk: 0, cases: 0, contactsOpen: 1, exposures: 0 },
    ...over
  };
}

/** Each team's device: one local database per commune, as the app keeps. */
const devices = new Map<string, PouchDB.Database<object>>();

async function push(cookie: string, communeCode: string, docs: object[]) {
  const key = `${cookie}|${communeCode}`;
  const local = devices.get(key) ?? localDb<object>();
  devices.set(key, local);
  for (const doc of docs) await local.put(doc as PouchDB.Core.PutDocument<object>);
  const denied: { id?: string; reason?: string }[] = [];
  const result = await local.replicate.to(remoteDb(base, `lv_c_${communeCode}`, cookie)).on('denied', (err) => denied.push(err as { id?: string; reason?: string }));
  return { written: result.docs_written, denied, local };
}

async function submissions(who: keyof typeof cookies | null, query: string) {
  const res = await fetch(`${base}/api/reports/submissions?${query}`, { headers: who ? { cookie: cookies[who] } : {} });
  return { status: res.status, body: (await res.json()) as SubmissionsAnswer & { error?: string; reason?: string } };
}

/** The district's answer once the job has copied what `ready` waits for (the job runs every few seconds). */
async function once(query: string, ready: (a: SubmissionsAnswer) => boolean): Promise<SubmissionsAnswer> {
  for (let i = 0; i < 100; i++) {
    const { status, body } = await submissions('district', query);
    expect(status).toBe(200);
    if (ready(body)) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the submission never reached the district');
}

const row = (a: SubmissionsAnswer, code: string) => a.communes.find((c) => c.code === code)!;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-reports-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
  base = server.url;
  for (const [who, phone, role, communes, unit] of [
    ['team', '0913000001', 'team', ['18070'], undefined],
    ['team2', '0913000002', 'team', ['18073'], undefined],
    ['district', '0913000003', 'admin', [], '440'],
    ['province', '0913000004', 'admin', [], '42'],
    ['otherAdmin', '0913000005', 'admin', [], '49']
  ] as const) {
    await createUser(server.store, { phone, password: 'mat-khau-dai', role, communes: [...communes], unit });
    cookies[who] = (await login(base, phone, 'mat-khau-dai')).cookie;
  }
  cookies.owner = (await register(base, '0913000006')).cookie;
  const res = await fetch(`${base}/sync/lv_directory/${encodeURIComponent(scheduleDocId('440'))}`);
  const schedule = res.ok ? ((await res.json()) as ScheduleDoc) : DEFAULT_SCHEDULE;
  current = currentWeek(schedule, today);
  past = weekPeriod(addDays(current.due, -14));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a commune team submits its weekly report', () => {
  it('pushes a submitted report and the district sees it on time, with its remarks and figures', async () => {
    const { written, denied } = await push(cookies.team, '18070', [report('18070', current)]);
    expect(denied).toEqual([]);
    expect(written).toBe(1);
    const answer = await once(`unit=440&period=${current.id}`, (a) => row(a, '18070').status !== 'not_due');
    expect(answer.unit).toEqual({ code: '440', name: 'Huyện Đức Thọ', level: 'district' });
    expect(answer.period).toEqual(current);
    const mine = row(answer, '18070');
    expect(mine).toMatchObject({ name: 'Thị trấn Đức Thọ', district: { code: '440', name: 'Huyện Đức Thọ' }, status: 'on_time' });
    expect(mine.remarks).toEqual({ difficulties: 'Thôn 3 mất sóng điện thoại', proposals: 'Cấp thêm 50 tờ mã QR', done: 'Đã kiểm tra 12 địa điểm' });
    expect(mine.figures?.venues).toBe(12);
    // The other communes' reports are not due before the end of the due day.
    expect(answer.communes.filter((c) => c.code !== '18070').every((c) => c.status === 'not_due')).toBe(true);
    expect(answer.rates).toMatchObject({ expected: 1, received: 1, onTime: 1, rate: 1, onTimeRate: 1 });
    // The province sees the commune too; the team sees its own commune.
    expect(row((await submissions('province', `unit=42&period=${current.id}`)).body, '18070').status).toBe('on_time');
    expect((await submissions('team', `unit=18070&period=${current.id}`)).body.communes.map((c) => c.status)).toEqual(['on_time']);
  });

  it('a report sent after the due day is late; one submitted offline on the due day and synced later is on time; the rest are missing', async () => {
    await push(cookies.team, '18070', [report('18070', past)]);
    const dueDay = new Date(fromVietnamLocal(past.due, '16:00')!).toISOString();
    await push(cookies.team2, '18073', [report('18073', past, { submittedAt: dueDay, done: 'Nộp khi chưa có sóng' })]);
    const answer = await once(`unit=440&period=${past.id}`, (a) => row(a, '18070').status !== 'missing' && row(a, '18073').status !== 'missing');
    expect(row(answer, '18070').status).toBe('late');
    expect(row(answer, '18073')).toMatchObject({ status: 'on_time', submittedAt: dueDay });
    const others = answer.communes.filter((c) => c.code !== '18070' && c.code !== '18073');
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((c) => c.status === 'missing' && c.submittedAt === null && c.remarks === null)).toBe(true);
    const n = answer.communes.length;
    expect(answer.rates).toEqual({ expected: n, received: 2, onTime: 1, rate: 2 / n, onTimeRate: 1 / n });
  });

  it('a device clock set back cannot make a report older than its period', async () => {
    const before = weekPeriod(addDays(current.due, -21));
    await push(cookies.team2, '18073', [report('18073', before, { submittedAt: '2021-01-02T00:00:00.000Z' })]);
    const answer = await once(`unit=440&period=${before.id}`, (a) => row(a, '18073').status !== 'missing');
    expect(row(answer, '18073').submittedAt).toBe(new Date(fromVietnamLocal(before.from, '00:00')!).toISOString());
  });

  it('edited and submitted again, a report keeps its first submission time and shows the new remarks', async () => {
    const first = (await once(`unit=440&period=${current.id}`, (a) => row(a, '18070').status === 'on_time')).communes.find((c) => c.code === '18070')!;
    const device = devices.get(`${cookies.team}|18070`)!;
    const doc = (await device.get(reportDocId(current.id))) as ReportRecord;
    const later = new Date(Date.now() + 1000).toISOString();
    // The app keeps submittedAt on a resubmission; a device that sends a later one changes nothing either.
    const { denied } = await push(cookies.team, '18070', [{ ...doc, done: 'Đã kiểm tra 15 địa điểm', submittedAt: later, updatedAt: later }]);
    expect(denied).toEqual([]);
    const again = await once(`unit=440&period=${current.id}`, (a) => row(a, '18070').remarks?.done === 'Đã kiểm tra 15 địa điểm');
    expect(row(again, '18070').submittedAt).toBe(first.submittedAt);
    expect(row(again, '18070').status).toBe('on_time');
  });

  it('a draft is not a submission', async () => {
    const week = weekPeriod(addDays(current.due, -7));
    const { submittedAt: _, ...draft } = report('18070', week, { state: 'draft' });
    await push(cookies.team, '18070', [draft]);
    // Something the job copies after the draft: once it is there, the draft was seen and skipped.
    await push(cookies.team2, '18073', [report('18073', week)]);
    const answer = await once(`unit=440&period=${week.id}`, (a) => row(a, '18073').status !== 'missing');
    expect(row(answer, '18070')).toMatchObject({ status: 'missing', remarks: null });
  });
});

describe('who may write and read reports', () => {
  it('an owner can neither push a report into its commune database nor read one', async () => {
    const { written, denied } = await push(cookies.owner, '18070', [report('18070', weekPeriod(addDays(current.due, -28)))]);
    expect(written).toBe(0);
    expect(denied[0]?.reason).toBe('not a venue of this account');
    const read = await fetch(`${base}/sync/lv_c_18070/${encodeURIComponent(reportDocId(current.id))}`, { headers: { cookie: cookies.owner } });
    expect(read.status).toBe(404);
    const changes = await fetch(`${base}/sync/lv_c_18070/_changes`, { headers: { cookie: cookies.owner } });
    expect(await changes.text()).not.toContain('report:');
    expect((await submissions('owner', 'unit=18070')).status).toBe(403);
  });

  it('refuses malformed report documents, each with its reason', async () => {
    const good = report('18070', current);
    const { submittedAt: _, ...unsent } = good;
    const bad = [
      { ...good, _id: 'report:w-2021-01-01', periodId: 'w-2021-01-08' },
      { ...good, _id: 'report:w-2021-02-30', periodId: 'w-2021-02-30' },
      { ...unsent, _id: 'report:m-2021-03', periodId: 'm-2021-03' },
      { ...good, _id: 'report:m-2021-04', periodId: 'm-2021-04', done: 'x'.repeat(2001) },
      { ...good, _id: 'report:m-2021-05', periodId: 'm-2021-05', figures: { ...good.figures, cases: 'ba' } },
      { ...good, _id: 'report:m-2021-06', periodId: 'm-2021-06', communeCode: '18073' },
      { ...good, _id: 'report:m-2021-07', periodId: 'm-2021-07', submittedAt: new Date(Date.now() + 86_400_000).toISOString() }
    ];
    const res = await fetch(`${base}/sync/lv_c_18070/_bulk_docs`, { method: 'POST', headers: { cookie: cookies.team, 'content-type': 'application/json' }, body: JSON.stringify({ docs: bad }) });
    expect(res.status).toBe(201);
    const results = (await res.json()) as { id: string; error?: string; reason?: string }[];
    expect(results.map((r) => r.error)).toEqual(Array(bad.length).fill('forbidden'));
    expect(results.map((r) => r.reason)).toEqual([
      '_id does not match the document',
      expect.stringMatching(/^periodId:/),
      'a submitted report says when it was submitted',
      expect.stringMatching(/^done:/),
      expect.stringMatching(/^figures\.cases:/),
      'document of another commune',
      'a report cannot be submitted in the future'
    ]);
  });

  it('an admin reads its own subtree only; a team its own communes only', async () => {
    expect((await submissions(null, 'unit=440')).status).toBe(401);
    expect((await submissions('otherAdmin', 'unit=440')).status).toBe(403);
    expect((await submissions('district', 'unit=42')).status).toBe(403);
    expect((await submissions('district', 'unit=18070')).status).toBe(200);
    expect((await submissions('team', 'unit=440')).status).toBe(403);
    expect((await submissions('team', 'unit=18073')).status).toBe(403);
    expect((await submissions('team2', 'unit=18073')).status).toBe(200);
    const bad = await submissions('district', 'unit=440&period=week-12');
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toMatch(/period/);
    expect((await submissions('district', 'unit=abc')).status).toBe(400);
    expect((await submissions('district', 'unit=99999')).status).toBe(404);
    // Without a period: the unit's current report week.
    expect((await submissions('district', 'unit=440')).body.period).toEqual(current);
  });
});
