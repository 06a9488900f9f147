/** Vietnam keeps one offset all year (UTC+7, no daylight saving); days are counted in its calendar. */
export const VN_TIME_ZONE = 'Asia/Ho_Chi_Minh';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: VN_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });
const clockFormat = new Intl.DateTimeFormat('en-GB', { timeZone: VN_TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** 'YYYY-MM-DD' of the Vietnamese calendar day that contains the instant. */
export function dayKey(ms: number): string {
  return dayFormat.format(new Date(ms));
}

/** 'HH:mm' in Vietnam. */
export function clockTime(ms: number): string {
  return clockFormat.format(new Date(ms));
}

/** The instant of a Vietnamese wall-clock date and time ('YYYY-MM-DD', 'HH:mm'); null when malformed. */
export function fromVietnamLocal(day: string, time: string): number | null {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const t = /^(\d{2}):(\d{2})$/.exec(time);
  if (!d || !t) return null;
  const [y, mo, da, h, mi] = [d[1], d[2], d[3], t[1], t[2]].map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59) return null;
  const ms = Date.UTC(y, mo - 1, da, h - 7, mi);
  return dayKey(ms) === day ? ms : null; // rejects 31 February and the like
}

/** 'YYYY-MM-DD' as Vietnamese forms write it: 'dd/mm/yyyy' ('' for anything else). */
export function dmy(day: string): string {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return d ? `${d[3]}/${d[2]}/${d[1]}` : '';
}

/**
 * A typed date, as people type it in Vietnam: day first ("5/9/2021", "05-09-2021", "5.9.21",
 * "05092021"). Returns 'YYYY-MM-DD', or null when it is not a real calendar day. Two-digit years are
 * this century: the app records recent days, never birthdays.
 */
export function parseDayText(text: string): string | null {
  const t = text.trim();
  let parts: [string, string, string] | null = null;
  const separated = /^(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{2}|\d{4})$/.exec(t);
  if (separated) parts = [separated[1]!, separated[2]!, separated[3]!];
  const packed = /^(\d{2})(\d{2})(\d{4})$/.exec(t);
  if (packed) parts = [packed[1]!, packed[2]!, packed[3]!];
  if (!parts) return null;
  const [d, mo, yText] = parts;
  const y = yText.length === 2 ? 2000 + Number(yText) : Number(yText);
  const day = `${String(y).padStart(4, '0')}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`;
  // fromVietnamLocal refuses 31/02 and the like.
  return fromVietnamLocal(day, '12:00') === null ? null : day;
}

/** A typed time of day, 24 h ("7:05", "07.05", "7h05", "705", "19"). Returns 'HH:mm' or null. */
export function parseClockText(text: string): string | null {
  const t = text.trim().toLowerCase();
  const m = /^(\d{1,2})(?:\s*[:.h]\s*(\d{1,2})?)?$/.exec(t) ?? /^(\d{1,2})(\d{2})$/.exec(t);
  if (!m) return null;
  const h = Number(m[1]);
  const mi = m[2] === undefined ? 0 : Number(m[2]);
  if (h > 23 || mi > 59) return null;
  return `${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}`;
}
