/**
 * The public directory as the officials' answers read it: units (with their tree) and report
 * schedules of lv_directory, read once and kept for half a minute, because an import or an
 * admin's edit is rare and every statistics or reports answer needs them.
 */
import { unitTree as unitHierarchy, type UnitTree as UnitHierarchy } from '../src/lib/core/reports/aggregate';
import type { ScheduleDoc } from '../src/lib/core/reports/period';
import type { UnitDoc } from '../src/lib/core/units';
import { DB, type Store } from './store/couch';
import { loadUnits } from './units';

/** Read again this often. */
export const DIRECTORY_CACHE_MS = 30_000;

export interface Directory {
  at: number;
  units: UnitDoc[];
  /** byCode (also a units.ts UnitTree for unitWithin) and children */
  tree: UnitHierarchy;
  schedules: Map<string, ScheduleDoc>;
}

/**
 * A reader of the directory with its cache. `knows`: a unit the cached copy must have, else it is
 * read again (a unit imported a moment ago).
 */
export function directoryReader(store: Store, now: () => number = Date.now): (knows?: string) => Promise<Directory> {
  let directory: Directory | null = null;
  let loading: Promise<Directory> | null = null;
  return async (knows) => {
    if (directory && now() - directory.at < DIRECTORY_CACHE_MS && (knows === undefined || directory.tree.byCode.has(knows))) return directory;
    loading ??= (async () => {
      const [units, schedules] = await Promise.all([loadUnits(store), store.docsByPrefix<ScheduleDoc>(DB.directory, 'schedule:')]);
      const fresh: Directory = {
        at: now(),
        units,
        tree: unitHierarchy(units),
        schedules: new Map((schedules ?? []).filter((s) => s.type === 'schedule').map((s) => [s.code, s]))
      };
      directory = fresh;
      return fresh;
    })().finally(() => (loading = null));
    return loading;
  };
}
