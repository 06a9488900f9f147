/**
 * A commune team's exposure event as it is written: the checks on what the team types, before the
 * document goes into the commune database (where the gateway checks its schema again) and, once
 * published, is signed by the server. Pure, shared by the PWA and tests.
 */
import type { ExposureDraftRecord } from './documents';
import { DEFAULT_WIDEN_MINUTES, type ExposureEvent } from './exposure';
import { MINUTE, HOUR, DAY } from './time';
import type { VenueRecord } from './documents';

export type ExposureState = ExposureDraftRecord['state'];

export interface ExposureInput {
  venue: Pick<VenueRecord, 'venueId' | 'name' | 'communeCode'>;
  from: number;
  to: number;
  widenMinutes: number;
  level: ExposureEvent['level'];
  message: string;
  advice: string;
  contactPhone: string;
}

export type ExposureInputProblem = 'ends-before-start' | 'in-future' | 'too-long' | 'too-old' | 'no-contact';
/** What can be wrong with an exposure document: what the form checks, plus what only a hand-made document can get wrong. */
export type ExposureProblem = ExposureInputProblem | 'margin-too-wide';

/** An exposure is a stay of an infectious person somewhere: a market day, a night shift, a bus ride. */
export const MAX_EXPOSURE_LENGTH = 24 * HOUR;
/**
 * Phones keep their diaries at most 28 days (retention); an event older than that matches nothing.
 * Publishing it would only cost every phone bytes.
 */
export const MAX_EXPOSURE_AGE = 28 * DAY;
/** The widest margin the form offers; a wider one would warn people who came hours after the case left. */
export const MAX_WIDEN_MINUTES = 120;
/** Clocks of phones in the field drift: "now" on a team's phone may be this far ahead of the server's. */
export const CLOCK_SKEW = 10 * MINUTE;

const CONTACT = /^[0-9+ .()-]{3,20}$/;

/** The English words for a problem, for the gateway's refusals (the form shows its own translated texts). */
export const EXPOSURE_PROBLEM_REASONS: Record<ExposureProblem, string> = {
  'ends-before-start': 'an exposure window must end after it starts',
  'in-future': 'an exposure window cannot start in the future',
  'too-long': 'an exposure window is at most 24 hours',
  'too-old': 'an exposure window older than 28 days matches no diary: it can be withdrawn, not published',
  'no-contact': 'an exposure needs a contact phone number',
  'margin-too-wide': `an exposure margin is at most ${MAX_WIDEN_MINUTES} minutes`
};

/**
 * The rules of an exposure event, for the team's form and for the gateway alike (one place, so a
 * hand-made push cannot publish what the form would refuse): a window that ends after it starts,
 * lasts at most 24 h, does not start in the future and is at most 28 days old, a margin the form offers,
 * a contact number. A withdrawal is checked only for a window that ends after it starts: a team
 * must be able to withdraw any event it published, however old or however it was made, and a
 * withdrawn event warns nobody.
 */
export function exposureProblem(
  e: Pick<ExposureDraftRecord, 'from' | 'to' | 'widenMinutes' | 'contactPhone' | 'state'>,
  now: number
): ExposureProblem | null {
  if (e.state === 'withdrawn') return e.to < e.from ? 'ends-before-start' : null;
  if (e.to <= e.from) return 'ends-before-start';
  if (e.to - e.from > MAX_EXPOSURE_LENGTH) return 'too-long';
  // The start, not the end: a case's visit without a check-out ends at the venue's default stay,
  // which may still be ahead when the team publishes (a case confirmed mid-visit); warning those
  // who are there now is the point. A window that starts later is a mistake or a fabrication.
  if (e.from > now + CLOCK_SKEW) return 'in-future';
  if (e.to < now - MAX_EXPOSURE_AGE) return 'too-old';
  if (!CONTACT.test(e.contactPhone.trim())) return 'no-contact';
  if (e.widenMinutes < 0 || e.widenMinutes > MAX_WIDEN_MINUTES) return 'margin-too-wide';
  return null;
}

/** The form's check of what the team typed: exposureProblem on the window and contact alone. */
export function checkExposureInput(input: Pick<ExposureInput, 'from' | 'to' | 'contactPhone'>, now: number): ExposureInputProblem | null {
  return exposureProblem({ ...input, widenMinutes: 0, state: 'draft' }, now) as ExposureInputProblem | null;
}

/** 16 characters of [a-z0-9]: unique without coordination between the team's offline devices. */
export function newEventId(random: (n: number) => Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(random(16), (b) => alphabet[b % 36]).join('');
}

export function exposureDraftId(venueId: string, eventId: string): string {
  return `exposure:${venueId}:${eventId}`;
}

/** The document for the commune database: new when `previous` is absent, a new revision of it otherwise. */
export function exposureDraftDoc(
  input: ExposureInput,
  state: ExposureState,
  now: number,
  previous?: ExposureDraftRecord,
  eventId?: string
): ExposureDraftRecord {
  const id = previous?.eventId ?? eventId;
  if (!id) throw new Error('a new exposure needs an event id');
  // The venue of an event is fixed once written: its id is in the document id.
  const venue = previous ? { venueId: previous.venueId, venueName: previous.venueName, communeCode: previous.communeCode } : { venueId: input.venue.venueId, venueName: input.venue.name, communeCode: input.venue.communeCode };
  return {
    _id: exposureDraftId(venue.venueId, id),
    ...(previous?._rev ? { _rev: previous._rev } : {}),
    type: 'exposure',
    schema: 1,
    eventId: id,
    ...venue,
    from: input.from,
    to: input.to,
    widenMinutes: input.widenMinutes ?? DEFAULT_WIDEN_MINUTES,
    level: input.level,
    message: input.message.trim(),
    advice: input.advice.trim(),
    contactPhone: input.contactPhone.trim(),
    state,
    updatedAt: new Date(now).toISOString()
  };
}
