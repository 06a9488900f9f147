/**
 * What a venue's scan station makes of a scanned code: a person to log (from this app's personal
 * QR, a CCCD, a BHYT card or the national personal QR), or the reason it is not one. The UI words
 * the reasons; a wrong code is never silently dropped.
 */
import { parseBhyt, parseCccd, parseNationalQr } from '../id-codes';
import type { PersonRecord } from '../person';
import { parsePersonalQr, personFromPersonalQr, type HealthDeclaration } from '../citizen/personal-qr';
import { foldVietnamese, normalizePhone } from '../text';
import { extractVenueToken } from './venue-token';

export { normalizePhone };

export type StationRead =
  | { ok: true; person: PersonRecord; declaration?: HealthDeclaration }
  | { ok: false; reason: 'empty' | 'venue-code' | 'link' | 'unknown'; preview: string };

const PREVIEW_LENGTH = 60;
/**
 * A QR code holds at most 2,953 bytes (version 40, level L), and the longest code a station reads (a
 * BHYT card) is about 400 characters: longer text (a paste, a hostile reader) is refused at once,
 * rather than walked through every reader and URL parser (a megabyte of it took 1.5 s).
 */
export const MAX_SCANNED_LENGTH = 4096;

/** The start of what was scanned, on one line, for "this is not a code we read: …". */
function previewOf(text: string): string {
  const chars = [...text.replace(/[\p{Cc}\s]+/gu, ' ').trim()];
  return chars.length > PREVIEW_LENGTH ? chars.slice(0, PREVIEW_LENGTH).join('') + '…' : chars.join('');
}

function isWebLink(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * The personal QR goes first (its prefix cannot be mistaken), then venue codes (a citizen
 * scanning the poster at the station's camera), then the cards: a CCCD starts with 12 digits and
 * a `|`, a BHYT with a card number, and the national QR has exactly 6 fields, so none of them
 * can read another's code.
 */
export function readStationCode(raw: string): StationRead {
  if (raw.length > MAX_SCANNED_LENGTH) return { ok: false, reason: 'unknown', preview: previewOf(raw.slice(0, 4 * PREVIEW_LENGTH)) };
  const text = raw.replace(/\0/g, '').trim();
  if (!text) return { ok: false, reason: 'empty', preview: '' };

  const personal = parsePersonalQr(text);
  if (personal) {
    const person = personFromPersonalQr(personal);
    return personal.declaration ? { ok: true, person, declaration: personal.declaration } : { ok: true, person };
  }
  if (extractVenueToken(text) !== null) return { ok: false, reason: 'venue-code', preview: previewOf(text) };

  const person = parseCccd(text) ?? parseBhyt(text) ?? parseNationalQr(text);
  if (person) return { ok: true, person };

  return { ok: false, reason: isWebLink(text) ? 'link' : 'unknown', preview: previewOf(text) };
}

function numbersOf(p: PersonRecord): string[] {
  return [p.idNumber, p.oldIdNumber].filter((n): n is string => !!n);
}

/**
 * Whether two reads at a station are the same person, so a second scan within minutes is not
 * logged again. A wrong "yes" loses a contact from the trace and a wrong "no" only adds a
 * duplicate line, so a shared number decides, a differing number of the same kind means two
 * people, and names are trusted only when no number can be compared:
 * - ID numbers (CCCD or the old CMND beside it): same person iff one is shared;
 * - insurance numbers: same person iff equal;
 * - phones: a family often shares one phone (children, grandparents), so an equal phone counts
 *   only with the same name; a different phone means a different person;
 * - otherwise the same name (ignoring case, accents and spacing) and the same birth year.
 */
export function samePerson(a: PersonRecord, b: PersonRecord): boolean {
  const idsA = numbersOf(a);
  const idsB = numbersOf(b);
  if (idsA.length > 0 && idsB.length > 0) return idsA.some((n) => idsB.includes(n));
  if (a.insuranceNumber && b.insuranceNumber) return a.insuranceNumber.toUpperCase() === b.insuranceNumber.toUpperCase();

  const nameA = foldVietnamese(a.name);
  const sameName = nameA !== '' && nameA === foldVietnamese(b.name);
  const phoneA = a.phone ? normalizePhone(a.phone) : null;
  const phoneB = b.phone ? normalizePhone(b.phone) : null;
  if (phoneA && phoneB) return phoneA === phoneB && sameName;
  return sameName && a.birthYear !== undefined && a.birthYear === b.birthYear;
}
