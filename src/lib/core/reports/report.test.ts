import { describe, expect, it } from 'vitest';
import { fromVietnamLocal } from '../time';
import { zeroFigures, type Figures } from './figures';
import { monthPeriod, weekPeriod } from './period';
import {
  cleanRemarks,
  countedSubmissionTime,
  figuresOverDays,
  formatDmy,
  formatDmyHm,
  formatRate,
  mergeSubmission,
  REMARK_MAX,
  reportTables,
  submissionDocId,
  submissionsAnswer,
  sumFigures,
  tableCsv,
  unitReport,
  weeklyReminder,
  type CommuneOfUnit,
  type SubmissionDoc,
  type TableLabels
} from './report';

const at = (day: string, time: string) => fromVietnamLocal(day, time)!;
const iso = (day: string, time: string) => new Date(at(day, time)).toISOString();
const fig = (over: Partial<Figures>): Figures => ({ ...zeroFigures(), ...over });

// The week due Thursday 03/12/2026: Thursday 26/11 to Wednesday 02/12.
const week = weekPeriod('2026-12-03');

describe('remarks', () => {
  it('are cleaned like every typed text and cut at REMARK_MAX letters, never inside a letter', () => {
    const r = cleanRemarks({ difficulties: '  Mất\u200b sóng ở thôn 3\r\n', proposals: 'Ờ'.repeat(REMARK_MAX + 10), done: 7 as unknown as string });
    expect(r.difficulties).toBe('Mất sóng ở thôn 3');
    expect(Array.from(r.proposals)).toHaveLength(REMARK_MAX);
    expect(r.done).toBe('');
    // an emoji (two UTF-16 units) at the cut stays whole or goes whole
    const cut = cleanRemarks({ done: 'a'.repeat(REMARK_MAX - 1) + '😀😀' }).done;
    expect(cut.endsWith('😀')).toBe(true);
    expect(Array.from(cut)).toHaveLength(REMARK_MAX);
  });
});

describe('figures', () => {
  it('sum across communes, venues active included (a venue is in one commune only)', () => {
    const a = fig({ venues: 12, venuesNew: 2, venuesActive: 5, entries: 40, checkins: 7, arrivals: 3, arrivalsRisk: 1, cases: 1, contactsOpen: 4, exposures: 1 });
    const b = fig({ venues: 8, venuesActive: 0, entries: 0, checkins: 2, contactsOpen: 1 });
    expect(sumFigures([a, b])).toEqual(fig({ venues: 20, venuesNew: 2, venuesActive: 5, entries: 40, checkins: 9, arrivals: 3, arrivalsRisk: 1, cases: 1, contactsOpen: 5, exposures: 1 }));
    expect(sumFigures([])).toEqual(zeroFigures());
  });

  it('over days: what happened is summed, what is counted at a moment is the last day’s', () => {
    // Days given out of order: the last day is 02/12, whatever the order.
    const days = [
      { day: '2026-12-02', figures: fig({ venues: 11, venuesNew: 1, venuesActive: 3, entries: 10, checkins: 4, contactsOpen: 2, cases: 1 }) },
      { day: '2026-11-26', figures: fig({ venues: 10, venuesNew: 0, venuesActive: 4, entries: 25, checkins: 0, contactsOpen: 6, arrivals: 2, arrivalsRisk: 2 }) }
    ];
    // 25 + 10 entries, 0 + 4 check-ins, 1 new venue; 11 venues and 2 contacts at the end.
    expect(figuresOverDays(days)).toEqual(fig({ venues: 11, venuesNew: 1, venuesActive: 4, entries: 35, checkins: 4, contactsOpen: 2, cases: 1, arrivals: 2, arrivalsRisk: 2 }));
    // The aggregates' distinct count of active venues, when known, wins over the busiest day's.
    expect(figuresOverDays(days, 6).venuesActive).toBe(6);
    expect(figuresOverDays([])).toEqual(zeroFigures());
  });
});

describe('the time a submission counts as made', () => {
  const seen = at('2026-12-05', '08:00');
  it('is the device’s time when it submitted offline on the due day and synced later', () => {
    expect(countedSubmissionTime(iso('2026-12-03', '16:30'), seen, week)).toBe(at('2026-12-03', '16:30'));
  });
  it('is never later than when the server first saw it, nor before the period', () => {
    expect(countedSubmissionTime(iso('2027-01-01', '00:00'), seen, week)).toBe(seen);
    expect(countedSubmissionTime(iso('2020-01-01', '00:00'), seen, week)).toBe(at('2026-11-26', '00:00'));
    expect(countedSubmissionTime('not a time', seen, week)).toBe(seen);
    expect(countedSubmissionTime(null, seen, week)).toBe(seen);
  });
});

describe('a report submitted again', () => {
  const first = mergeSubmission(null, { communeCode: '18073', periodId: week.id, submittedAt: at('2026-12-03', '10:00'), seenAt: at('2026-12-03', '10:01'), remarks: cleanRemarks({ done: 'Đã in 40 mã QR' }), figures: fig({ venues: 3 }), figuresAt: null });
  it('keeps the first submission time for timeliness, and the latest remarks', () => {
    expect(first).toMatchObject({ _id: submissionDocId('18073', week.id), submittedAt: iso('2026-12-03', '10:00'), receivedAt: iso('2026-12-03', '10:01'), submissions: 1 });
    const again = mergeSubmission({ ...first, _rev: '1-a' }, { communeCode: '18073', periodId: week.id, submittedAt: at('2026-12-06', '09:00'), seenAt: at('2026-12-06', '09:00'), remarks: cleanRemarks({ done: 'Đã in 60 mã QR' }), figures: fig({ venues: 4 }), figuresAt: null });
    expect(again).toMatchObject({ _rev: '1-a', submittedAt: iso('2026-12-03', '10:00'), receivedAt: iso('2026-12-03', '10:01'), updatedAt: iso('2026-12-06', '09:00'), submissions: 2 });
    expect(again.remarks.done).toBe('Đã in 60 mã QR');
    expect(again.figures?.venues).toBe(4);
  });
});

describe('submission status and rates of a district', () => {
  const district = { code: '440', name: 'Huyện Đức Thọ' };
  const communes: CommuneOfUnit[] = [
    { code: '18070', name: 'Thị trấn Đức Thọ', district },
    { code: '18073', name: 'Xã Quang Vĩnh', district },
    { code: '18076', name: 'Xã Tùng Châu', district },
    { code: '18079', name: 'Xã Trường Sơn', district }
  ];
  const sub = (code: string, submittedAt: string, done = ''): SubmissionDoc =>
    mergeSubmission(null, { communeCode: code, periodId: week.id, submittedAt: Date.parse(submittedAt), seenAt: Date.parse(submittedAt), remarks: cleanRemarks({ done }), figures: null, figuresAt: null });
  const subs = new Map([
    // the last minute of the due day, Vietnam time: on time
    ['18070', sub('18070', iso('2026-12-03', '23:59'), 'Đã kiểm tra 12 địa điểm')],
    // a minute past midnight Vietnam time after the due day (17:01 UTC on the due day): late
    ['18073', sub('18073', iso('2026-12-04', '00:01'))],
    ['18076', sub('18076', iso('2026-11-30', '09:00'))]
  ]);

  it('before the due day ends, a commune without a report is not due yet, and left out of the rates', () => {
    const a = submissionsAnswer({ ...district, level: 'district' }, week, communes, new Map([['18076', subs.get('18076')!]]), at('2026-12-03', '12:00'));
    expect(a.communes.map((c) => c.status)).toEqual(['not_due', 'not_due', 'on_time', 'not_due']);
    expect(a.rates).toEqual({ expected: 1, received: 1, onTime: 1, rate: 1, onTimeRate: 1 });
  });

  it('after it: on time, late, on time, missing; 3 of 4 received, 2 of 4 on time', () => {
    const a = submissionsAnswer({ ...district, level: 'district' }, week, communes, subs, at('2026-12-04', '08:00'));
    expect(a.communes.map((c) => [c.code, c.status])).toEqual([
      ['18070', 'on_time'],
      ['18073', 'late'],
      ['18076', 'on_time'],
      ['18079', 'missing']
    ]);
    expect(a.rates).toEqual({ expected: 4, received: 3, onTime: 2, rate: 0.75, onTimeRate: 0.5 });
    expect(a.districts).toEqual([{ code: '440', name: 'Huyện Đức Thọ', rates: a.rates }]);
    expect(formatRate(a.rates.rate)).toBe('75%');
    expect(formatRate(2 / 3)).toBe('66,7%');
    expect(formatRate(null)).toBe('–');
  });

  it('a province’s rates per district follow where each commune lies now (a commune moved to another district counts there)', () => {
    const other = { code: '441', name: 'Huyện Can Lộc' };
    // 18079 was moved from 440 to 441: the caller gives its current district.
    const moved = communes.map((c) => (c.code === '18079' ? { ...c, district: other } : c));
    const a = submissionsAnswer({ code: '42', name: 'Tỉnh Hà Tĩnh', level: 'province' }, week, moved, subs, at('2026-12-04', '08:00'));
    expect(a.districts).toEqual([
      { code: '440', name: 'Huyện Đức Thọ', rates: { expected: 3, received: 3, onTime: 2, rate: 1, onTimeRate: 2 / 3 } },
      { code: '441', name: 'Huyện Can Lộc', rates: { expected: 1, received: 0, onTime: 0, rate: 0, onTimeRate: 0 } }
    ]);
    expect(a.rates.expected).toBe(4);
  });

  it('rolls the communes’ figures up into the district’s, and lists remarks by commune', () => {
    const answer = submissionsAnswer({ ...district, level: 'district' }, week, communes, subs, at('2026-12-04', '08:00'));
    const rows = [
      { code: '18070', name: 'Thị trấn Đức Thọ', figures: fig({ venues: 30, venuesActive: 12, entries: 400, checkins: 55 }) },
      { code: '18073', name: 'Xã Quang Vĩnh', figures: fig({ venues: 9, venuesActive: 1, entries: 3 }) }
    ];
    const report = unitReport(answer, { rows, updatedAt: '2026-12-04T00:00:00.000Z' });
    expect(report.totals).toEqual(fig({ venues: 39, venuesActive: 13, entries: 403, checkins: 55 }));
    expect(report.remarks).toEqual([{ code: '18070', name: 'Thị trấn Đức Thọ', district: 'Huyện Đức Thọ', remarks: { difficulties: '', proposals: '', done: 'Đã kiểm tra 12 địa điểm' } }]);

    const labels: TableLabels = {
      unit: 'Đơn vị', code: 'Mã', district: 'Huyện', status: 'Tình trạng', submittedAt: 'Gửi lúc', total: 'Tổng', rate: 'Tỉ lệ', onTimeRate: 'Đúng hạn',
      figures: { venues: 'Địa điểm', venuesNew: 'Mới', venuesActive: 'Hoạt động', entries: 'Lượt quét', checkins: 'Tự quét', arrivals: 'Đến', arrivalsRisk: 'Từ vùng cam/đỏ', cases: 'F0', contactsOpen: 'F1', exposures: 'Cảnh báo' },
      statuses: { on_time: 'Đúng hạn', late: 'Trễ hạn', missing: 'Chưa gửi', not_due: 'Chưa đến hạn' },
      remarks: { difficulties: 'Khó khăn', proposals: 'Kiến nghị', done: 'Đã làm' },
      tables: { figures: 'Số liệu', submissions: 'Tình hình gửi' }
    };
    const tables = reportTables(report, labels);
    expect(tables.figures.rows.at(-1)).toEqual(['440', 'Tổng', 39, 0, 13, 403, 55, 0, 0, 0, 0, 0]);
    expect(tables.submissions.rows[0]).toEqual(['18070', 'Thị trấn Đức Thọ', 'Huyện Đức Thọ', 'Đúng hạn', '03/12/2026 23:59', '', '', 'Đã kiểm tra 12 địa điểm']);
    const csv = tableCsv(tables.figures);
    expect(csv.startsWith('\uFEFFMã,Đơn vị,Địa điểm')).toBe(true);
    expect(csv).toContain('\r\n18070,Thị trấn Đức Thọ,30,0,12,400,55,0,0,0,0,0\r\n');
  });

  it('a remark that starts like a formula cannot run in a spreadsheet', () => {
    const answer = submissionsAnswer({ ...district, level: 'district' }, week, communes.slice(0, 1), new Map([['18070', sub('18070', iso('2026-12-01', '08:00'), '=HYPERLINK("x")')]]), at('2026-12-04', '08:00'));
    const csv = tableCsv(reportTables(unitReport(answer, null), { unit: '', code: '', district: '', status: '', submittedAt: '', total: '', rate: '', onTimeRate: '', figures: {} as TableLabels['figures'], statuses: { on_time: 'x', late: '', missing: '', not_due: '' }, remarks: { difficulties: '', proposals: '', done: '' }, tables: { figures: '', submissions: '' } }).submissions);
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
  });
});

describe('dates as Vietnamese forms write them', () => {
  it('dd/mm/yyyy and 24-hour times in Vietnam time, whatever the machine’s zone', () => {
    expect(formatDmy('2026-12-03')).toBe('03/12/2026');
    expect(formatDmyHm(Date.UTC(2026, 11, 3, 17, 5))).toBe('04/12/2026 00:05');
    expect(monthPeriod('2026-11').due).toBe('2026-12-04');
  });
});

describe('the hub\'s reminder of the weekly report (Thursday)', () => {
  const thursday = { weekday: 4, monthDay: 5 } as const;
  const sent = (...ids: string[]) => (id: string) => ids.includes(id);
  it('reminds from two days before the due day, on the day itself, and not earlier', () => {
    // Friday 27/11 after last week's report (due 26/11) went in: nothing to say about the week due 03/12.
    expect(weeklyReminder(thursday, '2026-11-27', sent('w-2026-11-26'))).toBeNull();
    expect(weeklyReminder(thursday, '2026-11-30', sent('w-2026-11-26'))).toBeNull();
    expect(weeklyReminder(thursday, '2026-12-01', sent('w-2026-11-26'))).toEqual({ kind: 'soon', period: week, daysLeft: 2 });
    expect(weeklyReminder(thursday, '2026-12-02', sent('w-2026-11-26'))).toMatchObject({ kind: 'soon', daysLeft: 1 });
    expect(weeklyReminder(thursday, '2026-12-03', sent('w-2026-11-26'))).toMatchObject({ kind: 'today', daysLeft: 0 });
    expect(weeklyReminder(thursday, '2026-12-02', sent('w-2026-11-26', 'w-2026-12-03'))).toEqual({ kind: 'done', period: week });
  });
  it('says first that last week\'s report is overdue', () => {
    // Friday 04/12: the week due 03/12 was not submitted.
    expect(weeklyReminder(thursday, '2026-12-04', sent('w-2026-11-26'))).toEqual({ kind: 'overdue', period: week });
  });
});
