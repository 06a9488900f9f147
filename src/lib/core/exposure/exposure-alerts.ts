/**
 * What the phone shows after a check: one alert per (event, visit) match, raised once. The alerts
 * are the phone's own record and never leave it, like the diary they point into.
 */
import { effectiveCheckout } from '../citizen/visit';
import { MINUTE } from '../time';
import type { ExposureEvent, ExposureMatch } from './exposure';

export interface ExposureAlert {
  /** `<eventId>:<visitId>`: a match is the same alert however often the check runs */
  key: string;
  eventId: string;
  visitId: string;
  /** the latest version of the event: a correction updates the alert in place */
  event: ExposureEvent;
  visitCheckin: number;
  visitCheckout: number;
  raisedAt: number;
  /** set when the citizen marks it handled; an escalation to a higher level clears it */
  handledAt: number | null;
}

export function alertKey(match: ExposureMatch): string {
  return `${match.event.eventId}:${match.visit.id}`;
}

export interface AlertChanges {
  /** every current alert, newest event first */
  alerts: ExposureAlert[];
  /** alerts to notify about now: new matches, and handled ones whose event was raised to 'high' */
  raised: ExposureAlert[];
  /** alerts that no longer match: their event was withdrawn or corrected, or the visit was deleted or edited */
  cleared: ExposureAlert[];
}

export function reconcileAlerts(previous: readonly ExposureAlert[], matches: readonly ExposureMatch[], now: number): AlertChanges {
  const before = new Map(previous.map((a) => [a.key, a]));
  const alerts: ExposureAlert[] = [];
  const raised: ExposureAlert[] = [];
  const seen = new Set<string>();
  for (const match of matches) {
    const key = alertKey(match);
    if (seen.has(key)) continue; // the same event listed twice
    seen.add(key);
    const old = before.get(key);
    const escalated = old !== undefined && old.event.level !== 'high' && match.event.level === 'high';
    const alert: ExposureAlert = {
      key,
      eventId: match.event.eventId,
      visitId: match.visit.id,
      event: match.event,
      visitCheckin: match.visit.checkin,
      visitCheckout: effectiveCheckout(match.visit),
      raisedAt: old && !escalated ? old.raisedAt : now,
      handledAt: old && !escalated ? old.handledAt : null
    };
    alerts.push(alert);
    if (!old || escalated) raised.push(alert);
  }
  const cleared = previous.filter((a) => !seen.has(a.key));
  alerts.sort((a, b) => b.event.from - a.event.from || a.key.localeCompare(b.key));
  return { alerts, raised, cleared };
}

/**
 * What the headline says. Marking an alert handled means "I am doing what it says" (isolating,
 * getting tested), not "I was not exposed": handled alerts keep the headline off "no exposure"
 * until they age out (their visit leaves the diary, or their event is withdrawn).
 */
export interface ExposureSummary {
  state: 'none' | 'active' | 'handled';
  active: number;
  handled: number;
  /** the end of the latest visit that matched (the 14 days of watching count from it); null without alerts */
  lastExposureAt: number | null;
  /** 'high' when any alert, handled or not, is high level */
  highest: 'high' | 'monitor' | null;
}

export function exposureSummary(alerts: readonly ExposureAlert[]): ExposureSummary {
  const active = alerts.filter((a) => a.handledAt === null).length;
  const handled = alerts.length - active;
  return {
    state: active > 0 ? 'active' : handled > 0 ? 'handled' : 'none',
    active,
    handled,
    lastExposureAt: alerts.length ? Math.max(...alerts.map((a) => Math.min(a.visitCheckout, a.event.to + a.event.widenMinutes * MINUTE))) : null,
    highest: alerts.length === 0 ? null : alerts.some((a) => a.event.level === 'high') ? 'high' : 'monitor'
  };
}
