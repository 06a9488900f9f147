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
/**
 * Venue ids: 12 characters of a lowercase base32 alphabet, made on the device that registers the
 * venue. Ids made before VENUE_ID_ALPHABET may hold any letter of it; the pattern accepts both.
 */
export const VENUE_ID_PATTERN = /^[a-z2-7]{12}$/;
/** Administrative unit codes are the numeric codes of the national list (province 2, district 3, commune 5 digits). */
export const UNIT_CODE_PATTERN = /^[0-9]{2,5}$/;
/**
 * The letters of new venue ids: VENUE_ID_PATTERN's alphabet without i, l, o and u, which a person
 * copying a poster's typed line reads or types as 1, 1, 0 and v. 28 letters, 12 of them: 57 bits.
 * Still inside VENUE_ID_PATTERN, so every document schema and installed app takes the new ids.
 */
export const VENUE_ID_ALPHABET = 'abcdefghjkmnpqrstvwxyz234567';

export function newVenueId(random: (n: number) => Uint8Array): string {
  const size = VENUE_ID_ALPHABET.length;
  // Bytes from 252 up are dropped: 256 is not a multiple of 28, and keeping them would favour some letters.
  const below = 256 - (256 % size);
  let id = '';
  while (id.length < 12) {
    for (const b of random(16)) if (b < below && id.length < 12) id += VENUE_ID_ALPHABET[b % size];
  }
  return id;
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
