import { describe, expect, it } from 'vitest';
import { countEntries, entriesToCsv, entryViews, findDuplicateEntry, manualPerson, todaysEntries, type EntryCsvWords } from './station';
import type { EntryFixRecord, StationEntryRecord } from '../documents';
import { MINUTE, DAY, HOUR } from '../time';

const T0 = Date.UTC(2021, 7, 20, 1, 30); // 08:30 in Vietnam

function entry(over: Partial<StationEntryRecord> = {}): StationEntryRecord {
  return {
    _id: 'entry:abcdefghij23:0000000000000:x',
    type: 'entry',
    schema: 1,
    venueId: 'abcdefghij23',
    communeCode: '18070',
    time: T0,
    direction: 'in',
    person: { source: 'cccd', name: 'Nguyễn Văn A', idNumber: '001099000001', birthYear: 1990 },
    deviceId: 'd1',
    ...over
  };
}

describe('duplicate scans', () => {
  it('treats the same person through the same door within 2 minutes as one passage', () => {
    const recent = [entry()];
    const again = { source: 'cccd' as const, name: 'NGUYEN VAN A', idNumber: '001099000001' };
    expect(findDuplicateEntry(recent, again, 'in', T0 + MINUTE)).toBeDefined();
    expect(findDuplicateEntry(recent, again, 'in', T0 + 3 * MINUTE)).toBeUndefined();
    expect(findDuplicateEntry(recent, again, 'out', T0 + MINUTE)).toBeUndefined();
    expect(findDuplicateEntry(recent, { source: 'cccd', name: 'Trần Thị B', idNumber: '079199000002' }, 'in', T0 + MINUTE)).toBeUndefined();
  });
});

describe('counts', () => {
  it('counts entries in by day for a week and by hour today, in Vietnam time', () => {
    const counts = countEntries(
      entryViews([entry(), entry({ time: T0 + 30 * MINUTE }), entry({ direction: 'out' }), entry({ time: T0 - 2 * DAY }), entry({ time: T0 - 8 * DAY })]),
      T0 + 60 * MINUTE
    );
    expect(counts.today).toBe(2);
    expect(counts.todayByHour[8]).toBe(1);
    expect(counts.todayByHour[9]).toBe(1);
    expect(counts.days).toHaveLength(7);
    expect(counts.days.at(-1)).toEqual({ day: '2021-08-20', count: 2 });
    expect(counts.days.at(-3)).toEqual({ day: '2021-08-18', count: 1 });
    expect(counts.weekByHour.reduce((a, b) => a + b)).toBe(3);
  });
});

function fix(of: StationEntryRecord, from: EntryFixRecord['from'], to: EntryFixRecord['to'], at: number, random = 'f1'): EntryFixRecord {
  return { _id: `${of._id}x${random}`, type: 'entryfix', schema: 1, venueId: of.venueId, communeCode: of.communeCode, entryId: of._id, time: of.time, from, to, at, deviceId: 'd1' };
}

describe('corrections', () => {
  const a = entry({ _id: 'entry:abcdefghij23:0000000000000:aa', time: T0 });
  const b = entry({ _id: 'entry:abcdefghij23:0000000000001:bb', time: T0 + MINUTE });
  it('apply the latest correction of each entry, and the count leaves out ways out and removed scans', () => {
    const views = entryViews([a, b, fix(a, 'in', 'out', T0 + 2 * MINUTE), fix(a, 'out', 'in', T0 + 3 * MINUTE, 'f2'), fix(b, 'in', 'removed', T0 + 4 * MINUTE)]);
    expect(views.map((v) => v.state)).toEqual(['in', 'removed']);
    expect(countEntries(views, T0 + HOUR).today).toBe(1);
    expect(countEntries(entryViews([a, b, fix(a, 'in', 'out', T0 + 2 * MINUTE)]), T0 + HOUR).today).toBe(1);
    expect(countEntries(entryViews([a, b]), T0 + HOUR).today).toBe(2);
  });
  it("count the day of the clock they are given: yesterday's entries are not today's", () => {
    expect(countEntries(entryViews([a, b]), T0 + DAY).today).toBe(0);
  });
  it("list today's entries newest first, removed ones included so they can be restored", () => {
    const views = entryViews([a, b, fix(b, 'in', 'removed', T0 + 4 * MINUTE), entry({ _id: 'entry:abcdefghij23:0000000000002:cc', time: T0 - DAY })]);
    expect(todaysEntries(views, T0 + HOUR).map((v) => [v.entry._id.slice(-2), v.state])).toEqual([
      ['bb', 'removed'],
      ['aa', 'in']
    ]);
  });
});

const VI: EntryCsvWords = {
  headers: { date: 'Ngày', time: 'Giờ', direction: 'Chiều', name: 'Họ tên', phone: 'Điện thoại', id_number: 'Số CCCD', insurance_number: 'Số BHYT', birth_year: 'Năm sinh', address: 'Địa chỉ', source: 'Nguồn', venue_id: 'Mã địa điểm' },
  direction: { in: 'Vào', out: 'Ra' },
  source: { 'personal-qr': 'QR cá nhân', cccd: 'CCCD', bhyt: 'BHYT', 'national-qr': 'QR quốc gia', manual: 'Nhập tay' } as EntryCsvWords['source']
};

describe('CSV for the authorities', () => {
  it('has one row per passage as it stands, in the words given, dd/mm/yyyy and 24-hour times, escaped, with a BOM', () => {
    const late = entry({ _id: 'entry:abcdefghij23:0000000000009:cc', time: T0 + 12 * HOUR, person: { source: 'manual', name: 'Ông Ba' } });
    const csv = entriesToCsv(
      entryViews([entry({ person: { source: 'manual', name: 'Bà "Tư", chợ', phone: '0912345678' } }), entry({ _id: 'entry:abcdefghij23:0000000000001:bb', time: T0 - MINUTE }), late, fix(late, 'in', 'removed', T0 + 13 * HOUR)]),
      VI
    );
    expect(csv.startsWith('\uFEFFNgày,Giờ,Chiều,Họ tên')).toBe(true);
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^20\/08\/2021,08:29,Vào,/);
    expect(lines[2]).toContain('"Bà ""Tư"", chợ"');
    expect(lines[2]).toContain('Nhập tay');
    expect(csv).not.toContain('Ông Ba');
  });
});

describe('people typed in at a station', () => {
  it('keeps a name with a valid phone and birth year, and refuses what identifies nobody', () => {
    expect(manualPerson(' Lê  Thị Cúc ', '+84 912 345 678', '1950', T0)).toEqual({ source: 'manual', name: 'Lê Thị Cúc', phone: '0912345678', birthYear: 1950 });
    expect(manualPerson('Lê Thị Cúc', '', '', T0)).toEqual({ source: 'manual', name: 'Lê Thị Cúc' });
    expect(manualPerson(' ', '', '', T0)).toBeNull();
    expect(manualPerson('Lê Thị Cúc', '12', '', T0)).toBeNull();
    expect(manualPerson('Lê Thị Cúc', '', '2030', T0)).toBeNull();
    expect(manualPerson('Lê Thị Cúc', '', '', T0, '001 099 000 001')).toEqual({ source: 'manual', name: 'Lê Thị Cúc', idNumber: '001099000001' });
    expect(manualPerson('Lê Thị Cúc', '', '', T0, '12345')).toBeNull();
  });
});
