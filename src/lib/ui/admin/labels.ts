/** Words for the officials' screens that depend on data: roles, account status, audit actions. */
import { m } from '$lib/paraglide/messages.js';
import type { AccountRole, AccountRow, AuditEvent } from '$lib/core/admin';
import { formatDayKey, zoneLabel } from '$lib/ui/labels';
import { getLocale } from '$lib/paraglide/runtime.js';
import type { LowReason } from '$lib/core/reports/figures';
import type { Weekday } from '$lib/core/reports/period';

export function roleLabel(role: AccountRole): string {
  return { owner: m.admin_role_owner, team: m.admin_role_team, admin: m.admin_role_admin }[role]();
}

export function statusLabel(row: Pick<AccountRow, 'disabled' | 'mustChangePassword'>): string {
  return row.disabled ? m.admin_status_disabled() : row.mustChangePassword ? m.admin_status_must_change() : m.admin_status_active();
}

export function lowReasonLabel(reason: LowReason, locale?: 'vi' | 'en'): string {
  return { no_venues: m.admin_low_no_venues, share_below: m.admin_low_share_below, no_checkins: m.admin_low_no_checkins }[reason]({}, locale ? { locale } : {});
}

export function weekdayLabel(day: Weekday): string {
  return [m.admin_weekday_1, m.admin_weekday_2, m.admin_weekday_3, m.admin_weekday_4, m.admin_weekday_5, m.admin_weekday_6, m.admin_weekday_7][day - 1]!();
}

/**
 * An audit action in words. The server names actions like `account.create`; one this screen has no
 * words for is shown as the server wrote it rather than hidden.
 */
export function auditActionLabel(action: string): string {
  const words: Record<string, () => string> = {
    'account.create': m.admin_action_account_create,
    'account.disable': m.admin_action_account_disable,
    'account.enable': m.admin_action_account_enable,
    'account.reset-password': m.admin_action_account_reset,
    'zone.set': m.admin_action_zone_set,
    'zone.clear': m.admin_action_zone_clear,
    'units.import': m.admin_action_units_import,
    'schedule.set': m.admin_action_schedule_set
  };
  return words[action]?.() ?? action;
}

/**
 * What an audit event changed, in the page's language, from its facts (names of units through
 * `unitName`); the server's English `detail` only for events recorded before facts were kept.
 */
export function auditFactsText(event: Pick<AuditEvent, 'facts' | 'detail'>, unitName: (code: string) => string): string {
  const f = event.facts;
  if (!f) return event.detail;
  if ('role' in f) {
    const places = f.role === 'admin' ? (f.unit ? unitName(f.unit) : '') : f.communes.map(unitName).join(', ');
    return places ? `${roleLabel(f.role)} · ${places}` : roleLabel(f.role);
  }
  if ('level' in f) {
    if (f.level === null) return m.admin_audit_zone_cleared();
    const line = m.admin_audit_zone_set({ level: zoneLabel(f.level), since: formatDayKey(f.since, getLocale()) });
    return f.note ? `${line}: ${f.note}` : line;
  }
  if ('weekday' in f) return m.admin_audit_schedule({ weekday: weekdayLabel(f.weekday as Weekday), day: f.monthDay });
  return m.admin_units_counts({ added: f.added, renamed: f.renamed, moved: f.moved, removed: f.removed, unchanged: f.unchanged });
}

/** A failed call in words: the app's own for the errors it knows, else the server's reason. */
export function failureText(failure: { status: number; error: string; reason: string }): string {
  if (failure.status === 0) return m.admin_offline();
  const known: Record<string, () => string> = {
    phone_taken: m.auth_phone_taken,
    bad_phone: m.auth_bad_phone,
    not_logged_in: m.account_not_logged_in,
    bad_name: m.admin_error_bad_name,
    bad_position: m.admin_error_bad_position,
    bad_communes: m.admin_error_bad_communes,
    bad_unit: m.admin_error_bad_unit,
    outside_unit: m.admin_error_outside_unit,
    own_account: m.admin_error_own_account,
    bad_since: m.admin_error_bad_since,
    bad_note: m.admin_error_bad_note,
    password_change_required: m.admin_error_password_change,
    too_many_attempts: m.auth_too_many
  };
  if (known[failure.error]) return known[failure.error]!();
  if (failure.status === 401) return m.account_not_logged_in();
  if (failure.status === 403) return failure.reason ? `${m.admin_forbidden()} (${failure.reason})` : m.admin_forbidden();
  if (failure.status === 404 && (!failure.reason || failure.reason === 'no such API')) return m.admin_not_available();
  return failure.reason || m.auth_server();
}

/** "Huyện Đức Thọ" → "Đức Thọ": the place name a document is dated from. */
export function placeName(unitName: string): string {
  return unitName.replace(/^(Tỉnh|Thành phố|Huyện|Quận|Thị xã|Xã|Phường|Thị trấn)\s+/u, '');
}
