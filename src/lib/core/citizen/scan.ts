/**
 * What a scanned code is, from the citizen scanner's point of view: only venue codes are check-ins;
 * everything else gets a plain explanation (the UI words it), never a silent failure.
 */
import type { PersonSource } from '../person';
import { MAX_SCANNED_LENGTH, readStationCode } from '../venue/station-scan';
import { readVenueCode, type VenueCodeRead } from '../venue/venue-token';

export type ScanKind =
  | VenueCodeRead
  | { kind: 'personal' } // this app's or the national personal QR: shown at a station, not scanned by a citizen
  | { kind: 'id-card' } // CCCD: for a venue's scan station, not a check-in
  | { kind: 'health-insurance' } // BHYT
  | { kind: 'link'; host: string }
  | { kind: 'text'; preview: string }
  | { kind: 'empty' };

const KIND_OF_PERSON_CODE: Record<Exclude<PersonSource, 'manual'>, 'personal' | 'id-card' | 'health-insurance'> = {
  'personal-qr': 'personal',
  'national-qr': 'personal',
  cccd: 'id-card',
  bhyt: 'health-insurance'
};

/** Venue codes first; any other code is named with the station's own readers, so both agree on what a card is. */
export function classifyScan(raw: string): ScanKind {
  // No code is that long (see MAX_SCANNED_LENGTH): named as text without reading it through.
  if (raw.length > MAX_SCANNED_LENGTH) {
    const read = readStationCode(raw);
    return { kind: 'text', preview: read.ok ? '' : read.preview };
  }
  const venue = readVenueCode(raw);
  if (venue) return venue;
  const read = readStationCode(raw);
  if (read.ok) return { kind: read.person.source === 'manual' ? 'personal' : KIND_OF_PERSON_CODE[read.person.source] };
  if (read.reason === 'empty') return { kind: 'empty' };
  if (read.reason === 'link') return { kind: 'link', host: new URL(raw.replace(/\0/g, '').trim()).host };
  return { kind: 'text', preview: read.preview };
}
