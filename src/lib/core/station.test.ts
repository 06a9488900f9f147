import { describe, expect, it } from 'vitest';
import { countEntries, entriesToCsv, findDuplicateEntry, manualPerson } from './station';
import type { StationEntryRecord } from './documents';
import { MINUTE, DAY } from './time';

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
      [entry(), entry({ time: T0 + 30 * MINUTE }), entry({ direction: 'out' }), entry({ time: T0 - 2 * DAY }), entry({ time: T0 - 8 * DAY })],
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

describe('CSV for the authorities', () => {
  it('has one row per passage, escaped, with a BOM', () => {
    const csv = entriesToCsv([entry({ person: { source: 'manual', name: 'Bà "Tư", chợ', phone: '0912345678' } }), entry({ time: T0 - MINUTE })]);
    expect(csv.startsWith('\uFEFFdate,time,direction')).toBe(true);
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('08:29');
    expect(lines[2]).toContain('"Bà ""Tư"", chợ"');
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
