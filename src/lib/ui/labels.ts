/** Message lookups that depend on data (venue types, time problems). */
import { m } from '$lib/paraglide/messages.js';
import { clockTime, dayKey, fromVietnamLocal } from '$lib/core/time';
import type { VenueType } from '$lib/core/venue/venue';
import type { TimesProblem } from '$lib/core/citizen/visit';
import { SYMPTOMS, type Symptom } from '$lib/core/citizen/personal-qr';
import type { FollowupStage } from '$lib/core/casework/casework';
import type { TEST_RESULTS } from '$lib/core/documents';
import type { AuthError, PasswordChangeError } from '$lib/client/account.svelte';

type TestResult = (typeof TEST_RESULTS)[number];

type Locale = 'vi' | 'en';
type Message = (inputs?: Record<string, never>, options?: { locale?: Locale }) => string;

/** In the page's language, or in a given one (a poster printed in English from a Vietnamese screen). */
export function venueTypeLabel(type: VenueType, locale?: Locale): string {
  const labels: Record<VenueType, Message> = {
    office: m.venue_type_office,
    school: m.venue_type_school,
    health: m.venue_type_health,
    market: m.venue_type_market,
    shop: m.venue_type_shop,
    food: m.venue_type_food,
    lodging: m.venue_type_lodging,
    factory: m.venue_type_factory,
    worship: m.venue_type_worship,
    transport: m.venue_type_transport,
    checkpoint: m.venue_type_checkpoint,
    other: m.venue_type_other
  };
  return labels[type]({}, locale ? { locale } : {});
}

export function timesProblemLabel(problem: TimesProblem): string {
  const labels: Record<TimesProblem, () => string> = {
    'checkout-before-checkin': m.problem_checkout_before_checkin,
    'in-future': m.problem_in_future,
    'too-long': m.problem_too_long
  };
  return labels[problem]();
}

/** Dates for people: "thứ Sáu, 20/08/2021" or "Friday, 20/08/2021", in Vietnam's time. */
export function formatDay(ms: number, locale: string): string {
  // One formatter per language: lists of hundreds of rows call this per row.
  let format = dayFormats.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale === 'vi' ? 'vi-VN' : 'en-GB', {
      timeZone: 'Asia/Ho_Chi_Minh',
      weekday: 'long',
      // dd/mm/yyyy, as Vietnamese documents write dates ("01/12", never "1/12"), in English too:
      // the same paper is read in both languages.
      day: '2-digit',
      month: '2-digit',
      year: 'numeric'
    });
    dayFormats.set(locale, format);
  }
  return format.format(new Date(ms));
}
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** A day given as YYYY-MM-DD (a diary day, a confirmation day), as `formatDay` writes it. */
export function formatDayKey(day: string, locale: string): string {
  return formatDay(fromVietnamLocal(day, '12:00') ?? 0, locale);
}

/** "08:30, thứ Sáu, 20/08/2021". */
export function formatMoment(ms: number, locale: string): string {
  return `${clockTime(ms)}, ${formatDay(ms, locale)}`;
}

/** "08:00 – 10:00, thứ Sáu, 20/08/2021"; both days when the window crosses midnight. */
export function formatWindow(from: number, to: number, locale: string): string {
  return dayKey(from) === dayKey(to) ? `${clockTime(from)} – ${clockTime(to)}, ${formatDay(from, locale)}` : `${formatMoment(from, locale)} – ${formatMoment(to, locale)}`;
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
