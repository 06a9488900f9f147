/**
 * The rules an exposure event must meet, for the team's form, the gateway and the signer alike (one
 * place, so a hand-made push cannot publish what the form would refuse). Apart from the draft
 * documents (exposure-draft.ts), so that the document schemas (documents.ts) can apply them without
 * an import circle.
 */
import { MINUTE, HOUR, DAY } from '../time';

/** The fields of an event the rules read (a draft document, or what the form holds). */
export interface ExposureWindow {
  from: number;
  to: number;
  widenMinutes: number;
  contactPhone: string;
  state: 'draft' | 'published' | 'withdrawn';
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
  e: ExposureWindow,
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
