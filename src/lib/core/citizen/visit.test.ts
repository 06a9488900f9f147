import { describe, expect, it } from 'vitest';
import { DAY, MINUTE } from '../time';
import { at, makeVisit, T0 } from '../testing';
import { closuresAfter, currentVisitId, scannedVisit, visitTimesFromClock } from './visit';

describe('one place at a time', () => {
  const office = makeVisit({ id: 'a', venueName: 'Văn phòng', venueType: 'office', checkin: at('2021-08-20', '08:00') });
  const market = makeVisit({ id: 'b', venueName: 'Chợ', venueType: 'market', checkin: at('2021-08-20', '09:30') });

  it('a new check-in ends the visit left open, at the new check-in', () => {
    expect(closuresAfter([office, market])).toEqual([{ visitId: 'a', venueName: 'Văn phòng', checkout: at('2021-08-20', '09:30'), previousCheckout: null }]);
  });

  it('or at the end of its default stay when that came first', () => {
    const evening = makeVisit({ id: 'c', checkin: at('2021-08-20', '23:00') });
    // An office's default stay is 9 hours: the visit is not stretched to 23:00.
    expect(closuresAfter([office, evening])[0]!.checkout).toBe(at('2021-08-20', '17:00'));
  });

  it('leaves closed visits, the last visit, and visits at the same minute alone', () => {
    const closed = { ...office, checkout: at('2021-08-20', '09:00') };
    expect(closuresAfter([closed, market])).toEqual([]);
    expect(closuresAfter([market])).toEqual([]);
    expect(closuresAfter([office, { ...market, checkin: office.checkin }])).toEqual([]);
  });

  it('ends each open visit at the next one, whatever the order given', () => {
    const shop = makeVisit({ id: 'd', venueName: 'Cửa hàng', checkin: at('2021-08-20', '10:00') });
    expect(closuresAfter([shop, market, office]).map((c) => [c.visitId, c.checkout])).toEqual([
      ['a', at('2021-08-20', '09:30')],
      ['b', at('2021-08-20', '10:00')]
    ]);
  });

  it('a visit typed in for earlier in the day is itself ended by the next one', () => {
    const typed = makeVisit({ id: 'm', venueType: 'other', checkin: at('2021-08-20', '07:00') });
    expect(closuresAfter([typed, office])).toMatchObject([{ visitId: 'm', checkout: at('2021-08-20', '08:00') }]);
  });

  it('only the latest visit can be "here now"', () => {
    const now = at('2021-08-20', '10:00');
    expect(currentVisitId([office, market], now)).toBe('b');
    expect(currentVisitId([office], now)).toBe('a');
    expect(currentVisitId([office, { ...market, checkout: now - MINUTE }], now)).toBeNull();
    expect(currentVisitId([office], at('2021-08-20', '17:00'))).toBeNull();
    expect(currentVisitId([], now)).toBeNull();
  });
});

describe('times typed by a person', () => {
  it('a check-out before the check-in is said so, not "in the future"', () => {
    const now = at('2021-08-20', '12:00');
    expect(visitTimesFromClock('2021-08-20', '10:00', '09:00', now)).toEqual({ ok: false, problem: 'checkout-before-checkin' });
    // A night shift that ended this morning is still read as the next morning.
    expect(visitTimesFromClock('2021-08-19', '22:00', '06:00', now)).toMatchObject({ ok: true, checkout: at('2021-08-20', '06:00') });
    expect(visitTimesFromClock('2021-08-20', '08:30', '', T0 + DAY)).toMatchObject({ ok: true });
  });
});

describe('a shared day', () => {
  it('says "not checked out" for the last open visit only', async () => {
    const { settleOpenVisits } = await import('./visit');
    const { encodeDiaryDay } = await import('./diary-share');
    const visits = ['08:00', '09:00', '10:00'].map((time, i) => makeVisit({ id: `v${i}`, venueId: `venue${i}`, checkin: at('2021-08-20', time) }));
    const [code] = encodeDiaryDay('2021-08-20', settleOpenVisits(visits));
    // Minutes after midnight: 480–540, 540–600, 600–(none).
    expect(code).toBe('LVD1|2021-08-20|1/1|V,venue0,18070,480,540;V,venue1,18070,540,600;V,venue2,18070,600,');
  });
});

describe('a check-in by a venue code', () => {
  it('records the venue as its code names it, open, with how it was read and checked', () => {
    const claims = { venueId: 'v1', name: 'Chợ Đồng Xuân', communeCode: '00070', venueType: 'market' as const };
    const visit = scannedVisit({ claims, token: 'LV1.x', source: 'scan', verification: 'pending' }, 'id1', T0);
    expect(visit).toEqual({
      id: 'id1', venueId: 'v1', venueName: 'Chợ Đồng Xuân', communeCode: '00070', venueType: 'market',
      checkin: T0, checkout: null, source: 'scan', verification: 'pending', token: 'LV1.x', note: ''
    });
  });
});
