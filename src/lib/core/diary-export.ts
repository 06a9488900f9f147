/** The citizen's own export of the diary (CSV for a spreadsheet and people, JSON for a program: ISO times). */
import type { Visit } from './visit';
import { dayKey, clockTime, dmy } from './time';
import { toCsv } from './csv';

const COLUMNS = ['date', 'checkin', 'checkout', 'venue', 'venue_id', 'commune_code', 'venue_type', 'verification', 'source', 'note'] as const;

export function visitsToCsv(visits: readonly Visit[]): string {
  const rows = [...visits]
    .sort((a, b) => a.checkin - b.checkin)
    .map((v) => [
        // dd/mm/yyyy as Vietnamese papers write it: a spreadsheet must not read 05/09 as May.
        dmy(dayKey(v.checkin)),
        clockTime(v.checkin),
        v.checkout === null ? '' : clockTime(v.checkout),
        v.venueName,
        v.venueId ?? '',
        v.communeCode ?? '',
        v.venueType,
        v.verification,
        v.source,
        v.note
      ]);
  return toCsv(COLUMNS, rows);
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
