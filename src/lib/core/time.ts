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
