/** The citizen's own export of the diary (CSV for a spreadsheet and people, JSON for a program: ISO times). */
import type { Visit } from './visit';
import { dayKey, clockTime, dmy } from '../time';
import { toCsv } from '../csv';

export const DIARY_CSV_COLUMNS = ['date', 'checkin', 'checkout', 'venue', 'venue_id', 'commune_code', 'venue_type', 'verification', 'source', 'note'] as const;
export type DiaryCsvColumn = (typeof DIARY_CSV_COLUMNS)[number];

/** The words of the CSV, in the language of the screen it was exported from (a spreadsheet is read by people). */
export interface DiaryCsvLabels {
  columns: Record<DiaryCsvColumn, string>;
  venueType(type: Visit['venueType']): string;
  verification(verification: Visit['verification']): string;
  source(source: Visit['source']): string;
}

/** Without labels: the column keys and the stored values, for a program. */
const RAW_LABELS: DiaryCsvLabels = {
  columns: Object.fromEntries(DIARY_CSV_COLUMNS.map((c) => [c, c])) as Record<DiaryCsvColumn, string>,
  venueType: (t) => t,
  verification: (v) => v,
  source: (s) => s
};

export function visitsToCsv(visits: readonly Visit[], labels: DiaryCsvLabels = RAW_LABELS): string {
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
        labels.venueType(v.venueType),
        labels.verification(v.verification),
        labels.source(v.source),
        v.note
      ]);
  return toCsv(DIARY_CSV_COLUMNS.map((c) => labels.columns[c]), rows);
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
