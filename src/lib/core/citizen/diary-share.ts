/**
 * A day of the citizen's diary as QR text, for handing it to a commune team with no network: the
 * citizen chooses the days, sees exactly what each code holds, and the team device scans one code
 * per day (more when a day is long). Only what tracing needs goes in: where (venue id and commune, or
 * the name of a place typed in by hand) and when. No notes, no verification state.
 *
 *   LVD1|<day>|<part>/<parts>|<visit>;<visit>;…
 *   visit   V,<venueId>,<commune>,<in>,<out>   a venue from its code
 *           M,<in>,<out>,<name>                a place typed in by hand
 *   in/out  minutes after the day's midnight in Vietnam; out may pass 1440 (over midnight), or be
 *           empty when there was no check-out (the reader applies the venue's default stay)
 *   name    `\`, `|`, `;` and `,` escaped with `\`
 */
import { escapeChars, splitEscaped, unescapeChars } from '../text';
import { dayKey, fromVietnamLocal, MINUTE } from '../time';
import { effectiveCheckout, type Visit } from './visit';

export const DIARY_SHARE_PREFIX = 'LVD1|';
/** Visits per code: keeps a code near QR version 15 at level M, which phone cameras read from a screen. */
export const VISITS_PER_CODE = 12;

export interface SharedVisit {
  venueId: string | null;
  communeCode: string | null;
  name: string | null;
  checkin: number;
  checkout: number | null;
}

export interface SharedDay {
  day: string;
  part: number;
  parts: number;
  visits: SharedVisit[];
}

/** The separators of the format, escaped in a hand-typed name. */
const SPECIALS = '|;,';
const escapeName = (s: string) => escapeChars(s, SPECIALS);

/** The codes for one day of the diary (visits whose check-in falls on that Vietnamese day). */
export function encodeDiaryDay(day: string, visits: readonly Visit[]): string[] {
  const midnight = fromVietnamLocal(day, '00:00');
  if (midnight === null) throw new Error(`not a day: ${day}`);
  const minutes = (ms: number) => Math.round((ms - midnight) / MINUTE);
  const items = visits
    .filter((v) => dayKey(v.checkin) === day)
    .sort((a, b) => a.checkin - b.checkin)
    .map((v) => {
      const out = v.checkout === null ? '' : String(minutes(v.checkout));
      return v.venueId ? `V,${v.venueId},${v.communeCode ?? ''},${minutes(v.checkin)},${out}` : `M,${minutes(v.checkin)},${out},${escapeName(v.venueName)}`;
    });
  const parts = Math.max(1, Math.ceil(items.length / VISITS_PER_CODE));
  return Array.from({ length: parts }, (_, i) => `${DIARY_SHARE_PREFIX}${day}|${i + 1}/${parts}|${items.slice(i * VISITS_PER_CODE, (i + 1) * VISITS_PER_CODE).join(';')}`);
}

/** Null for anything that is not a well-formed code of this format; never throws. */
export function decodeDiaryDay(text: string): SharedDay | null {
  if (text.length > 4000 || !text.startsWith(DIARY_SHARE_PREFIX)) return null;
  const fields = splitEscaped(text.slice(DIARY_SHARE_PREFIX.length), '|');
  if (!fields || fields.length !== 3) return null;
  const [day, partText, body] = fields as [string, string, string];
  const midnight = fromVietnamLocal(day, '00:00');
  const part = /^([0-9]{1,2})\/([0-9]{1,2})$/.exec(partText);
  if (midnight === null || !part || Number(part[1]) < 1 || Number(part[1]) > Number(part[2])) return null;
  const minute = (s: string, max: number) => (/^[0-9]{1,4}$/.test(s) && Number(s) <= max ? midnight + Number(s) * MINUTE : null);
  const visits: SharedVisit[] = [];
  for (const item of body === '' ? [] : (splitEscaped(body, ';') ?? [''])) {
    const f = splitEscaped(item, ',') ?? [];
    const isVenue = f[0] === 'V' && f.length === 5 && /^[a-z2-7]{12}$/.test(f[1]!) && /^([0-9]{5})?$/.test(f[2]!);
    const name = f[0] === 'M' && f.length === 4 && f[3]!.length > 0 ? unescapeChars(f[3]!, SPECIALS) : null;
    const isManual = name !== null;
    if (!isVenue && !isManual) return null;
    const [inText, outText] = isVenue ? [f[3]!, f[4]!] : [f[1]!, f[2]!];
    const checkin = minute(inText, 1439);
    const checkout = outText === '' ? null : minute(outText, 2879);
    if (checkin === null || (outText !== '' && (checkout === null || checkout < checkin))) return null;
    visits.push(
      isVenue
        ? { venueId: f[1]!, communeCode: f[2] || null, name: null, checkin, checkout }
        : { venueId: null, communeCode: null, name, checkin, checkout }
    );
  }
  return { day, part: Number(part[1]), parts: Number(part[2]), visits };
}

/** A visit as sent online to a team (a `CaseVisitRecord` of the commune database). */
export interface OnlineSharedVisit {
  venueId?: string;
  communeCode?: string;
  place: string;
  from: number;
  to: number;
  source: 'diary';
}

/**
 * The chosen visits as sent online with a team's one-time code: where and when, nothing else. A
 * visit without a check-out lasts its venue type's default stay, as in the phone's own check.
 */
export function onlineSharedVisits(visits: readonly Visit[]): OnlineSharedVisit[] {
  return [...visits]
    .sort((a, b) => a.checkin - b.checkin)
    .map((v) => ({
      ...(v.venueId ? { venueId: v.venueId } : {}),
      ...(v.communeCode ? { communeCode: v.communeCode } : {}),
      place: v.venueName.trim().slice(0, 80) || '?',
      from: v.checkin,
      to: effectiveCheckout(v),
      source: 'diary' as const
    }));
}
