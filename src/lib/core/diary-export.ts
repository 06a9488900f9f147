/** The citizen's own export of the diary (CSV for a spreadsheet, JSON for a program). */
import type { Visit } from './visit';
import { dayKey, clockTime } from './time';

const COLUMNS = ['date', 'checkin', 'checkout', 'venue', 'venue_id', 'commune_code', 'venue_type', 'verification', 'source', 'note'] as const;

function csvCell(value: string): string {
  // Quote always when needed; a leading = + - @ would run as a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function visitsToCsv(visits: readonly Visit[]): string {
  const rows = [...visits]
    .sort((a, b) => a.checkin - b.checkin)
    .map((v) =>
      [
        dayKey(v.checkin),
        clockTime(v.checkin),
        v.checkout === null ? '' : clockTime(v.checkout),
        v.venueName,
        v.venueId ?? '',
        v.communeCode ?? '',
        v.venueType,
        v.verification,
        v.source,
        v.note
      ]
        .map(csvCell)
        .join(',')
    );
  // The BOM makes spreadsheet programs read the Vietnamese letters as UTF-8.
  return '\uFEFF' + [COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}

export function visitsToJson(visits: readonly Visit[], exportedAt: number): string {
  const sorted = [...visits].sort((a, b) => a.checkin - b.checkin);
  return JSON.stringify(
    {
      format: 'luu-vet-diary',
      version: 1,
      exportedAt: new Date(exportedAt).toISOString(),
      visits: sorted.map(({ token: _token, ...v }) => ({
        ...v,
        checkin: new Date(v.checkin).toISOString(),
        checkout: v.checkout === null ? null : new Date(v.checkout).toISOString()
      }))
    },
    null,
    2
  );
}
