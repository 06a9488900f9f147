/**
 * Weekly and monthly reports (DESIGN §12): a unit's figures for a period, the remarks the commune
 * teams write (difficulties, proposals, what was done), who submitted on time, late or not at all,
 * and a district's or province's report rolling up the communes below. Pure arithmetic, shared by
 * the server's `/api/reports/submissions`, the team's report page and the district's report view.
 * Counts and the teams' own words only: never a name, a phone or an ID number.
 */
import { toCsv } from '../csv';
import { cleanText } from '../text';
import { dayKey, clockTime, fromVietnamLocal } from '../time';
import type { UnitLevel } from '../units';
import { FIGURE_KEYS, zeroFigures, type Figures } from './figures';
import { addDays, currentWeek, daysBetween, reportingRates, submissionTiming, weekPeriod, type Period, type ReportSchedule, type SubmissionTiming } from './period';

/** What a commune team writes beside its figures. */
export const REMARK_FIELDS = ['difficulties', 'proposals', 'done'] as const;
export type RemarkField = (typeof REMARK_FIELDS)[number];
export type Remarks = Record<RemarkField, string>;

/** Letters per remark: a page of a handwritten report, bounded so that a report stays a small document. */
export const REMARK_MAX = 2000;

export function emptyRemarks(): Remarks {
  return { difficulties: '', proposals: '', done: '' };
}

/**
 * Remarks as stored: each cleaned as every typed text is (cleanText) and cut at REMARK_MAX letters
 * (code points, so a cut never splits a letter in two), anything else dropped.
 */
export function cleanRemarks(input: Partial<Record<RemarkField, unknown>> | null | undefined): Remarks {
  const out = emptyRemarks();
  for (const field of REMARK_FIELDS) {
    const value = input?.[field];
    if (typeof value !== 'string') continue;
    const clean = cleanText(value);
    const letters = Array.from(clean);
    out[field] = letters.length > REMARK_MAX ? letters.slice(0, REMARK_MAX).join('').trimEnd() : clean;
  }
  return out;
}

export function hasRemarks(remarks: Remarks | null | undefined): boolean {
  return !!remarks && REMARK_FIELDS.some((field) => remarks[field] !== '');
}

/**
 * Figures of units side by side summed into their parent's: every figure adds up, `venuesActive`
 * too, since a venue belongs to one commune and so is counted by one unit only.
 */
export function sumFigures(list: readonly Figures[]): Figures {
  const total = zeroFigures();
  for (const figures of list) for (const key of FIGURE_KEYS) total[key] += figures[key];
  return total;
}

/** Figures that are a count at a moment (the end of the period), not a sum of what happened. */
const STOCKS = ['venues', 'contactsOpen'] as const satisfies readonly (keyof Figures)[];

/**
 * A unit's figures for a period from its days (in any order): what happened is summed over the
 * days; `venues` and `contactsOpen` are the last day's (registered, under follow-up at the end);
 * `venuesActive` counts distinct venues, which days cannot tell apart (a venue active on Monday and
 * Tuesday is one venue), so the aggregates' own distinct count is taken when given, else the
 * busiest day's count, a lower bound.
 */
export function figuresOverDays(days: readonly { day: string; figures: Figures }[], distinctActive?: number): Figures {
  const total = zeroFigures();
  if (days.length === 0) return total;
  const ordered = [...days].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  for (const { figures } of ordered) for (const key of FIGURE_KEYS) if (!(STOCKS as readonly string[]).includes(key) && key !== 'venuesActive') total[key] += figures[key];
  const last = ordered[ordered.length - 1]!.figures;
  for (const key of STOCKS) total[key] = last[key];
  total.venuesActive = distinctActive ?? Math.max(...ordered.map((d) => d.figures.venuesActive));
  return total;
}

/** The first instant of the period (00:00 of its first day, Vietnam time). */
export function periodStart(period: Period): number {
  return fromVietnamLocal(period.from, '00:00')!;
}

/**
 * The time a submission counts as made, for timeliness. The device's own time of submission, so a
 * team that submits in the field on the due day and finds a signal two days later is on time; but
 * never later than when the server first saw it (a wrong clock cannot make a report late) and never
 * before the period began (nor earlier than the server could have it: a clock set back cannot make
 * a late report on time by more than its time offline). Null device time: the server's.
 */
export function countedSubmissionTime(deviceIso: string | null | undefined, firstSeen: number, period: Period): number {
  const device = deviceIso ? Date.parse(deviceIso) : NaN;
  const claimed = Number.isFinite(device) ? device : firstSeen;
  return Math.max(periodStart(period), Math.min(claimed, firstSeen));
}

/** `submission:<commune>:<periodId>` in lv_reports: what a commune team submitted, copied by the server. */
export interface SubmissionDoc {
  _id: string;
  _rev?: string;
  type: 'submission';
  schema: 1;
  communeCode: string;
  periodId: string;
  /** the counted time of the FIRST submission (countedSubmissionTime): a report edited and submitted again keeps it */
  submittedAt: string;
  /** when the server first saw a submission of this report */
  receivedAt: string;
  /** when the server last copied a submission of this report (the latest remarks) */
  updatedAt: string;
  /** how many times the team submitted it */
  submissions: number;
  remarks: Remarks;
  /** the figures the team reviewed when it submitted, and from when they were; null when it had none */
  figures: Figures | null;
  figuresAt: string | null;
}

export function submissionDocId(communeCode: string, periodId: string): string {
  return `submission:${communeCode}:${periodId}`;
}

/**
 * The stored submission after the team submitted (again): a report edited and submitted again
 * keeps its first submission time, so timeliness is the first submission's; remarks and figures
 * are the latest.
 */
export function mergeSubmission(
  existing: SubmissionDoc | null,
  incoming: { communeCode: string; periodId: string; submittedAt: number; seenAt: number; remarks: Remarks; figures: Figures | null; figuresAt: string | null }
): SubmissionDoc {
  const seen = new Date(incoming.seenAt).toISOString();
  return {
    _id: submissionDocId(incoming.communeCode, incoming.periodId),
    ...(existing?._rev ? { _rev: existing._rev } : {}),
    type: 'submission',
    schema: 1,
    communeCode: incoming.communeCode,
    periodId: incoming.periodId,
    submittedAt: existing?.submittedAt ?? new Date(incoming.submittedAt).toISOString(),
    receivedAt: existing?.receivedAt ?? seen,
    updatedAt: seen,
    submissions: (existing?.submissions ?? 0) + 1,
    remarks: incoming.remarks,
    figures: incoming.figures,
    figuresAt: incoming.figuresAt
  };
}

/** One commune's line of the submission table. */
export interface SubmissionRow {
  code: string;
  name: string;
  /** the district the commune lies in now (null in a 2-level province) */
  district: { code: string; name: string } | null;
  status: SubmissionTiming;
  submittedAt: string | null;
  receivedAt: string | null;
  remarks: Remarks | null;
  figures: Figures | null;
}

export type Rates = ReturnType<typeof reportingRates>;

/** `GET /api/reports/submissions?unit=&period=` */
export interface SubmissionsAnswer {
  unit: { code: string; name: string; level: UnitLevel };
  period: Period;
  /** the moment the statuses are for */
  asOf: string;
  communes: SubmissionRow[];
  rates: Rates;
  /** per district, for a province with districts (empty otherwise) */
  districts: { code: string; name: string; rates: Rates }[];
}

export interface CommuneOfUnit {
  code: string;
  name: string;
  district: { code: string; name: string } | null;
}

/**
 * Each commune's status for the period at `now`: on time, late, missing, or not due yet, from the
 * submissions the server copied. Communes in the order given (district, then name, is the caller's).
 */
export function submissionRows(period: Period, communes: readonly CommuneOfUnit[], submissions: ReadonlyMap<string, SubmissionDoc>, now: number): SubmissionRow[] {
  return communes.map((c) => {
    const s = submissions.get(c.code) ?? null;
    return {
      code: c.code,
      name: c.name,
      district: c.district,
      status: submissionTiming(period, s ? Date.parse(s.submittedAt) : null, now),
      submittedAt: s?.submittedAt ?? null,
      receivedAt: s?.receivedAt ?? null,
      remarks: s?.remarks ?? null,
      figures: s?.figures ?? null
    };
  });
}

export function ratesOf(rows: readonly Pick<SubmissionRow, 'status'>[]): Rates {
  return reportingRates(rows.map((r) => r.status));
}

/** Rates of each district's communes, districts in the order they first appear. */
export function ratesByDistrict(rows: readonly SubmissionRow[]): { code: string; name: string; rates: Rates }[] {
  const groups = new Map<string, { name: string; rows: SubmissionRow[] }>();
  for (const row of rows) {
    if (!row.district) continue;
    const group = groups.get(row.district.code) ?? { name: row.district.name, rows: [] };
    group.rows.push(row);
    groups.set(row.district.code, group);
  }
  return [...groups].map(([code, g]) => ({ code, name: g.name, rates: ratesOf(g.rows) }));
}

export function submissionsAnswer(unit: SubmissionsAnswer['unit'], period: Period, communes: readonly CommuneOfUnit[], submissions: ReadonlyMap<string, SubmissionDoc>, now: number): SubmissionsAnswer {
  const rows = submissionRows(period, communes, submissions, now);
  return { unit, period, asOf: new Date(now).toISOString(), communes: rows, rates: ratesOf(rows), districts: ratesByDistrict(rows) };
}

/** The report of a district or province for a period: figures rolled up, statuses, remarks by commune. */
export interface UnitReport {
  unit: { code: string; name: string; level: UnitLevel };
  period: Period;
  /** the units below (communes of a district, districts of a province) and their figures */
  rows: { code: string; name: string; figures: Figures }[];
  /** the unit's figures: the rows summed */
  totals: Figures;
  /** from when the figures are (the aggregates' last update); null when unknown */
  figuresAt: string | null;
  submissions: SubmissionRow[];
  rates: Rates;
  districts: { code: string; name: string; rates: Rates }[];
  /** communes that wrote something, in the submission table's order */
  remarks: { code: string; name: string; district: string | null; remarks: Remarks }[];
}

/**
 * A unit's report from its children's figures (the statistics' rows) and the communes'
 * submissions: the figures summed, and the remarks of every commune that wrote any.
 */
export function unitReport(
  submissions: SubmissionsAnswer,
  figures: { rows: readonly { code: string; name: string; figures: Figures }[]; updatedAt: string | null } | null
): UnitReport {
  const rows = (figures?.rows ?? []).map((r) => ({ code: r.code, name: r.name, figures: r.figures }));
  return {
    unit: submissions.unit,
    period: submissions.period,
    rows,
    totals: sumFigures(rows.map((r) => r.figures)),
    figuresAt: figures?.updatedAt ?? null,
    submissions: submissions.communes,
    rates: submissions.rates,
    districts: submissions.districts,
    remarks: submissions.communes
      .filter((c) => hasRemarks(c.remarks))
      .map((c) => ({ code: c.code, name: c.name, district: c.district?.name ?? null, remarks: c.remarks! }))
  };
}

/** 'dd/mm/yyyy' of a 'YYYY-MM-DD' day, as Vietnamese forms write dates. */
export function formatDmy(day: string): string {
  const [y, m, d] = day.split('-');
  return `${d}/${m}/${y}`;
}

/** 'dd/mm/yyyy HH:mm' of an instant, in Vietnam time. */
export function formatDmyHm(ms: number): string {
  return `${formatDmy(dayKey(ms))} ${clockTime(ms)}`;
}

/** 0.875 → '87,5%' (Vietnamese decimal comma) or '87.5%'; '–' when there is nothing to count. */
export function formatRate(rate: number | null, decimalComma = true): string {
  if (rate === null) return '–';
  const text = (Math.round(rate * 1000) / 10).toString();
  return `${decimalComma ? text.replace('.', ',') : text}%`;
}

/** A table of a report, for CSV and XLSX: numbers stay numbers. */
export interface ReportTable {
  name: string;
  header: string[];
  rows: (string | number)[][];
}

export interface TableLabels {
  unit: string;
  code: string;
  district: string;
  status: string;
  submittedAt: string;
  total: string;
  rate: string;
  onTimeRate: string;
  figures: Record<keyof Figures, string>;
  statuses: Record<SubmissionTiming, string>;
  remarks: Record<RemarkField, string>;
  tables: { figures: string; submissions: string };
}

/** The report's two tables: figures of each unit below with a total line, and the submission status of each commune. */
export function reportTables(report: UnitReport, labels: TableLabels): { figures: ReportTable; submissions: ReportTable } {
  const figures: ReportTable = {
    name: labels.tables.figures,
    header: [labels.code, labels.unit, ...FIGURE_KEYS.map((k) => labels.figures[k])],
    rows: [...report.rows.map((r) => [r.code, r.name, ...FIGURE_KEYS.map((k) => r.figures[k])]), [report.unit.code, labels.total, ...FIGURE_KEYS.map((k) => report.totals[k])]]
  };
  const submissions: ReportTable = {
    name: labels.tables.submissions,
    header: [labels.code, labels.unit, labels.district, labels.status, labels.submittedAt, ...REMARK_FIELDS.map((f) => labels.remarks[f])],
    rows: report.submissions.map((s) => [
      s.code,
      s.name,
      s.district?.name ?? '',
      labels.statuses[s.status],
      s.submittedAt ? formatDmyHm(Date.parse(s.submittedAt)) : '',
      ...REMARK_FIELDS.map((f) => s.remarks?.[f] ?? '')
    ])
  };
  return { figures, submissions };
}

/** The rates as the last lines of a submission table. */
export function ratesLines(rates: Rates, labels: Pick<TableLabels, 'rate' | 'onTimeRate'>): [string, string][] {
  return [
    [labels.rate, `${formatRate(rates.rate)} (${rates.received}/${rates.expected})`],
    [labels.onTimeRate, `${formatRate(rates.onTimeRate)} (${rates.onTime}/${rates.expected})`]
  ];
}

/** A table as CSV (BOM, quoted, no formula injection: core/csv.ts). */
export function tableCsv(table: ReportTable): string {
  return toCsv(table.header, table.rows.map((row) => row.map(String)));
}

/** Days before the due day from which the team's hub reminds of the week's report. */
export const REMIND_DAYS = 2;

export type Reminder = { kind: 'overdue'; period: Period } | { kind: 'today' | 'soon'; period: Period; daysLeft: number } | { kind: 'done'; period: Period } | null;

/**
 * What the team's hub says of the weekly report on `today`: last week's report not submitted is
 * overdue (said first, in red); else this week's, from REMIND_DAYS before its due day until it is
 * submitted; nothing earlier.
 */
export function weeklyReminder(schedule: ReportSchedule, today: string, submitted: (periodId: string) => boolean): Reminder {
  const week = currentWeek(schedule, today);
  const last = weekPeriod(addDays(week.due, -7));
  if (!submitted(last.id)) return { kind: 'overdue', period: last };
  if (submitted(week.id)) return { kind: 'done', period: week };
  const daysLeft = daysBetween(today, week.due).length - 1;
  if (daysLeft === 0) return { kind: 'today', period: week, daysLeft };
  return daysLeft <= REMIND_DAYS ? { kind: 'soon', period: week, daysLeft } : null;
}
