/**
 * How the commune's venues are used, for the team's venue list: when each was registered, when it
 * was last used and how much in the last 7 days, from the station entries on the device and the
 * anonymous check-in tallies the server holds. A venue nobody has used may have a poster nobody can
 * see, or may be closed: the team goes and looks.
 */
import type { VenueRecord } from '../documents';
import { DAY, dayKey } from '../time';

export const ACTIVE_DAYS = 7;

/** Per venue, the check-ins the phones reported, per day (YYYY-MM-DD). */
export type TallyDays = Record<string, Record<string, number>>;

export interface VenueActivity {
  venue: VenueRecord;
  createdAt: number | null;
  /** ms of the last station entry, or the noon of the last day with tallied check-ins */
  lastUsed: number | null;
  entries7d: number;
  checkins7d: number;
  use: 'active' | 'idle' | 'never';
}

export function venueActivity(
  venues: readonly VenueRecord[],
  entryTimes: ReadonlyMap<string, readonly number[]>,
  tallies: TallyDays,
  now: number
): VenueActivity[] {
  const since = now - ACTIVE_DAYS * DAY;
  const firstDay = dayKey(since);
  return venues.map((venue) => {
    const times = entryTimes.get(venue.venueId) ?? [];
    const days = Object.entries(tallies[venue.venueId] ?? {}).filter(([, n]) => n > 0);
    const lastTallyDay = days.map(([d]) => d).sort().at(-1);
    const lastEntry = times.length ? Math.max(...times) : null;
    const lastTally = lastTallyDay ? Date.parse(`${lastTallyDay}T05:00:00Z`) : null;
    const lastUsed = lastEntry === null ? lastTally : lastTally === null ? lastEntry : Math.max(lastEntry, lastTally);
    const entries7d = times.filter((t) => t >= since).length;
    const checkins7d = days.filter(([d]) => d >= firstDay).reduce((n, [, c]) => n + c, 0);
    const created = venue.createdAt ? Date.parse(venue.createdAt) : null;
    return {
      venue,
      createdAt: created,
      lastUsed,
      entries7d,
      checkins7d,
      use: entries7d + checkins7d > 0 ? 'active' : lastUsed === null ? 'never' : 'idle'
    };
  });
}

export type VenueSort = 'name' | 'created' | 'lastUsed' | 'use7d';

export function sortVenueActivity(rows: readonly VenueActivity[], by: VenueSort): VenueActivity[] {
  const byName = (a: VenueActivity, b: VenueActivity) => a.venue.name.localeCompare(b.venue.name, 'vi');
  const desc = (f: (r: VenueActivity) => number | null) => (a: VenueActivity, b: VenueActivity) => (f(b) ?? -1) - (f(a) ?? -1) || byName(a, b);
  const compare = {
    name: byName,
    created: desc((r) => r.createdAt),
    lastUsed: desc((r) => r.lastUsed),
    use7d: desc((r) => r.entries7d + r.checkins7d)
  }[by];
  return [...rows].sort(compare);
}
