/** Fixtures for the core's unit tests (imported by tests only). */
import type { Visit } from './visit';

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
