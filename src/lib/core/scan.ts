/**
 * What a scanned code is, from the citizen scanner's point of view: only venue codes are check-ins;
 * everything else gets a plain explanation (the UI words it), never a silent failure.
 */
import { extractVenueToken, parseVenueToken, type ParsedToken } from './venue-token';
import { PERSONAL_QR_PREFIX } from './personal-qr';

export type ScanKind =
  | { kind: 'venue'; token: string; parsed: Extract<ParsedToken, { ok: true }> }
  | { kind: 'venue-damaged' }
  | { kind: 'personal' } // this app's personal QR: shown at a station, not scanned by a citizen
  | { kind: 'id-card' } // CCCD: for a venue's scan station, not a check-in
  | { kind: 'health-insurance' } // BHYT
  | { kind: 'link'; host: string }
  | { kind: 'text'; preview: string }
  | { kind: 'empty' };

const PREVIEW_LENGTH = 60;

export function classifyScan(raw: string): ScanKind {
  // Scanners may add NULs or spaces around the payload.
  const text = raw.replace(/\0/g, '').trim();
  if (!text) return { kind: 'empty' };

  const token = extractVenueToken(text);
  if (token !== null) {
    const parsed = parseVenueToken(token);
    return parsed.ok ? { kind: 'venue', token, parsed } : { kind: 'venue-damaged' };
  }

  if (text.toUpperCase().startsWith(PERSONAL_QR_PREFIX)) return { kind: 'personal' };
  const fields = text.split('|');
  if (fields.length >= 7 && /^\d{12}$/.test(fields[0]!.trim())) return { kind: 'id-card' };
  if (fields.length >= 15 && /^(\d{10}|[A-Z]{2}\d{13})$/i.test(fields[0]!.trim())) return { kind: 'health-insurance' };

  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return { kind: 'link', host: url.host };
  } catch {
    // not a URL: plain text below
  }
  const chars = [...text];
  return { kind: 'text', preview: chars.length > PREVIEW_LENGTH ? chars.slice(0, PREVIEW_LENGTH).join('') + '…' : text };
}
