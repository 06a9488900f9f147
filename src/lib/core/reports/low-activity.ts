/**
 * The low-activity rule, as the seed documents use it ("some units create QR codes and scan
 * little"): a unit is flagged when it has no registered venue, when fewer than 30 % of its
 * registered venues were active in the period, or when nobody checked in there at all (no station
 * entry, no tallied check-in). Kept as data (the threshold) and as words an admin can read, so the
 * screen says why a unit is on the list; rows are ranked with the flagged ones first.
 */
import type { Figures, LowReason, StatsRow } from './figures';

export interface LowRule {
  /** share of registered venues active in the period below which a unit is flagged (0–1) */
  minShareActive: number;
}

export const LOW_RULE: LowRule = { minShareActive: 0.3 };

const percent = (share: number) => `${Math.round(share * 100)} %`;

/** The rule in words (Vietnamese by default, as the admin screens are). */
export function lowRuleText(rule: LowRule = LOW_RULE, lang: 'vi' | 'en' = 'vi'): string {
  return lang === 'vi'
    ? `Đơn vị hoạt động thấp: chưa có địa điểm nào đăng ký, hoặc dưới ${percent(rule.minShareActive)} số địa điểm đã đăng ký có lượt quét hay khai báo trong kỳ, hoặc không có lượt quét, khai báo nào trong kỳ.`
    : `Low activity: no registered venue, or fewer than ${percent(rule.minShareActive)} of the registered venues had a scan or a check-in in the period, or no scan or check-in at all in the period.`;
}

/** venuesActive / venues, capped at 1 (a venue deleted in the period may still have been active); null without venues. */
export function shareActive(f: Pick<Figures, 'venues' | 'venuesActive'>): number | null {
  return f.venues > 0 ? Math.min(1, f.venuesActive / f.venues) : null;
}

export function lowReasons(f: Figures, rule: LowRule = LOW_RULE): LowReason[] {
  const reasons: LowReason[] = [];
  const share = shareActive(f);
  if (share === null) reasons.push('no_venues');
  else if (share < rule.minShareActive) reasons.push('share_below');
  if (f.entries + f.checkins === 0) reasons.push('no_checkins');
  return reasons;
}

/** A table row of a unit's figures for the period, with its share and flags. */
export function statsRow(unit: Pick<StatsRow, 'code' | 'name' | 'level'>, figures: Figures, rule: LowRule = LOW_RULE): StatsRow {
  const reasons = lowReasons(figures, rule);
  return { code: unit.code, name: unit.name, level: unit.level, figures, shareActive: shareActive(figures), low: reasons.length > 0, lowReasons: reasons };
}

/**
 * Low first; then the smaller share of active venues (no venues first), the fewer check-ins, and
 * the name in Vietnamese order.
 */
export function rankRows(rows: readonly StatsRow[]): StatsRow[] {
  return [...rows].sort(
    (a, b) =>
      Number(b.low) - Number(a.low) ||
      (a.shareActive ?? -1) - (b.shareActive ?? -1) ||
      a.figures.entries + a.figures.checkins - (b.figures.entries + b.figures.checkins) ||
      a.name.localeCompare(b.name, 'vi') ||
      (a.code < b.code ? -1 : 1)
  );
}
