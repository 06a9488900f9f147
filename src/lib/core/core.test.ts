import { describe, expect, it } from 'vitest';
import { classifyScan } from './citizen/scan';
import { checkinUrl } from './venue/venue-token';
import { newSigningKey, signVenueToken } from './venue/venue-signing';
import { visitsToCsv, visitsToJson } from './citizen/diary-export';
import { clampRetentionDays, isExpired, retentionCutoff } from './citizen/retention';
import { clockTime, dayKey, fromVietnamLocal, DAY, MINUTE } from './time';
import { checkTimes, effectiveCheckout, findRepeatCheckin, type Visit } from './citizen/visit';
import { makeVisit, T0 } from './testing';
import { newVenueId, VENUE_ID_PATTERN } from './venue/venue';

const visit = (over: Partial<Visit> = {}) => makeVisit({ venueId: 'abcdefghij23', ...over });

describe('time in Vietnam', () => {
  it('counts days in UTC+7', () => {
    expect(dayKey(Date.UTC(2021, 7, 20, 16, 59))).toBe('2021-08-20');
    expect(dayKey(Date.UTC(2021, 7, 20, 17, 0))).toBe('2021-08-21');
    expect(clockTime(T0)).toBe('08:30');
  });
  it('reads wall-clock times and rejects impossible ones', () => {
    expect(fromVietnamLocal('2021-08-20', '08:30')).toBe(T0);
    expect(fromVietnamLocal('2021-02-31', '08:30')).toBeNull();
    expect(fromVietnamLocal('2021-08-20', '24:00')).toBeNull();
    expect(fromVietnamLocal('20/08/2021', '08:30')).toBeNull();
  });
});

describe('visits', () => {
  it('treats a second open of the same venue within 10 minutes as the same visit', () => {
    const visits = [visit()];
    expect(findRepeatCheckin(visits, 'abcdefghij23', T0 + 9 * MINUTE)?.id).toBe('v1');
    expect(findRepeatCheckin(visits, 'abcdefghij23', T0 + 11 * MINUTE)).toBeUndefined();
    expect(findRepeatCheckin(visits, 'otherotherot', T0 + MINUTE)).toBeUndefined();
    expect(findRepeatCheckin([visit({ checkout: T0 + MINUTE })], 'abcdefghij23', T0 + 2 * MINUTE)).toBeUndefined();
  });
  it('uses the default stay of the venue type when there is no check-out', () => {
    expect(effectiveCheckout(visit())).toBe(T0 + 60 * MINUTE);
    expect(effectiveCheckout(visit({ venueType: 'office' }))).toBe(T0 + 9 * 60 * MINUTE);
    expect(effectiveCheckout(visit({ checkout: T0 + 5 * MINUTE }))).toBe(T0 + 5 * MINUTE);
  });
  it('rejects impossible times', () => {
    expect(checkTimes(T0, T0 - 1, T0 + DAY)).toBe('checkout-before-checkin');
    expect(checkTimes(T0 + 2 * DAY, null, T0)).toBe('in-future');
    expect(checkTimes(T0, T0 + 2 * DAY, T0 + 3 * DAY)).toBe('too-long');
    expect(checkTimes(T0, T0 + 60 * MINUTE, T0 + DAY)).toBeNull();
  });
  it('makes venue ids of the agreed shape', () => {
    const id = newVenueId((n) => crypto.getRandomValues(new Uint8Array(n)));
    expect(id).toMatch(VENUE_ID_PATTERN);
  });
});

describe('visit times typed by a person', () => {
  it('reads a check-out earlier on the clock as the next morning, and refuses bad input', async () => {
    const { visitTimesFromClock } = await import('./citizen/visit');
    const now = T0 + 3 * DAY;
    expect(visitTimesFromClock('2021-08-20', '22:00', '06:00', now)).toEqual({ ok: true, checkin: T0 + 13.5 * 3600_000, checkout: T0 + 21.5 * 3600_000 });
    expect(visitTimesFromClock('2021-08-20', '08:30', '', now)).toEqual({ ok: true, checkin: T0, checkout: null });
    expect(visitTimesFromClock('2021-08-20', '25:00', '', now)).toEqual({ ok: false, problem: 'bad-time' });
    expect(visitTimesFromClock('2021-08-20', '08:30', '', T0 - DAY)).toEqual({ ok: false, problem: 'in-future' });
  });
});

describe('retention', () => {
  it('keeps the period between 14 and 28 days', () => {
    expect(clampRetentionDays(7)).toBe(14);
    expect(clampRetentionDays(40)).toBe(28);
    expect(clampRetentionDays('21')).toBe(21);
    expect(clampRetentionDays(undefined)).toBe(21);
  });
  it('deletes what ended before the cutoff', () => {
    const cutoff = retentionCutoff(T0 + 21 * DAY, 21);
    expect(isExpired(visit({ checkin: T0 - MINUTE }), cutoff)).toBe(true);
    expect(isExpired(visit({ checkin: T0 - MINUTE, checkout: T0 + MINUTE }), cutoff)).toBe(false);
  });
});

describe('export', () => {
  it('writes CSV with a BOM, escaped cells and no formula injection', () => {
    const csv = visitsToCsv([visit({ venueName: 'Quán "Bà Tư", chợ', note: '=HYPERLINK("x")' })]);
    expect(csv.startsWith('\uFEFFdate,checkin')).toBe(true);
    expect(csv).toContain('"Quán ""Bà Tư"", chợ"');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    expect(csv).toContain('20/08/2021,08:30,,');
  });
  it('writes the CSV in the words it is given', () => {
    const csv = visitsToCsv([visit({ verification: 'verified', source: 'link' })], {
      columns: { date: 'Ngày', checkin: 'Giờ đến', checkout: 'Giờ về', venue: 'Địa điểm', venue_id: 'Mã địa điểm', commune_code: 'Mã xã', venue_type: 'Loại', verification: 'Xác thực', source: 'Cách ghi', note: 'Ghi chú' },
      venueType: (t) => (t === 'market' ? 'Chợ' : t),
      verification: (v) => (v === 'verified' ? 'Đã xác thực' : v),
      source: (s) => (s === 'link' ? 'Mở mã bằng máy ảnh' : s)
    });
    expect(csv.split('\r\n')[0]).toBe('\uFEFFNgày,Giờ đến,Giờ về,Địa điểm,Mã địa điểm,Mã xã,Loại,Xác thực,Cách ghi,Ghi chú');
    expect(csv).toContain('Đã xác thực,Mở mã bằng máy ảnh');
  });
  it('writes JSON without the raw tokens', () => {
    const json = JSON.parse(visitsToJson([visit({ token: '123' })], T0));
    expect(json.visits[0].checkin).toBe('2021-08-20T01:30:00.000Z');
    expect(json.visits[0].token).toBeUndefined();
  });
});

describe('classifyScan', () => {
  const key = newSigningKey('1234');
  const token = signVenueToken({ venueId: 'abcdefghij23', name: 'Chợ', communeCode: '18070', venueType: 'market' }, key);
  it('recognises venue codes and damaged venue codes', () => {
    expect(classifyScan(checkinUrl('https://x.vn', token)).kind).toBe('venue');
    expect(classifyScan(checkinUrl('https://x.vn', token.slice(0, -3))).kind).toBe('venue-damaged');
  });
  it('names ID cards, health insurance cards, links and text', () => {
    expect(classifyScan('001099000001|000000001|Nguyễn Văn A|01011990|Nam|Số 1, Quận 1|15042021').kind).toBe('id-card');
    expect(
      classifyScan(
        '0100000001|4cc3aa2056c4836e205468e1bbad|15/08/1985|1|-|01 - 001|01/01/2024|-|02/01/2024|01050100000001|-|4| 01/01/2029|0000000000000000-0000|4|5175e1baad6e204de1baab752c205468c3a06e68207068e1bb91204769e1baa320c490e1bb8b6e68|$'
      ).kind
    ).toBe('health-insurance');
    expect(classifyScan('https://example.com/menu')).toEqual({ kind: 'link', host: 'example.com' });
    expect(classifyScan('LVP1|Nguyễn Văn A|0912345678|1990||')).toEqual({ kind: 'personal' });
    expect(classifyScan('\0 \n')).toEqual({ kind: 'empty' });
    expect(classifyScan('x'.repeat(100))).toMatchObject({ kind: 'text' });
  });
});

describe('isOngoing', () => {
  it('is true only before check-out and within the default stay', async () => {
    const { isOngoing } = await import('./citizen/visit');
    expect(isOngoing(visit(), T0 + 30 * MINUTE)).toBe(true);
    expect(isOngoing(visit(), T0 + 61 * MINUTE)).toBe(false);
    expect(isOngoing(visit({ checkout: T0 + MINUTE }), T0 + 2 * MINUTE)).toBe(false);
  });
});

describe('visits by day', () => {
  it('groups by the Vietnamese day of check-in, in the order given', async () => {
    const { visitsByDay } = await import('./citizen/visit');
    const { at, makeVisit } = await import('./testing');
    const list = [makeVisit({ id: 'c', checkin: at('2021-08-21', '00:30') }), makeVisit({ id: 'b', checkin: at('2021-08-20', '23:30') }), makeVisit({ id: 'a', checkin: at('2021-08-20', '06:59') })];
    expect(visitsByDay(list).map((g) => [g.day, g.visits.map((v) => v.id)])).toEqual([
      ['2021-08-21', ['c']],
      ['2021-08-20', ['b', 'a']]
    ]);
  });
});
