/**
 * What the officials' statistics carry (DESIGN §12): counts per unit per day, never a name, a
 * phone or an ID number. Shared by the server's aggregates job, its `/api/reports` answers and the
 * `/admin` and team screens.
 */
import type { UnitLevel } from '../units';

export interface Figures {
  /** venues registered at the end of the day / period */
  venues: number;
  /** venues registered on the day / in the period */
  venuesNew: number;
  /** distinct venues with a station entry or a tallied citizen check-in on the day / in the period */
  venuesActive: number;
  /** entries scanned at venue stations (checkpoints excluded) */
  entries: number;
  /** citizens' own check-ins, from the anonymous tallies */
  checkins: number;
  /** people scanned in at checkpoints */
  arrivals: number;
  /** arrivals from a unit at zone level 3 or 4 */
  arrivalsRisk: number;
  /** F0 cases recorded */
  cases: number;
  /** contacts under follow-up at the end of the day / period */
  contactsOpen: number;
  /** exposure events published */
  exposures: number;
}

export const FIGURE_KEYS = ['venues', 'venuesNew', 'venuesActive', 'entries', 'checkins', 'arrivals', 'arrivalsRisk', 'cases', 'contactsOpen', 'exposures'] as const satisfies readonly (keyof Figures)[];

export function zeroFigures(): Figures {
  return { venues: 0, venuesNew: 0, venuesActive: 0, entries: 0, checkins: 0, arrivals: 0, arrivalsRisk: 0, cases: 0, contactsOpen: 0, exposures: 0 };
}

export type LowReason = 'no_venues' | 'share_below' | 'no_checkins';

export interface StatsRow {
  code: string;
  name: string;
  level: UnitLevel;
  figures: Figures;
  /** venuesActive / venues, 0–1; null without venues */
  shareActive: number | null;
  low: boolean;
  lowReasons: LowReason[];
}

/** `GET /api/reports/stats?unit=&from=&to=` */
export interface StatsAnswer {
  unit: { code: string; name: string; level: UnitLevel };
  /** YYYY-MM-DD, both days included, Vietnam calendar */
  from: string;
  to: string;
  /** when the aggregates were last brought up to date; null before the first run */
  updatedAt: string | null;
  totals: Figures;
  /** the unit's children (communes of a district, districts of a province), low ones first */
  rows: StatsRow[];
  days: { day: string; figures: Figures }[];
  lowRule: { minShareActive: number; text: string };
}
