/**
 * Venue types and their default length of stay. A visit without a check-out is taken to last
 * the default stay of its venue's type (DESIGN §7), so these numbers decide who gets warned.
 */

export const VENUE_TYPES = [
  'office',
  'school',
  'health',
  'market',
  'shop',
  'food',
  'lodging',
  'factory',
  'worship',
  'transport',
  'checkpoint',
  'other'
] as const;

export type VenueType = (typeof VENUE_TYPES)[number];

/** Minutes. Long enough to cover a usual stay: a too-short stay misses contacts, a too-long one over-warns. */
export const DEFAULT_STAY_MINUTES: Record<VenueType, number> = {
  office: 9 * 60,
  school: 8 * 60,
  health: 2 * 60,
  market: 60,
  shop: 30,
  food: 90,
  lodging: 12 * 60,
  factory: 9 * 60,
  worship: 90,
  transport: 2 * 60,
  checkpoint: 15,
  other: 60
};

/** The position in VENUE_TYPES is the type's code inside a venue token; append new types only. */
export function venueTypeCode(type: VenueType): number {
  return VENUE_TYPES.indexOf(type);
}

export function venueTypeFromCode(code: unknown): VenueType | null {
  return typeof code === 'number' && Number.isInteger(code) ? (VENUE_TYPES[code] ?? null) : null;
}

export function isVenueType(value: unknown): value is VenueType {
  return typeof value === 'string' && (VENUE_TYPES as readonly string[]).includes(value);
}

/** Longest venue name a token carries; posters show the same name. */
export const VENUE_NAME_MAX = 80;
/** Venue ids: 12 characters of a lowercase base32 alphabet (60 bits), made on the device that registers the venue. */
export const VENUE_ID_PATTERN = /^[a-z2-7]{12}$/;
/** Administrative unit codes are the numeric codes of the national list (province 2, district 3, commune 5 digits). */
export const UNIT_CODE_PATTERN = /^[0-9]{2,5}$/;

export function newVenueId(random: (n: number) => Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from(random(12), (b) => alphabet[b & 31]).join('');
}

export type VenueStatus = 'active' | 'suspended';

export function venueDocId(venueId: string): string {
  return `venue:${venueId}`;
}

/** A demo venue as `/api/demo` gives it: what a poster needs, with its signed check-in URL. */
export interface DemoVenue {
  venueId: string;
  name: string;
  venueType: VenueType;
  url: string;
  address: string;
  communeLabel: string;
  fallbackUrl: string;
}
