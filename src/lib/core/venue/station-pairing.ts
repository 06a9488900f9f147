/**
 * Pairing a staff member's phone to one venue's station (no password shared): the owner asks for a
 * short one-time code, the phone types it and gets a station session for that venue only.
 *
 * The code uses the alphabet of new venue ids (no i, l, o, u: nothing a person reads as 1 or 0), so
 * what is read off the owner's screen is what gets typed; 8 letters of 28 are 2^38 codes, and the
 * server lets a client try only a few wrong ones (server/staff).
 */
import { MINUTE } from '../time';
import { VENUE_ID_ALPHABET } from './venue';

export const PAIRING_CODE_LENGTH = 8;
/** Long enough to walk to the door and type it; short enough that a code seen over a shoulder soon means nothing. */
export const PAIRING_CODE_TTL = 10 * MINUTE;
/** What the owner calls a device ("Cửa chính", "Máy của Lan"): shown in the owner's list only. */
export const STATION_LABEL_MAX = 40;

export function newPairingCode(random: (n: number) => Uint8Array): string {
  const size = VENUE_ID_ALPHABET.length;
  const below = 256 - (256 % size);
  let code = '';
  while (code.length < PAIRING_CODE_LENGTH) {
    for (const b of random(16)) if (b < below && code.length < PAIRING_CODE_LENGTH) code += VENUE_ID_ALPHABET[b % size];
  }
  return code;
}

/**
 * A typed code as the server compares it, or null when it cannot be one: case, spaces and dashes
 * do not matter, and u and 8 (not in the alphabet) are read as the v and b they look like.
 */
export function normalizePairingCode(typed: string): string | null {
  const code = typed.normalize('NFKC').toLowerCase().replace(/[\s\-–—_.]+/g, '').replace(/u/g, 'v').replace(/8/g, 'b');
  if (code.length !== PAIRING_CODE_LENGTH) return null;
  for (const c of code) if (!VENUE_ID_ALPHABET.includes(c)) return null;
  return code;
}

/** Two groups of four, as shown large on the owner's screen: `abcd efgh`. */
export function formatPairingCode(code: string): string {
  return `${code.slice(0, 4)} ${code.slice(4)}`;
}

/** A device label as stored: trimmed, one space between words, at most STATION_LABEL_MAX letters. */
export function cleanStationLabel(label: string): string {
  return [...label.normalize('NFC').trim().replace(/\s+/g, ' ')].slice(0, STATION_LABEL_MAX).join('');
}
