/**
 * Who may read a unit's figures and reports (DESIGN §12): an admin its own unit and everything
 * below it; a commune team member its own communes; nobody else. One rule for the statistics and
 * the submissions answers.
 */
import { unitWithin, type UnitTree } from '../units';

export interface FigureReader {
  role: 'owner' | 'team' | 'admin';
  /** a team's communes */
  communes: readonly string[];
  /** an admin's unit, from its account as it is now */
  unit: string | null;
}

export type ReadRefusal = 'not_official' | 'no_unit' | 'outside_unit' | 'not_own_commune';

export const READ_REFUSAL_REASONS: Record<ReadRefusal, string> = {
  not_official: 'figures and reports are for commune teams and officials',
  no_unit: 'this admin account has no unit',
  outside_unit: 'this unit is outside the unit of this account',
  not_own_commune: 'a team sees its own communes only'
};

/** Why `reader` may not read the unit `code`, or null when it may. */
export function unitReadRefusal(reader: FigureReader, code: string, tree: UnitTree): ReadRefusal | null {
  if (reader.role === 'team') return reader.communes.includes(code) ? null : 'not_own_commune';
  if (reader.role !== 'admin') return 'not_official';
  if (!reader.unit) return 'no_unit';
  return unitWithin(tree, code, reader.unit) ? null : 'outside_unit';
}
