/**
 * A citizen's visit: the unit of the private diary. Lives only on the phone (DESIGN §3).
 */
import { DEFAULT_STAY_MINUTES, type VenueType } from '../venue/venue';
import { DAY, MINUTE, dayKey, fromVietnamLocal } from '../time';

/**
 * - verified: the venue code's signature checked against a server key
 * - pending: the code was read, its key is not known yet (offline cold start); checked again later
 * - unverified: checked, and the signature is wrong or the key is unknown to the server: "chưa xác thực"
 * - manual: typed in by the citizen for a place without a code
 */
export type VisitVerification = 'verified' | 'pending' | 'unverified' | 'manual';
export type VisitSource = 'link' | 'scan' | 'manual';

export interface Visit {
  id: string;
  venueId: string | null;
  venueName: string;
  communeCode: string | null;
  venueType: VenueType;
  /** ms since epoch */
  checkin: number;
  checkout: number | null;
  source: VisitSource;
  verification: VisitVerification;
  /** the venue token as scanned, kept so that a pending visit can be verified later */
  token: string | null;
  note: string;
}

/** Opening the same venue's code again within this time is the same visit (a double scan, a reload). */
export const REPEAT_CHECKIN_WINDOW = 10 * MINUTE;

/** The visit that a new check-in at this venue repeats, if any. */
export function findRepeatCheckin(visits: readonly Visit[], venueId: string, now: number): Visit | undefined {
  return visits.find(
    (v) => v.venueId === venueId && v.checkout === null && now - v.checkin >= 0 && now - v.checkin < REPEAT_CHECKIN_WINDOW
  );
}

/** A check-in at a venue by its code (a link or a scan), as both ways of saving it write it. */
export function scannedVisit(
  input: { claims: { venueId: string; name: string; communeCode: string; venueType: Visit['venueType'] }; token: string; source: VisitSource; verification: VisitVerification },
  id: string,
  now: number
): Visit {
  return {
    id,
    venueId: input.claims.venueId,
    venueName: input.claims.name,
    communeCode: input.claims.communeCode,
    venueType: input.claims.venueType,
    checkin: now,
    checkout: null,
    source: input.source,
    verification: input.verification,
    token: input.token,
    note: ''
  };
}

/** When the visit is taken to have ended: its check-out, or check-in + the venue type's default stay. */
export function effectiveCheckout(visit: Pick<Visit, 'checkin' | 'checkout' | 'venueType'>): number {
  return visit.checkout ?? visit.checkin + DEFAULT_STAY_MINUTES[visit.venueType] * MINUTE;
}

/** Not checked out and still within the venue type's default stay: checking out now makes sense. */
export function isOngoing(visit: Pick<Visit, 'checkin' | 'checkout' | 'venueType'>, now: number): boolean {
  return visit.checkout === null && now < effectiveCheckout(visit);
}

/**
 * A visit that a later check-in ended. `previousCheckout` is what it had before (null: still open),
 * so that undo can give it back.
 */
export interface Closure {
  visitId: string;
  venueName: string;
  checkout: number;
  previousCheckout: number | null;
}

/**
 * One place at a time: a visit left open ends when the next visit in the diary begins, or at the end
 * of its venue type's default stay if that comes first. Without this, every check-in since the last
 * "Ra về" stays "here now", a shared day lists each as "chưa ra", and an office visit stretches into
 * the next day, widening the window an exposure can match.
 * Returns the visits to close (none for the last visit, which nothing has ended yet).
 */
export function closuresAfter(visits: readonly Pick<Visit, 'id' | 'venueName' | 'checkin' | 'checkout' | 'venueType'>[]): Closure[] {
  const ordered = [...visits].sort((a, b) => a.checkin - b.checkin);
  const closures: Closure[] = [];
  for (let i = 0; i < ordered.length; i++) {
    const visit = ordered[i]!;
    if (visit.checkout !== null) continue;
    // The next visit that began strictly later: two visits at the same minute say nothing about order.
    const next = ordered.slice(i + 1).find((v) => v.checkin > visit.checkin);
    if (!next) continue;
    closures.push({ visitId: visit.id, venueName: visit.venueName, checkout: Math.min(next.checkin, effectiveCheckout(visit)), previousCheckout: null });
  }
  return closures;
}

/**
 * The visits with those left open ended as `closuresAfter` ends them: what is handed to a team
 * (a shared day) says when each visit ended, even for a diary kept before check-ins closed visits.
 */
export function settleOpenVisits<V extends Pick<Visit, 'id' | 'venueName' | 'checkin' | 'checkout' | 'venueType'>>(visits: readonly V[]): V[] {
  const ends = new Map(closuresAfter(visits).map((c) => [c.visitId, c.checkout]));
  return visits.map((v) => (ends.has(v.id) ? { ...v, checkout: ends.get(v.id)! } : v));
}

/** The one visit the diary may call "here now": the latest, if it is still ongoing. */
export function currentVisitId(visits: readonly Pick<Visit, 'id' | 'checkin' | 'checkout' | 'venueType'>[], now: number): string | null {
  let latest: (typeof visits)[number] | undefined;
  for (const v of visits) if (v.checkin <= now && (!latest || v.checkin > latest.checkin)) latest = v;
  return latest && isOngoing(latest, now) ? latest.id : null;
}

export type TimesProblem = 'checkout-before-checkin' | 'in-future' | 'too-long';

/** Longest visit a person can enter by hand: a night shift at a factory, a long bus ride. */
export const MAX_VISIT_LENGTH = 24 * 60 * MINUTE;

export function checkTimes(checkin: number, checkout: number | null, now: number): TimesProblem | null {
  if (checkin > now + MINUTE) return 'in-future';
  if (checkout !== null) {
    if (checkout < checkin) return 'checkout-before-checkin';
    if (checkout > now + MINUTE) return 'in-future';
    if (checkout - checkin > MAX_VISIT_LENGTH) return 'too-long';
  }
  return null;
}

export type VisitTimes = { ok: true; checkin: number; checkout: number | null } | { ok: false; problem: TimesProblem | 'bad-time' };

/**
 * A visit's times as a person types them: a day and wall-clock times in Vietnam. A check-out earlier
 * on the clock than the check-in is the next morning (a night shift, a night bus).
 */
export function visitTimesFromClock(day: string, checkinTime: string, checkoutTime: string, now: number): VisitTimes {
  const checkin = fromVietnamLocal(day, checkinTime);
  let checkout = checkoutTime ? fromVietnamLocal(day, checkoutTime) : null;
  if (checkin === null || (checkoutTime && checkout === null)) return { ok: false, problem: 'bad-time' };
  if (checkout !== null && checkout < checkin) {
    // Read as the next morning only when that morning has come: otherwise the person left before arriving.
    if (checkout + DAY > now + MINUTE) return { ok: false, problem: 'checkout-before-checkin' };
    checkout += DAY;
  }
  const problem = checkTimes(checkin, checkout, now);
  return problem ? { ok: false, problem } : { ok: true, checkin, checkout };
}

/** Visits grouped by their Vietnamese day of check-in, keeping the order given (the diary lists newest first). */
export function visitsByDay<V extends Pick<Visit, 'checkin'>>(visits: readonly V[]): { day: string; visits: V[] }[] {
  const groups: { day: string; visits: V[] }[] = [];
  const index = new Map<string, { day: string; visits: V[] }>();
  for (const visit of visits) {
    const day = dayKey(visit.checkin);
    const group = index.get(day);
    if (group) group.visits.push(visit);
    else {
      const created = { day, visits: [visit] };
      index.set(day, created);
      groups.push(created);
    }
  }
  return groups;
}
