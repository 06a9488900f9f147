/**
 * The district's or province's report as a Vietnamese administrative document (the layout of
 * Decree 30/2020: the issuing unit on the left in capitals, the national title and motto on the
 * right, place and date, the title, the body, tables, the signature block). One model, in the
 * screen's language, drawn twice: as HTML for printing on A4 (ReportDocument.svelte) and as a PDF
 * made on the device (report-pdf.ts), so that both say the same.
 */
import { m } from '../../paraglide/messages.js';
import { FIGURE_KEYS, type Figures } from '../../core/reports/figures';
import { formatDmyHm, formatRate, REMARK_FIELDS, type UnitReport } from '../../core/reports/report';
import { dayKey } from '../../core/time';
import { figureLabel, remarkLabel, reportSubject, statusLabel } from './labels';
import type { SubmissionTiming } from '../../core/reports/period';

export interface DocTable {
  header: string[];
  /** which columns hold numbers (right-aligned) */
  numeric: boolean[];
  rows: string[][];
  /** a last row in bold (the total) */
  totalRow?: string[];
  /** relative column widths */
  widths: number[];
}

export interface ReportDocModel {
  /** left header: the unit above (if any), then the unit, in capitals */
  issuer: string[];
  number: string;
  nation: string;
  motto: string;
  placeDate: string;
  title: string;
  subject: string;
  intro: string;
  sections: { heading: string; lines: string[]; table?: DocTable; status?: SubmissionTiming[] }[];
  remarks: { heading: string; empty: string; items: { name: string; fields: { label: string; text: string }[] }[] };
  recipients: { heading: string; lines: string[] };
  signer: string;
  signHint: string;
}

const UNIT_WORDS = /^(Tỉnh|Thành phố|Huyện|Quận|Thị xã|Xã|Phường|Thị trấn|Đặc khu)\s+/u;

/** "Đức Thọ" from "Huyện Đức Thọ": the place name of the date line. */
export function placeName(unitName: string): string {
  return unitName.replace(UNIT_WORDS, '');
}

const count = (n: number, locale: string) => n.toLocaleString(locale === 'vi' ? 'vi-VN' : 'en-GB');

/** The figures of the printed table: those a district reads first; each a column. */
export const PRINTED_FIGURES = FIGURE_KEYS;

export function reportDocModel(report: UnitReport, opts: { locale: string; now: number; parentName: string | null; figuresNote: string | null }): ReportDocModel {
  const { locale, now } = opts;
  const day = dayKey(now);
  const [y, mo, d] = day.split('-');
  const totals: Figures = report.totals;
  const r = report.rates;
  const province = report.unit.level === 'province';
  const hasDistricts = report.submissions.some((s) => s.district !== null) && province;

  const statusTable: DocTable = {
    header: [m.report_col_no(), m.report_col_unit(), ...(hasDistricts ? [m.report_col_district()] : []), m.report_col_status(), m.report_col_submitted()],
    numeric: [true, false, ...(hasDistricts ? [false] : []), false, false],
    widths: hasDistricts ? [0.6, 3, 2.4, 1.8, 2.2] : [0.6, 4, 2, 2.4],
    rows: report.submissions.map((s, i) => [
      String(i + 1),
      s.name,
      ...(hasDistricts ? [s.district?.name ?? ''] : []),
      statusLabel(s.status),
      s.submittedAt ? formatDmyHm(Date.parse(s.submittedAt)) : ''
    ])
  };
  const figuresTable: DocTable = {
    header: [m.report_col_no(), m.report_col_unit(), ...PRINTED_FIGURES.map((k) => figureLabel(k))],
    numeric: [true, false, ...PRINTED_FIGURES.map(() => true)],
    widths: [0.55, 2.6, ...PRINTED_FIGURES.map(() => 1)],
    rows: report.rows.map((row, i) => [String(i + 1), row.name, ...PRINTED_FIGURES.map((k) => count(row.figures[k], locale))]),
    totalRow: ['', m.report_total(), ...PRINTED_FIGURES.map((k) => count(totals[k], locale))]
  };
  const rates = { rate: formatRate(r.rate, locale === 'vi'), onTimeRate: formatRate(r.onTimeRate, locale === 'vi') };

  return {
    issuer: [...(opts.parentName ? [opts.parentName.toLocaleUpperCase('vi')] : []), report.unit.name.toLocaleUpperCase('vi')],
    number: 'Số:        /BC',
    nation: m.report_nation(),
    motto: m.report_motto(),
    placeDate: m.report_place_date({ place: placeName(report.unit.name), d: d!, m: mo!, y: y! }),
    title: m.report_doc_title(),
    subject: reportSubject(report.period),
    intro: m.report_body_intro({ unit: report.unit.name }),
    sections: [
      {
        heading: `I. ${m.report_status_table()}`,
        lines: [
          m.report_body_submissions({ received: String(r.received), expected: String(r.expected), rate: rates.rate, onTime: String(r.onTime), onTimeRate: rates.onTimeRate }),
          ...(province ? report.districts : []).map((g) => `- ${g.name}: ${m.report_rate()} ${formatRate(g.rates.rate, locale === 'vi')} (${g.rates.received}/${g.rates.expected}), ${m.report_on_time_rate().toLocaleLowerCase(locale)} ${formatRate(g.rates.onTimeRate, locale === 'vi')}.`)
        ],
        table: statusTable,
        status: report.submissions.map((s) => s.status)
      },
      {
        heading: `II. ${m.report_figures_table()}`,
        lines: report.rows.length === 0 ? [m.report_figures_missing()] : [
          m.report_body_venues({ venues: count(totals.venues, locale), venuesNew: count(totals.venuesNew, locale), venuesActive: count(totals.venuesActive, locale), entries: count(totals.entries, locale), checkins: count(totals.checkins, locale) }),
          m.report_body_health({ arrivals: count(totals.arrivals, locale), arrivalsRisk: count(totals.arrivalsRisk, locale), cases: count(totals.cases, locale), contactsOpen: count(totals.contactsOpen, locale), exposures: count(totals.exposures, locale) }),
          ...(opts.figuresNote ? [opts.figuresNote] : [])
        ],
        table: report.rows.length ? figuresTable : undefined
      }
    ],
    remarks: {
      heading: `III. ${m.report_remarks_by_commune()}`,
      empty: m.report_no_remarks(),
      items: report.remarks.map((c) => ({
        name: province && c.district ? `${c.name} (${c.district})` : c.name,
        fields: REMARK_FIELDS.filter((f) => c.remarks[f] !== '').map((f) => ({ label: remarkLabel(f), text: c.remarks[f] }))
      }))
    },
    recipients: { heading: m.report_recipients(), lines: m.report_recipients_list().split('\n') },
    signer: m.report_signer_right(),
    signHint: m.report_sign_hint()
  };
}
