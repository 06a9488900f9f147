/** Words for the follow-up list and the health centre's export, in the UI's language. */
import { m } from '$lib/paraglide/messages.js';
import type { FollowupRecord } from '$lib/core/documents';
import type { FollowupClass, FollowupStatus } from '$lib/core/casework/followup';
import type { ExportLabels } from '$lib/core/casework/team-export';
import { symptomText, testLabel, zoneLabel } from '$lib/ui/labels';

export function statusLabel(status: FollowupStatus): string {
  return {
    overdue: m.followup_status_overdue,
    due: m.followup_status_due,
    checked: m.followup_status_checked,
    ended: m.followup_status_ended,
    upcoming: m.followup_status_upcoming,
    closed: m.followup_status_closed
  }[status]();
}

/** The badge class of a status: red when a check is late, amber when due, green when done today. */
export function statusClass(status: FollowupStatus): string {
  return { overdue: 'unverified', due: 'pending', checked: 'verified', ended: 'pending', upcoming: 'manual', closed: 'manual' }[status];
}

export function classLabel(c: FollowupClass): string {
  return c === 'arrival' ? m.followup_class_arrival() : c;
}

export type CloseReason = NonNullable<FollowupRecord['closedReason']>;

export function reasonLabel(reason: CloseReason): string {
  return { completed: m.followup_reason_completed, case: m.followup_reason_case, lost: m.followup_reason_lost }[reason]();
}

export function exportLabels(unit: (code: string) => string): ExportLabels {
  return {
    tables: { cases: m.team_export_sheet_cases(), followups: m.team_export_sheet_followups(), checks: m.team_export_sheet_checks(), arrivals: m.team_export_sheet_arrivals() },
    columns: {
      commune: m.team_export_col_commune(),
      name: m.team_export_col_name(),
      phone: m.team_export_col_phone(),
      idNumber: m.team_export_col_id_number(),
      birthYear: m.team_export_col_birth(),
      address: m.team_export_col_address(),
      caseId: m.team_export_col_case_id(),
      confirmedOn: m.team_export_col_confirmed_on(),
      status: m.team_export_col_status(),
      places: m.team_export_col_places(),
      notes: m.team_export_col_notes(),
      classification: m.team_export_col_class(),
      metOn: m.team_export_col_met_on(),
      fromUnit: m.team_export_col_from_unit(),
      zone: m.team_export_col_zone(),
      symptoms: m.team_export_col_symptoms(),
      isolationFrom: m.team_export_col_isolation_from(),
      isolationUntil: m.team_export_col_isolation_until(),
      test: m.team_export_col_test(),
      testedOn: m.team_export_col_tested_on(),
      closedReason: m.team_export_col_closed_reason(),
      checks: m.team_export_col_checks(),
      lastCheck: m.team_export_col_last_check(),
      checkedOn: m.team_export_col_checked_on(),
      checkedAt: m.team_export_col_checked_at(),
      temperature: m.team_export_col_temperature(),
      note: m.team_export_col_notes(),
      checkpoint: m.team_export_col_checkpoint(),
      arrivedOn: m.team_export_col_arrived_on(),
      arrivedAt: m.team_export_col_arrived_at(),
      declaredOn: m.team_export_col_declared_on(),
      vaccineDoses: m.team_export_col_doses(),
      contactWithCase: m.team_export_col_contact_case(),
      underFollowup: m.team_export_col_under_followup()
    },
    caseStatus: { open: m.team_export_case_open(), closed: m.team_export_case_closed() },
    followupStatus: { overdue: statusLabel('overdue'), due: statusLabel('due'), checked: statusLabel('checked'), ended: statusLabel('ended'), upcoming: statusLabel('upcoming'), closed: statusLabel('closed') },
    classes: { F1: 'F1', F2: 'F2', arrival: m.followup_class_arrival() },
    tests: { none: testLabel('none'), pending: testLabel('pending'), negative: testLabel('negative'), positive: testLabel('positive') },
    closeReasons: { completed: reasonLabel('completed'), case: reasonLabel('case'), lost: reasonLabel('lost') },
    symptom: (s) => symptomText([s]),
    unit,
    zone: zoneLabel,
    yes: m.team_export_yes(),
    no: m.team_export_no(),
    none: m.team_export_none()
  };
}
