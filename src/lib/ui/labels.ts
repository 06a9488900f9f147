/**
 * Message lookups that depend on data (time problems, symptoms, stages, account errors), and the
 * date formats and venue type names, which live in modules of their own: the cold check-in page
 * imports those two alone, without every label of the app and their messages.
 */
import { m } from '$lib/paraglide/messages.js';
import type { TimesProblem } from '$lib/core/citizen/visit';
import { SYMPTOMS, type Symptom } from '$lib/core/citizen/personal-qr';
import type { FollowupStage } from '$lib/core/casework/casework';
import type { TEST_RESULTS } from '$lib/core/documents';
import type { AuthError, PasswordChangeError } from '$lib/client/account.svelte';

type TestResult = (typeof TEST_RESULTS)[number];

export { formatDay, formatDayKey, formatMoment, formatWindow } from './dates';
export { venueTypeLabel } from './venue-type-label';

export function timesProblemLabel(problem: TimesProblem): string {
  const labels: Record<TimesProblem, () => string> = {
    'checkout-before-checkin': m.problem_checkout_before_checkin,
    'in-future': m.problem_in_future,
    'too-long': m.problem_too_long
  };
  return labels[problem]();
}

export function symptomLabel(symptom: Symptom): string {
  const labels: Record<Symptom, () => string> = {
    fever: m.symptom_fever,
    cough: m.symptom_cough,
    'shortness-of-breath': m.symptom_shortness_of_breath,
    'taste-smell-loss': m.symptom_taste_smell_loss,
    'sore-throat': m.symptom_sore_throat,
    fatigue: m.symptom_fatigue
  };
  return labels[symptom]();
}

/** Zone levels 1–4 (Nghị quyết 128/NQ-CP): xanh, vàng, cam, đỏ. */
export function zoneLabel(level: number): string {
  return ([m.zone_1, m.zone_2, m.zone_3, m.zone_4][level - 1] ?? (() => String(level)))();
}

/** Symptoms as read from a declaration; a name this app does not know is shown as it is. */
export function symptomText(symptoms: readonly string[]): string {
  return symptoms.map((s) => ((SYMPTOMS as readonly string[]).includes(s) ? symptomLabel(s as Symptom) : s)).join(', ');
}

export function testLabel(result: TestResult): string {
  return { none: m.test_none, pending: m.test_pending, negative: m.test_negative, positive: m.test_positive }[result]();
}

export function stageLabel(stage: FollowupStage): string {
  return {
    todo: m.stage_todo,
    called: m.stage_called,
    isolating: m.stage_isolating,
    tested: m.stage_tested,
    positive: m.stage_positive,
    closed: m.stage_closed
  }[stage]();
}

/** What went wrong with a login, a registration or a password change, in words. */
export function accountErrorText(error: AuthError | PasswordChangeError): string {
  const words: Record<AuthError | PasswordChangeError, () => string> = {
    phone_taken: m.auth_phone_taken,
    wrong_credentials: m.auth_wrong_credentials,
    bad_phone: m.auth_bad_phone,
    wrong_password: m.account_password_wrong,
    weak_password: m.auth_weak_password,
    too_many_attempts: m.auth_too_many,
    not_logged_in: m.account_not_logged_in,
    offline: m.auth_offline,
    server: m.auth_server
  };
  return words[error]();
}
