import { describe, expect, it } from 'vitest';
import { currentEvents, matchExposures, type ExposureEvent } from './exposure';
import { signExposure, verifyExposure } from './exposure-sign';
import { newSigningKey } from '../venue/venue-signing';
import { HOUR, MINUTE, fromVietnamLocal } from '../time';
import type { Visit } from '../citizen/visit';
import { at, makeExposureEvent, makeVisit } from '../testing';

const key = newSigningKey('4821');
const event = makeExposureEvent;

const visit = (over: Partial<Visit> = {}) => makeVisit({ checkin: at('2021-08-20', '11:30'), ...over });

describe('matching a diary against exposure events', () => {
  it('matches overlaps widened by 60 minutes, and touching windows', () => {
    // Event 08:00–10:00, widened 07:00–11:00. A market visit without check-out lasts 60 minutes.
    expect(matchExposures([visit({ checkin: at('2021-08-20', '10:59') })], [event()])).toHaveLength(1);
    expect(matchExposures([visit({ checkin: at('2021-08-20', '11:00') })], [event()])).toHaveLength(1); // touching
    expect(matchExposures([visit({ checkin: at('2021-08-20', '11:01') })], [event()])).toHaveLength(0);
    expect(matchExposures([visit({ checkin: at('2021-08-20', '05:00') })], [event()])).toHaveLength(0); // ends 06:00
    expect(matchExposures([visit({ checkin: at('2021-08-20', '06:00') })], [event()])).toHaveLength(1); // ends 07:00, touching
  });

  it('uses the check-out when there is one, and the venue type default stay when not', () => {
    const early = { checkin: at('2021-08-20', '05:00') };
    expect(matchExposures([visit({ ...early, checkout: at('2021-08-20', '07:30') })], [event()])).toHaveLength(1);
    expect(matchExposures([visit({ ...early, venueType: 'office' })], [event()])).toHaveLength(1); // 9 h stay
    expect(matchExposures([visit({ ...early, venueType: 'shop' })], [event()])).toHaveLength(0); // 30 min stay
  });

  it('handles visits over midnight in Vietnam time', () => {
    const night = event({ from: at('2021-08-20', '23:30'), to: at('2021-08-21', '00:30'), widenMinutes: 0 });
    expect(matchExposures([visit({ checkin: at('2021-08-21', '00:10'), checkout: at('2021-08-21', '02:00') })], [night])).toHaveLength(1);
    expect(matchExposures([visit({ checkin: at('2021-08-20', '22:00'), checkout: at('2021-08-20', '23:00') })], [night])).toHaveLength(0);
  });

  it('respects a per-event widening, ignores other venues and manual entries without a venue', () => {
    expect(matchExposures([visit({ checkin: at('2021-08-20', '10:30') })], [event({ widenMinutes: 0 })])).toHaveLength(0);
    expect(matchExposures([visit({ venueId: 'otherotherot', checkin: at('2021-08-20', '09:00') })], [event()])).toHaveLength(0);
    expect(matchExposures([visit({ venueId: null, checkin: at('2021-08-20', '09:00') })], [event()])).toHaveLength(0);
  });

  it('drops withdrawn events and keeps only the latest version of duplicates', () => {
    const v9 = visit({ checkin: at('2021-08-20', '09:00') });
    expect(matchExposures([v9], [event(), event({ version: 2, withdrawn: true })])).toHaveLength(0);
    const corrected = event({ version: 2, from: at('2021-08-20', '14:00'), to: at('2021-08-20', '15:00') });
    expect(matchExposures([v9], [corrected, event()])).toHaveLength(0);
    expect(currentEvents([event(), event(), event({ version: 3 })])).toEqual([event({ version: 3 })]);
  });
});

describe('matching against many events', () => {
  it('lets a later version decide even when it names another venue', () => {
    const v9 = visit({ checkin: at('2021-08-20', '09:00') });
    const moved = event({ version: 2, venueId: 'otherotherot' });
    expect(matchExposures([v9], [event(), moved])).toHaveLength(0);
    expect(matchExposures([v9], [moved, event()])).toHaveLength(0);
  });

  it('finds the same matches as checking every pair', () => {
    const venues = ['demochoducth', 'otherotherot', 'thirdthirdth'];
    const visits = Array.from({ length: 30 }, (_, i) => visit({ id: `v${i}`, venueId: venues[i % 3]!, checkin: at('2021-08-20', '06:00') + i * 37 * MINUTE }));
    const events = Array.from({ length: 200 }, (_, i) =>
      event({ eventId: `ev${String(i).padStart(8, '0')}`, venueId: venues[(i * 7) % 3]!, from: at('2021-08-19', '00:00') + i * 23 * MINUTE, to: at('2021-08-19', '00:00') + i * 23 * MINUTE + HOUR, withdrawn: i % 11 === 0 })
    );
    const brute = visits.flatMap((vv) =>
      events.filter((e) => !e.withdrawn && e.venueId === vv.venueId && vv.checkin <= e.to + HOUR && vv.checkin + HOUR >= e.from - HOUR).map((e) => `${e.eventId}:${vv.id}`)
    );
    const fast = matchExposures(visits, events).map((m) => `${m.event.eventId}:${m.visit.id}`);
    expect(fast.sort()).toEqual(brute.sort());
    expect(fast.length).toBeGreaterThan(10);
  });
});

describe('signed exposure events', () => {
  it('verifies a signed event and rejects altered, re-signed and malformed ones', () => {
    const signed = signExposure(event(), key);
    expect(verifyExposure(signed, [key])).toEqual(event());
    expect(verifyExposure({ ...signed, event: { ...signed.event, to: signed.event.to + HOUR } }, [key])).toBeNull();
    expect(verifyExposure(signExposure(event(), newSigningKey('4821')), [key])).toBeNull();
    expect(verifyExposure({ ...signed, keyId: '9999' }, [key])).toBeNull();
    expect(verifyExposure({ ...signed, signature: 'zz' }, [key])).toBeNull();
    expect(verifyExposure(null, [key])).toBeNull();
    expect(() => signExposure(event({ to: event().from - MINUTE }), key)).toThrow();
  });
});
