/**
 * A commune team's exposure event as it is written: the checks on what the team types, before the
 * document goes into the commune database (where the gateway checks its schema again) and, once
 * published, is signed by the server. Pure, shared by the PWA and tests.
 */
import type { ExposureDraftRecord } from '../documents';
import { DEFAULT_WIDEN_MINUTES, type ExposureEvent } from './exposure';
import { exposureProblem, type ExposureInputProblem } from './exposure-rules';
import type { VenueRecord } from '../documents';

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

export {
  CLOCK_SKEW,
  EXPOSURE_PROBLEM_REASONS,
  exposureProblem,
  MAX_EXPOSURE_AGE,
  MAX_EXPOSURE_LENGTH,
  MAX_WIDEN_MINUTES,
  type ExposureInputProblem,
  type ExposureProblem
} from './exposure-rules';

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
