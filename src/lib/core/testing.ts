/** Fixtures for the core's unit tests (imported by tests only). */
import type { ExposureEvent } from './exposure/exposure';
import { fromVietnamLocal } from './time';
import type { Visit } from './citizen/visit';

/** 08:30 in Vietnam on 20 August 2021, the days of the directives this product follows. */
export const T0 = Date.UTC(2021, 7, 20, 1, 30);

/** A verified visit to the demo market at T0, without a check-out; override what a test needs. */
export function makeVisit(over: Partial<Visit> = {}): Visit {
  return {
    id: 'v1',
    venueId: 'demochoducth',
    venueName: 'Chợ Đức Thọ',
    communeCode: '18070',
    venueType: 'market',
    checkin: T0,
    checkout: null,
    source: 'scan',
    verification: 'verified',
    token: null,
    note: '',
    ...over
  };
}

/** Vietnam wall-clock time as ms since epoch: `at('2021-08-20', '08:00')`. */
export const at = (day: string, time: string): number => fromVietnamLocal(day, time)!;

/** A published high-level event at the demo market, 08:00–10:00 on 20 August 2021. */
export function makeExposureEvent(over: Partial<ExposureEvent> = {}): ExposureEvent {
  return {
    eventId: 'ev00000001',
    version: 1,
    venueId: 'demochoducth',
    venueName: 'Chợ Đức Thọ',
    communeCode: '18070',
    from: at('2021-08-20', '08:00'),
    to: at('2021-08-20', '10:00'),
    widenMinutes: 60,
    level: 'high',
    message: 'Ca F0 có mặt tại chợ',
    advice: 'Cách ly tại nhà và liên hệ trạm y tế',
    contactPhone: '0239123456',
    withdrawn: false,
    ...over
  };
}
