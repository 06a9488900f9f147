import { describe, expect, it } from 'vitest';
import { mergeFollowups, newFollowup } from './casework';
import { checkCommuneDoc, type HealthCheckRecord, type StationEntryRecord } from '../documents';
import {
  byUrgency,
  checkProblems,
  checksNewestFirst,
  classificationOf,
  closeFollowup,
  followupStart,
  followupStatus,
  isolationEnd,
  lastCheck,
  matchesFilter,
  readTemperature,
  reopenFollowup,
  shiftDay,
  withCheck
} from './followup';
import { exportFileName, exportTables, type ExportLabels } from './team-export';
import { fromVietnamLocal } from '../time';

const vn = (day: string, time = '09:00') => fromVietnamLocal(day, time)!;
const CASE = 'abcdefgh12345678';
const entry = (day: string, time = '09:00', venue = 'demochoducth', commune = '18070'): StationEntryRecord => {
  const t = vn(day, time);
  return { _id: `entry:${venue}:${String(t).padStart(13, '0')}:r1`, type: 'entry', schema: 1, venueId: venue, communeCode: commune, time: t, direction: 'in', person: { source: 'manual', name: 'Lê Thị Bình', phone: '0987654321' }, deviceId: 'd1' };
};
const contact = (day: string) => newFollowup(entry(day), '18070', vn(day), { caseId: CASE });
const check = (day: string, time = '08:00', extra: Partial<HealthCheckRecord> = {}): HealthCheckRecord => ({ at: vn(day, time), symptoms: [], ...extra });

describe('who is due, who is overdue (Vietnam days)', () => {
  const now = vn('2021-08-20', '10:00');

  it('a follow-up that started three days ago with no check is overdue', () => {
    expect(followupStatus(contact('2021-08-17'), now)).toBe('overdue');
  });

  it('one that started today is due, not overdue', () => {
    expect(followupStatus(contact('2021-08-20'), now)).toBe('due');
  });

  it('a check today makes it checked; one yesterday leaves it due; one older, overdue', () => {
    const f = contact('2021-08-17');
    expect(followupStatus(withCheck(f, check('2021-08-20', '07:00')), now)).toBe('checked');
    expect(followupStatus(withCheck(f, check('2021-08-19')), now)).toBe('due');
    expect(followupStatus(withCheck(f, check('2021-08-18')), now)).toBe('overdue');
  });

  it('counts days in Vietnam: 23:30 UTC is already the next day there', () => {
    const f = withCheck(contact('2021-08-17'), { at: Date.UTC(2021, 7, 19, 23, 30), symptoms: [] }); // 06:30 on the 20th in Vietnam
    expect(followupStatus(f, now)).toBe('checked');
    expect(followupStatus(f, Date.UTC(2021, 7, 20, 16, 59))).toBe('checked'); // 23:59 on the 20th there: the same day
    expect(followupStatus(f, Date.UTC(2021, 7, 20, 17, 0))).toBe('due'); // 00:00 on the 21st there
  });

  it('checks before the isolation started do not count for it', () => {
    const f = withCheck({ ...contact('2021-08-15'), isolationFrom: '2021-08-18' }, check('2021-08-16'));
    expect(lastCheck(f)).toBeNull();
    expect(followupStatus(f, now)).toBe('overdue');
  });

  it('closed, upcoming and ended follow-ups want no check', () => {
    expect(followupStatus({ ...contact('2021-08-17'), state: 'closed' }, now)).toBe('closed');
    expect(followupStatus({ ...contact('2021-08-17'), isolationFrom: '2021-08-21' }, now)).toBe('upcoming');
    expect(followupStatus(contact('2021-08-10'), now)).toBe('ended'); // ended on the 17th
    expect(followupStatus(contact('2021-08-13'), now)).toBe('overdue'); // its last day is the 20th
  });

  it('filters: due today holds the overdue too; all open holds every open one', () => {
    expect(matchesFilter('overdue', 'due')).toBe(true);
    expect(matchesFilter('checked', 'due')).toBe(false);
    expect(matchesFilter('due', 'overdue')).toBe(false);
    expect(matchesFilter('ended', 'open')).toBe(true);
    expect(matchesFilter('closed', 'open')).toBe(false);
    expect(matchesFilter('closed', 'closed')).toBe(true);
  });

  it('lists the overdue first, then the due', () => {
    const rows = [
      { status: 'checked' as const, end: '2021-08-22', name: 'A' },
      { status: 'due' as const, end: '2021-08-25', name: 'B' },
      { status: 'overdue' as const, end: '2021-08-27', name: 'C' }
    ];
    expect(rows.sort(byUrgency).map((r) => r.name)).toEqual(['C', 'B', 'A']);
  });
});

describe('isolation and classification', () => {
  it('ends seven days after the start (the existing rule), or when the team set it', () => {
    const f = contact('2021-08-17');
    expect(followupStart(f)).toBe('2021-08-17');
    expect(isolationEnd(f)).toBe('2021-08-24');
    expect(isolationEnd({ ...f, isolationFrom: '2021-08-18' })).toBe('2021-08-25');
    expect(isolationEnd({ ...f, isolationUntil: '2021-08-31' })).toBe('2021-08-31');
  });

  it('starts on the Vietnamese day of the contact', () => {
    expect(followupStart({ at: Date.UTC(2021, 7, 16, 18, 0) })).toBe('2021-08-17'); // 01:00 on the 17th in Vietnam
  });

  it('shifts days across months and years', () => {
    expect(shiftDay('2021-03-01', -1)).toBe('2021-02-28');
    expect(shiftDay('2021-12-31', 1)).toBe('2022-01-01');
  });

  it('a contact is F1 unless the team says F2; an arrival is its own kind', () => {
    expect(classificationOf(contact('2021-08-17'))).toBe('F1');
    expect(classificationOf({ ...contact('2021-08-17'), classification: 'F2' })).toBe('F2');
    expect(classificationOf(newFollowup(entry('2021-08-17'), '18070', 0, { symptoms: ['cough'] }))).toBe('arrival');
  });
});

describe('health checks and closing', () => {
  it('a follow-up with checks, a reason and a class passes the schema; an old one without them too', () => {
    const f = closeFollowup({ ...withCheck(contact('2021-08-17'), check('2021-08-18', '08:00', { symptoms: ['fever'], temperature: 38.2, note: 'Sốt nhẹ' })), classification: 'F2' as const }, 'completed');
    expect(checkCommuneDoc(f, '18070', vn('2021-08-25'))).toMatchObject({ ok: true });
    expect(checkCommuneDoc(contact('2021-08-17'), '18070', vn('2021-08-25'))).toMatchObject({ ok: true });
    expect(checkCommuneDoc({ ...f, checks: [{ at: 1, symptoms: ['hiccups'] }] }, '18070')).toMatchObject({ ok: false });
    expect(checkCommuneDoc({ ...f, checks: [{ at: 1, symptoms: [], temperature: 50 }] }, '18070')).toMatchObject({ ok: false });
    expect(checkCommuneDoc({ ...f, closedReason: 'bored' }, '18070')).toMatchObject({ ok: false });
  });

  it('lists checks newest first', () => {
    const f = withCheck(withCheck(contact('2021-08-17'), check('2021-08-19')), check('2021-08-18'));
    expect(checksNewestFirst(f.checks).map((c) => c.at)).toEqual([vn('2021-08-19', '08:00'), vn('2021-08-18', '08:00')]);
  });

  it('closing keeps the reason, reopening drops it', () => {
    const closed = closeFollowup(contact('2021-08-17'), 'case');
    expect(closed).toMatchObject({ state: 'closed', closedReason: 'case' });
    const reopened = reopenFollowup(closed);
    expect(reopened.state).toBe('open');
    expect('closedReason' in reopened).toBe(false);
  });

  it('reads temperatures with a comma or a dot, and reports every problem at once', () => {
    expect(readTemperature('37,5')).toBe(37.5);
    expect(readTemperature('38')).toBe(38);
    expect(readTemperature('')).toBeNull();
    expect(readTemperature('abc')).toBeNaN();
    const now = vn('2021-08-20');
    expect(checkProblems({ temperature: '37,5', note: '', at: now }, now, 300)).toEqual([]);
    expect(checkProblems({ temperature: '45', note: 'x'.repeat(301), at: now + 3_600_000 }, now, 300)).toEqual(['temperature', 'note', 'future']);
  });

  it('two members who each recorded a check offline keep both; open wins and drops the reason', () => {
    const f = contact('2021-08-17');
    const a = closeFollowup(withCheck(f, check('2021-08-18')), 'completed');
    const b = withCheck(f, check('2021-08-18', '17:00'));
    const merged = mergeFollowups(a, b);
    expect(merged.checks?.length).toBe(2);
    expect(merged.state).toBe('open');
    expect(merged.closedReason).toBeUndefined();
    expect(mergeFollowups(a, a).checks?.length).toBe(1);
  });
});

describe('export for the health centre', () => {
  const labels: ExportLabels = {
    tables: { cases: 'Ca bệnh', followups: 'Theo dõi', checks: 'Kiểm tra sức khỏe', arrivals: 'Người qua chốt' },
    columns: Object.fromEntries(
      ['commune', 'name', 'phone', 'idNumber', 'birthYear', 'address', 'caseId', 'confirmedOn', 'status', 'places', 'notes', 'classification', 'metOn', 'fromUnit', 'zone', 'symptoms', 'isolationFrom', 'isolationUntil', 'test', 'testedOn', 'closedReason', 'checks', 'lastCheck', 'checkedOn', 'checkedAt', 'temperature', 'note', 'checkpoint', 'arrivedOn', 'arrivedAt', 'declaredOn', 'vaccineDoses', 'contactWithCase', 'underFollowup'].map((k) => [k, `H:${k}`])
    ) as ExportLabels['columns'],
    caseStatus: { open: 'Đang xử lý', closed: 'Đã đóng' },
    followupStatus: { closed: 'Đã kết thúc', upcoming: 'Chưa bắt đầu', ended: 'Hết cách ly', checked: 'Đã kiểm tra hôm nay', due: 'Cần kiểm tra hôm nay', overdue: 'Quá hạn' },
    classes: { F1: 'F1', F2: 'F2', arrival: 'Người về' },
    tests: { none: 'Chưa', pending: 'Chờ', negative: 'Âm tính', positive: 'Dương tính' },
    closeReasons: { completed: 'Hoàn thành cách ly', case: 'Trở thành ca bệnh', lost: 'Mất liên lạc' },
    symptom: (s) => ({ fever: 'Sốt', cough: 'Ho' })[s as 'fever'] ?? s,
    unit: (code) => `Xã ${code}`,
    zone: (z) => `Cấp ${z}`,
    yes: 'Có',
    no: 'Không',
    none: 'Không'
  };
  const now = vn('2021-08-20', '10:00');
  const theCase = { _id: `case:${CASE}`, type: 'case' as const, schema: 1 as const, caseId: CASE, communeCode: '18070', person: { source: 'manual' as const, name: 'Lê Văn Ca', phone: '0900000079' }, confirmedOn: '2021-08-18', status: 'open' as const, visits: [], createdAt: '2021-08-18T01:00:00.000Z', updatedAt: '2021-08-18T01:00:00.000Z' };
  const arrivalEntry = { ...entry('2021-08-19', '14:05', 'checkpoint01', '18070'), declaration: { checkedAt: '2021-08-19', declaredOn: '2021-08-19', symptoms: ['cough'], contactWithCase: false, fromUnit: '79', fromZone: 4, vaccineDoses: 2 } };
  const arrival = newFollowup(arrivalEntry, '18070', now, { fromUnit: '79', fromZone: 4, symptoms: ['cough'] });
  const stranger = { ...contact('2021-08-17'), communeCode: '18079', person: { source: 'manual' as const, name: 'Người xã khác' } };
  const tables = exportTables(
    {
      cases: [theCase, { ...theCase, communeCode: '18079', person: { source: 'manual' as const, name: 'Ca xã khác' } }],
      followups: [withCheck(contact('2021-08-17'), check('2021-08-19', '07:45', { symptoms: ['fever'], temperature: 37.8, note: 'Mệt' })), arrival, stranger],
      arrivals: [{ entry: arrivalEntry, checkpoint: 'Chốt cầu' }, { entry: { ...arrivalEntry, communeCode: '18079' }, checkpoint: 'Chốt khác' }]
    },
    ['18070'],
    labels,
    now
  );
  const [cases, followups, checks, arrivals] = tables as [typeof tables[0], typeof tables[0], typeof tables[0], typeof tables[0]];

  it('holds only the team communes, even when a document of another was on the device', () => {
    const all = JSON.stringify(tables);
    expect(all).not.toContain('xã khác');
    expect(all).not.toContain('Người xã khác');
    expect(all).not.toContain('18079');
    expect(cases.rows).toHaveLength(1);
    expect(followups.rows).toHaveLength(2);
    expect(arrivals.rows).toHaveLength(1);
  });

  it('writes dates dd/mm/yyyy and times in 24 h, Vietnam time', () => {
    expect(cases.rows[0]).toContain('18/08/2021');
    expect(arrivals.rows[0]!.slice(2, 4)).toEqual(['19/08/2021', '14:05']);
    expect(checks.rows[0]!.slice(4, 9)).toEqual(['19/08/2021', '07:45', 'Sốt', 37.8, 'Mệt']);
  });

  it('gives the follow-up its class, status and isolation end, in the words given', () => {
    const row = followups.rows.find((r) => r[1] === 'F1')!;
    // started on the 17th, checked on the 19th: due today, isolated until the 24th
    expect(row).toEqual(expect.arrayContaining(['Cần kiểm tra hôm nay', '24/08/2021', '19/08/2021 07:45', 1]));
    const arrivalRow = followups.rows.find((r) => r[1] === 'Người về')!;
    expect(arrivalRow).toEqual(expect.arrayContaining(['Xã 79', 'Cấp 4', 'Ho']));
  });

  it('marks arrivals that are under follow-up', () => {
    expect(arrivals.rows[0]!.at(-1)).toBe('Có');
    expect(arrivals.header[0]).toBe('H:commune');
  });

  it('names files without accents, year first', () => {
    expect(exportFileName('Người qua chốt', '18070', now, 'csv')).toBe('nguoi-qua-chot-18070-2021-08-20.csv');
  });
});
