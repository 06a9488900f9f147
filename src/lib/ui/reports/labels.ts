/** Words of the reports: figure names, statuses, remarks, periods, in the screen's language. */
import { m } from '$lib/paraglide/messages.js';
import type { Figures } from '$lib/core/reports/figures';
import type { Period, SubmissionTiming } from '$lib/core/reports/period';
import { formatDmy, type RemarkField, type TableLabels } from '$lib/core/reports/report';

export function figureLabel(key: keyof Figures): string {
  const labels: Record<keyof Figures, () => string> = {
    venues: m.report_fig_venues,
    venuesNew: m.report_fig_venuesNew,
    venuesActive: m.report_fig_venuesActive,
    entries: m.report_fig_entries,
    checkins: m.report_fig_checkins,
    arrivals: m.report_fig_arrivals,
    arrivalsRisk: m.report_fig_arrivalsRisk,
    cases: m.report_fig_cases,
    contactsOpen: m.report_fig_contactsOpen,
    exposures: m.report_fig_exposures
  };
  return labels[key]();
}

export function statusLabel(status: SubmissionTiming): string {
  return { on_time: m.report_status_on_time, late: m.report_status_late, missing: m.report_status_missing, not_due: m.report_status_not_due }[status]();
}

export function remarkLabel(field: RemarkField): string {
  return { difficulties: m.report_difficulties, proposals: m.report_proposals, done: m.report_done }[field]();
}

/** "Tuần từ 26/11/2026 đến 02/12/2026" / "Tháng 11/2026". */
export function periodLabel(period: Period): string {
  return period.kind === 'week' ? m.report_period_week({ from: formatDmy(period.from), to: formatDmy(period.to) }) : m.report_period_month({ month: monthText(period) });
}

/** A period in a picker on a phone: "26/11 – 02/12/2026", "Tháng 11/2026". */
export function periodShort(period: Period): string {
  if (period.kind === 'month') return m.report_period_month({ month: monthText(period) });
  return `${formatDmy(period.from).slice(0, 5)} – ${formatDmy(period.to)}`;
}

/** "11/2026" */
export function monthText(period: Period): string {
  const [y, mo] = period.from.split('-');
  return `${mo}/${y}`;
}

/** The subject line under "BÁO CÁO". */
export function reportSubject(period: Period): string {
  return period.kind === 'week'
    ? m.report_doc_subject_week({ from: formatDmy(period.from), to: formatDmy(period.to) })
    : m.report_doc_subject_month({ month: monthText(period) });
}

export function tableLabels(): TableLabels {
  return {
    unit: m.report_col_unit(),
    code: m.report_col_code(),
    district: m.report_col_district(),
    status: m.report_col_status(),
    submittedAt: m.report_col_submitted(),
    total: m.report_total(),
    rate: m.report_rate(),
    onTimeRate: m.report_on_time_rate(),
    figures: {
      venues: figureLabel('venues'),
      venuesNew: figureLabel('venuesNew'),
      venuesActive: figureLabel('venuesActive'),
      entries: figureLabel('entries'),
      checkins: figureLabel('checkins'),
      arrivals: figureLabel('arrivals'),
      arrivalsRisk: figureLabel('arrivalsRisk'),
      cases: figureLabel('cases'),
      contactsOpen: figureLabel('contactsOpen'),
      exposures: figureLabel('exposures')
    },
    statuses: { on_time: statusLabel('on_time'), late: statusLabel('late'), missing: statusLabel('missing'), not_due: statusLabel('not_due') },
    remarks: { difficulties: remarkLabel('difficulties'), proposals: remarkLabel('proposals'), done: remarkLabel('done') },
    tables: { figures: m.report_sheet_figures(), submissions: m.report_sheet_submissions() }
  };
}

/** Numbers as Vietnamese forms write them: 1.904 (a dot between thousands) or 1,904. */
export function formatCount(n: number, locale: string): string {
  return n.toLocaleString(locale === 'vi' ? 'vi-VN' : 'en-GB');
}
