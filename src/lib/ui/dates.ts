/** Dates and times for people, in Vietnam's time, whatever the browser's locale. */
import { clockTime, dayKey, fromVietnamLocal } from '$lib/core/time';

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
