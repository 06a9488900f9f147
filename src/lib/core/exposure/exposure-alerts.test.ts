import { describe, expect, it } from 'vitest';
import { matchExposures } from './exposure';
import { reconcileAlerts } from './exposure-alerts';
import { at, makeExposureEvent, makeVisit } from '../testing';

const visit = makeVisit({ id: 'visit-1', checkin: at('2021-08-20', '09:00') });
const event = makeExposureEvent({ level: 'monitor' });
const NOW = at('2021-08-22', '07:00');

describe('alerts from matches', () => {
  it('raises a match once, however often the check runs', () => {
    const first = reconcileAlerts([], matchExposures([visit], [event]), NOW);
    expect(first.raised).toHaveLength(1);
    expect(first.alerts[0]).toMatchObject({ key: 'ev00000001:visit-1', handledAt: null, raisedAt: NOW });
    const again = reconcileAlerts(first.alerts, matchExposures([visit], [event, event]), NOW + 3600_000);
    expect(again.raised).toEqual([]);
    expect(again.alerts).toHaveLength(1);
    expect(again.alerts[0]!.raisedAt).toBe(NOW);
  });

  it('keeps a handled alert handled through corrections, and raises it again when the level goes up', () => {
    const first = reconcileAlerts([], matchExposures([visit], [event]), NOW);
    const handled = first.alerts.map((a) => ({ ...a, handledAt: NOW + 1 }));
    const corrected = makeExposureEvent({ level: 'monitor', version: 2, message: 'Sửa giờ' });
    const second = reconcileAlerts(handled, matchExposures([visit], [event, corrected]), NOW + 2);
    expect(second.raised).toEqual([]);
    expect(second.alerts[0]).toMatchObject({ handledAt: NOW + 1, event: { version: 2, message: 'Sửa giờ' } });
    const escalated = makeExposureEvent({ level: 'high', version: 3 });
    const third = reconcileAlerts(second.alerts, matchExposures([visit], [escalated]), NOW + 3);
    expect(third.raised).toHaveLength(1);
    expect(third.alerts[0]).toMatchObject({ handledAt: null, raisedAt: NOW + 3 });
  });

  it('clears alerts whose event was withdrawn or moved away from the visit', () => {
    const first = reconcileAlerts([], matchExposures([visit], [event]), NOW);
    const withdrawn = reconcileAlerts(first.alerts, matchExposures([visit], [event, makeExposureEvent({ version: 2, withdrawn: true })]), NOW);
    expect(withdrawn.alerts).toEqual([]);
    expect(withdrawn.cleared.map((a) => a.key)).toEqual(['ev00000001:visit-1']);
    const moved = makeExposureEvent({ version: 2, from: at('2021-08-21', '08:00'), to: at('2021-08-21', '09:00') });
    expect(reconcileAlerts(first.alerts, matchExposures([visit], [moved]), NOW).cleared).toHaveLength(1);
  });

  it('gives one alert per visit when several visits fall in one event, newest event first', () => {
    const second = makeVisit({ id: 'visit-2', checkin: at('2021-08-20', '10:30') });
    const later = makeExposureEvent({ eventId: 'ev00000002', from: at('2021-08-21', '08:00'), to: at('2021-08-21', '09:00') });
    const third = makeVisit({ id: 'visit-3', checkin: at('2021-08-21', '08:30') });
    const { alerts } = reconcileAlerts([], matchExposures([visit, second, third], [event, later]), NOW);
    expect(alerts.map((a) => a.key)).toEqual(['ev00000002:visit-3', 'ev00000001:visit-1', 'ev00000001:visit-2']);
    expect(alerts[1]!.visitCheckout).toBe(at('2021-08-20', '10:00')); // market: 60 min default stay
  });
});

describe('the headline', () => {
  it('counts active and handled alerts, and a handled alert is not "no exposure"', async () => {
    const { exposureSummary } = await import('./exposure-alerts');
    expect(exposureSummary([])).toEqual({ state: 'none', active: 0, handled: 0, lastExposureAt: null, highest: null });
    const { alerts } = reconcileAlerts([], matchExposures([visit], [event]), NOW);
    expect(exposureSummary(alerts)).toMatchObject({ state: 'active', active: 1, handled: 0, highest: 'monitor' });
    const handled = alerts.map((a) => ({ ...a, handledAt: NOW + 1 }));
    // The visit 09:00–10:00 (market), the event 08:00–10:00: exposed until 10:00.
    expect(exposureSummary(handled)).toEqual({ state: 'handled', active: 0, handled: 1, lastExposureAt: at('2021-08-20', '10:00'), highest: 'monitor' });
    const high = reconcileAlerts([], matchExposures([makeVisit({ id: 'visit-2', checkin: at('2021-08-20', '08:30') })], [makeExposureEvent({ eventId: 'ev00000002' })]), NOW);
    expect(exposureSummary([...handled, ...high.alerts])).toMatchObject({ state: 'active', active: 1, handled: 1, highest: 'high' });
  });
});
