import { describe, expect, it } from 'vitest';
import { zeroFigures, type StatsAnswer } from '$lib/core/reports/figures';
import { isStale, percent, stamp, statsCsv } from './format';

describe('officials’ dates and figures', () => {
  it('writes days and instants as dd/mm/yyyy and a 24-hour Vietnam time', () => {
    // 17:30 UTC is 00:30 the next day in Vietnam.
    expect(stamp('2021-08-20T17:30:00.000Z')).toBe('21/08/2021 00:30');
    expect(stamp('2021-08-20T08:05:00.000Z')).toBe('20/08/2021 15:05');
    expect(stamp(null)).toBe('');
    expect(stamp('yesterday')).toBe('');
  });

  it('shows shares as whole percents and no share without venues', () => {
    expect(percent(0.4249)).toBe('42%');
    expect(percent(1)).toBe('100%');
    expect(percent(null)).toBe('–');
  });

  it('calls statistics old after an hour, or when never built', () => {
    const now = Date.parse('2021-08-20T10:00:00Z');
    expect(isStale('2021-08-20T09:30:00Z', now)).toBe(false);
    expect(isStale('2021-08-20T08:30:00Z', now)).toBe(true);
    expect(isStale(null, now)).toBe(true);
  });

  it('makes the table a CSV with a BOM, one row per unit and the totals last', () => {
    const f = { ...zeroFigures(), venues: 8, venuesActive: 3, venuesNew: 2, checkins: 40 };
    const answer: StatsAnswer = {
      unit: { code: '440', name: 'Huyện Đức Thọ', level: 'district' },
      from: '2021-08-13',
      to: '2021-08-19',
      updatedAt: null,
      totals: f,
      rows: [{ code: '18070', name: 'Xã Tùng Châu, "Đức Thọ"', level: 'commune', figures: f, shareActive: 0.375, low: true, lowReasons: ['share_below'] }],
      days: [],
      lowRule: { minShareActive: 0.5, text: '' }
    };
    const figures = { venuesNew: 'Mới', venues: 'Đã đăng ký', venuesActive: 'Hoạt động', checkins: 'Quét', entries: 'Lượt vào', arrivals: 'Đến', arrivalsRisk: 'Từ vùng cam, đỏ', cases: 'F0', contactsOpen: 'F1', exposures: 'Phơi nhiễm' };
    const csv = statsCsv(answer, { unit: 'Đơn vị', code: 'Mã', share: 'Tỉ lệ (%)', low: 'Hoạt động thấp', total: 'Tổng', figures }, () => 'dưới 50%');
    const lines = csv.split('\r\n');
    // A header with a comma in it is quoted like any cell.
    expect(lines[0]).toBe('\uFEFFĐơn vị,Mã,Mới,Đã đăng ký,Hoạt động,Tỉ lệ (%),Quét,Lượt vào,Đến,"Từ vùng cam, đỏ",F0,F1,Phơi nhiễm,Hoạt động thấp');
    expect(lines[1]).toBe('"Xã Tùng Châu, ""Đức Thọ""",18070,2,8,3,37.5,40,0,0,0,0,0,0,dưới 50%');
    expect(lines[2]).toBe('Tổng: Huyện Đức Thọ,440,2,8,3,37.5,40,0,0,0,0,0,0,');
  });
});
