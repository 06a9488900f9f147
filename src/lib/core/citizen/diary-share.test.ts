import { describe, expect, it } from 'vitest';
import { decodeDiaryDay, encodeDiaryDay, onlineSharedVisits, VISITS_PER_CODE } from './diary-share';
import { at, makeVisit } from '../testing';
import { textQr } from '../venue/poster-qr';

const day = '2021-08-20';
const visits = [
  makeVisit({ id: 'a', checkin: at(day, '08:30'), checkout: at(day, '09:15') }),
  makeVisit({ id: 'b', venueId: null, communeCode: null, source: 'manual', verification: 'manual', venueName: 'Nhà bà Tư; ngõ 3, thôn|Đông \\', checkin: at(day, '19:00'), checkout: null }),
  makeVisit({ id: 'c', venueId: 'democafesong', checkin: at(day, '23:30'), checkout: at('2021-08-21', '01:10') }),
  makeVisit({ id: 'd', checkin: at('2021-08-21', '07:00') }) // another day: not in this day's code
];

describe('sharing a diary day as QR text', () => {
  it('carries where and when, and reads back', () => {
    const codes = encodeDiaryDay(day, visits);
    expect(codes).toHaveLength(1);
    expect(codes[0]).not.toContain('note');
    expect(decodeDiaryDay(codes[0]!)).toEqual({
      day,
      part: 1,
      parts: 1,
      visits: [
        { venueId: 'demochoducth', communeCode: '18070', name: null, checkin: at(day, '08:30'), checkout: at(day, '09:15') },
        { venueId: null, communeCode: null, name: 'Nhà bà Tư; ngõ 3, thôn|Đông \\', checkin: at(day, '19:00'), checkout: null },
        { venueId: 'democafesong', communeCode: '18070', name: null, checkin: at(day, '23:30'), checkout: at('2021-08-21', '01:10') }
      ]
    });
  });

  it('splits a long day into parts, each a readable QR', () => {
    const many = Array.from({ length: VISITS_PER_CODE * 2 + 1 }, (_, i) => makeVisit({ id: `v${i}`, checkin: at(day, '06:00') + i * 20 * 60_000 }));
    const codes = encodeDiaryDay(day, many);
    expect(codes.map((c) => decodeDiaryDay(c)!.part + '/' + decodeDiaryDay(c)!.parts)).toEqual(['1/3', '2/3', '3/3']);
    expect(codes.flatMap((c) => decodeDiaryDay(c)!.visits)).toHaveLength(many.length);
    for (const c of codes) expect(textQr(c).version).toBeLessThanOrEqual(15);
  });

  it('an empty day is one code with no visits; anything malformed is refused', () => {
    expect(decodeDiaryDay(encodeDiaryDay(day, [])[0]!)).toEqual({ day, part: 1, parts: 1, visits: [] });
    for (const bad of ['LVD1|2021-02-30|1/1|', 'LVD1|2021-08-20|2/1|', 'LVD1|2021-08-20|1/1|V,short,18070,1,2', 'LVD1|2021-08-20|1/1|V,demochoducth,18070,600,500', 'LVD1|2021-08-20|1/1|M,1,2,', 'LVD1|2021-08-20|1/1|X,1', 'hello', 'LVD1|2021-08-20|1/1|M,1,2,a\\'])
      expect(decodeDiaryDay(bad), bad).toBeNull();
  });
});

describe('sharing online', () => {
  it('sends where and when only, with the default stay for a visit without check-out', () => {
    const sent = onlineSharedVisits([
      makeVisit({ id: 'b', venueId: null, communeCode: null, venueName: 'Nhà bà Tư', checkin: at('2021-08-20', '12:00'), checkout: at('2021-08-20', '13:00'), note: 'riêng tư' }),
      makeVisit({ checkin: at('2021-08-20', '08:30') })
    ]);
    expect(sent).toEqual([
      { venueId: 'demochoducth', communeCode: '18070', place: 'Chợ Đức Thọ', from: at('2021-08-20', '08:30'), to: at('2021-08-20', '09:30'), source: 'diary' },
      { place: 'Nhà bà Tư', from: at('2021-08-20', '12:00'), to: at('2021-08-20', '13:00'), source: 'diary' }
    ]);
  });
});
