/**
 * Exposure events and the on-device tracing check (DESIGN §7). A published event says: someone
 * infectious was at this venue between these times. A phone matches its own diary against the
 * events it holds; nothing about the diary leaves the phone.
 *
 * Rule (PC-Covid's): a visit matches when its interval [checkin, checkout] overlaps the event's
 * [from, to] widened by ±60 minutes (configurable per event). A visit without a check-out lasts its
 * venue type's default stay. Touching intervals count: at the boundary we would rather warn.
 *
 * The phone loads this module: it holds no signing code and imports no curve library (per-event
 * signatures are in exposure-sign.ts, whole snapshots in snapshot-format.ts).
 */
import * as v from 'valibot';
import { VENUE_ID_PATTERN, VENUE_NAME_MAX } from '../venue/venue';
import { effectiveCheckout, type Visit } from '../citizen/visit';
import { MINUTE } from '../time';

export const DEFAULT_WIDEN_MINUTES = 60;

export const ExposureLevel = v.picklist(['high', 'monitor']);

/** What a team writes about an exposure: shared by the draft in the commune database and the published event. */
export const EXPOSURE_FIELDS = {
  eventId: v.pipe(v.string(), v.regex(/^[a-z0-9]{8,32}$/)),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  venueName: v.pipe(v.string(), v.maxLength(VENUE_NAME_MAX)),
  communeCode: v.pipe(v.string(), v.regex(/^[0-9]{5}$/)),
  from: v.pipe(v.number(), v.integer()),
  to: v.pipe(v.number(), v.integer()),
  widenMinutes: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(24 * 60)),
  level: ExposureLevel,
  message: v.pipe(v.string(), v.maxLength(500)),
  advice: v.pipe(v.string(), v.maxLength(500)),
  contactPhone: v.pipe(v.string(), v.maxLength(20))
};

export const ExposureEventSchema = v.object({
  ...EXPOSURE_FIELDS,
  /** Corrections publish a higher version of the same event; the highest wins. */
  version: v.pipe(v.number(), v.integer(), v.minValue(1)),
  withdrawn: v.boolean()
});
export type ExposureEvent = v.InferOutput<typeof ExposureEventSchema>;

export interface SignedExposure {
  event: ExposureEvent;
  keyId: string;
  /** hex of the Ed25519 signature over the canonical form */
  signature: string;
}

/** The fields in a fixed order: what is signed, byte for byte the same on server and phone. */
export function exposureSigningBytes(e: ExposureEvent): Uint8Array {
  return new TextEncoder().encode(
    'LVX1:' +
      JSON.stringify([e.eventId, e.version, e.venueId, e.venueName, e.communeCode, e.from, e.to, e.widenMinutes, e.level, e.message, e.advice, e.contactPhone, e.withdrawn])
  );
}

/** Latest version of each event; withdrawn ones are dropped (a withdrawal clears its alerts). */
export function currentEvents(events: readonly ExposureEvent[]): ExposureEvent[] {
  const latest = new Map<string, ExposureEvent>();
  for (const e of events) {
    const seen = latest.get(e.eventId);
    if (!seen || e.version > seen.version) latest.set(e.eventId, e);
  }
  return [...latest.values()].filter((e) => !e.withdrawn);
}

export interface ExposureMatch {
  visit: Visit;
  event: ExposureEvent;
}

/**
 * Visits that overlap current events at the same venue. Only events at venues of the diary are
 * looked at (a Set lookup each), and versions are resolved for those events alone: against 100,000
 * events, resolving every event's versions first cost more than the matching itself.
 */
export function matchExposures(visits: readonly Visit[], events: readonly ExposureEvent[]): ExposureMatch[] {
  const visited = new Set<string>();
  for (const visit of visits) if (visit.venueId) visited.add(visit.venueId);
  // Every version of an event that has any version at a visited venue: a correction decides, wherever it points.
  const relevantIds = new Set<string>();
  for (const e of events) if (visited.has(e.venueId)) relevantIds.add(e.eventId);
  const byVenue = new Map<string, ExposureEvent[]>();
  for (const e of currentEvents(events.filter((e) => relevantIds.has(e.eventId)))) {
    const list = byVenue.get(e.venueId);
    if (list) list.push(e);
    else byVenue.set(e.venueId, [e]);
  }
  const matches: ExposureMatch[] = [];
  for (const visit of visits) {
    if (!visit.venueId) continue;
    const candidates = byVenue.get(visit.venueId);
    if (!candidates) continue;
    const start = visit.checkin;
    const end = effectiveCheckout(visit);
    for (const event of candidates) {
      const widen = event.widenMinutes * MINUTE;
      if (start <= event.to + widen && end >= event.from - widen) matches.push({ visit, event });
    }
  }
  return matches;
}
