import { describe, expect, it } from 'vitest';
import { LOW_RULE, lowReasons, lowRuleText, rankRows, shareActive, statsRow } from './low-activity';
import { zeroFigures, type Figures } from './figures';

const f = (over: Partial<Figures>): Figures => ({ ...zeroFigures(), ...over });

describe('low-activity rule', () => {
  it('flags no venues, a share below 30 % and no check-ins, and says so in words', () => {
    expect(lowReasons(f({}))).toEqual(['no_venues', 'no_checkins']);
    expect(lowReasons(f({ venues: 10, venuesActive: 2, entries: 5 }))).toEqual(['share_below']);
    expect(lowReasons(f({ venues: 10, venuesActive: 3, entries: 5 }))).toEqual([]);
    expect(lowReasons(f({ venues: 10, venuesActive: 3 }))).toEqual(['no_checkins']);
    expect(LOW_RULE.minShareActive).toBe(0.3);
    expect(lowRuleText()).toContain('30 %');
    expect(lowRuleText(LOW_RULE, 'en')).toContain('fewer than 30 %');
  });

  it('caps the share at 1 and has none without venues', () => {
    expect(shareActive(f({ venues: 2, venuesActive: 3 }))).toBe(1);
    expect(shareActive(f({ venues: 0 }))).toBeNull();
  });

  it('ranks low rows first, the least active first', () => {
    const rows = [
      statsRow({ code: '18070', name: 'Xã Tùng Châu', level: 'commune' }, f({ venues: 10, venuesActive: 8, entries: 50 })),
      statsRow({ code: '18073', name: 'Xã Trường Sơn', level: 'commune' }, f({ venues: 10, venuesActive: 1, entries: 2 })),
      statsRow({ code: '18076', name: 'Xã Yên Hồ', level: 'commune' }, f({})),
      statsRow({ code: '18079', name: 'Xã Quang Vĩnh', level: 'commune' }, f({ venues: 10, venuesActive: 2, checkins: 9 }))
    ];
    expect(rankRows(rows).map((r) => [r.code, r.low])).toEqual([
      ['18076', true],
      ['18073', true],
      ['18079', true],
      ['18070', false]
    ]);
  });
});
