/**
 * Dates and figures as officials read them: dd/mm/yyyy and 24-hour times in Vietnam's time,
 * whatever the browser's locale; shares as whole percents; the statistics table as CSV.
 */
import { toCsv } from '$lib/core/csv';
import { FIGURE_KEYS, type Figures, type StatsAnswer } from '$lib/core/reports/figures';
import { clockTime, dayKey, dmy } from '$lib/core/time';

/** An instant (ISO text) as 'dd/mm/yyyy HH:mm' in Vietnam; '' for none or nonsense. */
export function stamp(iso: string | null | undefined): string {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? `${dmy(dayKey(ms))} ${clockTime(ms)}` : '';
}

/** 0.4249 → '42%'; null (no venues) → '–'. */
export function percent(share: number | null): string {
  return share === null ? '–' : `${Math.round(share * 100)}%`;
}

/** Statistics older than this are shown with a warning: the job normally runs every few minutes. */
export const STALE_AFTER_MS = 60 * 60_000;

export function isStale(updatedAt: string | null, now: number): boolean {
  if (!updatedAt) return true;
  const ms = Date.parse(updatedAt);
  return !Number.isFinite(ms) || now - ms > STALE_AFTER_MS;
}

/** The columns of the statistics table, in order; venues created shows new and registered together. */
export const TABLE_FIGURES = ['venuesNew', 'venues', 'venuesActive', 'checkins', 'entries', 'arrivals', 'arrivalsRisk', 'cases', 'contactsOpen', 'exposures'] as const satisfies readonly (keyof Figures)[];

/**
 * The table of a statistics answer as CSV (with a BOM, for spreadsheets): one row per child unit,
 * then the unit's totals. `headers` gives the words for the unit, code, figures, share and flag.
 */
export function statsCsv(
  answer: StatsAnswer,
  headers: { unit: string; code: string; share: string; low: string; total: string; figures: Record<(typeof TABLE_FIGURES)[number], string> },
  lowWords: (row: StatsAnswer['rows'][number]) => string
): string {
  const head = [headers.unit, headers.code, ...TABLE_FIGURES.slice(0, 3).map((k) => headers.figures[k]), headers.share, ...TABLE_FIGURES.slice(3).map((k) => headers.figures[k]), headers.low];
  const line = (name: string, code: string, f: Figures, share: number | null, low: string) => [
    name,
    code,
    ...TABLE_FIGURES.slice(0, 3).map((k) => String(f[k])),
    share === null ? '' : String(Math.round(share * 1000) / 10),
    ...TABLE_FIGURES.slice(3).map((k) => String(f[k])),
    low
  ];
  const totalShare = answer.totals.venues > 0 ? answer.totals.venuesActive / answer.totals.venues : null;
  return toCsv(head, [
    ...answer.rows.map((r) => line(r.name, r.code, r.figures, r.shareActive, r.low ? lowWords(r) : '')),
    line(`${headers.total}: ${answer.unit.name}`, answer.unit.code, answer.totals, totalShare, '')
  ]);
}

/** Every figure is listed in the chart, in the contract's order. */
export const CHART_FIGURES = FIGURE_KEYS;
