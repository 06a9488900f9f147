/**
 * The public directory on this device: administrative units and zone levels, pulled from
 * `lv_directory` and kept for offline use, so unit pickers work in a village with no signal.
 */
import { buildUnitIndex, effectiveZoneLevel, searchUnits, unitLabel, unitPath, type UnitDoc, type UnitIndex, type UnitLevel, type ZoneDoc } from '$lib/core/units';
import { scheduleFor, type ReportSchedule, type ScheduleDoc } from '$lib/core/reports/period';
import { replica } from './replicas.svelte';

class Directory {
  #index = $state.raw<UnitIndex | null>(null);
  #zones = $state.raw<Map<string, ZoneDoc>>(new Map());
  #schedules = $state.raw<Map<string, ScheduleDoc>>(new Map());
  #loading: Promise<void> | null = null;

  get ready() {
    return this.#index !== null;
  }
  get syncState() {
    return replica('lv_directory', 'pull').state;
  }
  /** When this device last finished pulling the directory (zone levels included): a checkpoint offline says from when its levels are. */
  get lastSync(): number | null {
    return replica('lv_directory', 'pull').lastSync;
  }

  /** Loads the local replica (and keeps loading as the pull brings more). */
  load(): Promise<void> {
    if (this.#loading) return this.#loading;
    const db = replica<UnitDoc | ZoneDoc | ScheduleDoc>('lv_directory', 'pull').db;
    const read = async () => {
      const res = await db.allDocs({ include_docs: true });
      const units: UnitDoc[] = [];
      const zones = new Map<string, ZoneDoc>();
      const schedules = new Map<string, ScheduleDoc>();
      for (const row of res.rows) {
        const doc = row.doc as UnitDoc | ZoneDoc | ScheduleDoc | undefined;
        if (doc?.type === 'unit') units.push(doc);
        else if (doc?.type === 'zone') zones.set(doc.code, doc);
        else if (doc?.type === 'schedule') schedules.set(doc.code, doc);
      }
      this.#index = buildUnitIndex(units);
      this.#zones = zones;
      this.#schedules = schedules;
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    db.changes({ live: true, since: 'now' }).on('change', () => {
      // A first pull brings thousands of units: re-index once it settles, not per document.
      clearTimeout(timer);
      timer = setTimeout(() => void read(), 300);
    });
    this.#loading = read();
    return this.#loading;
  }

  search(query: string, level?: UnitLevel, limit = 20): UnitDoc[] {
    return this.#index ? searchUnits(this.#index, query, { level, limit }) : [];
  }

  label(code: string): string {
    return this.#index ? unitLabel(this.#index, code) : code;
  }

  zoneLevel(code: string): number | null {
    return this.#zones.get(code)?.level ?? null;
  }

  /** A unit's report days: its own, else its district's or province's, else the default. */
  schedule(code: string): ReportSchedule {
    return scheduleFor(this.#index ? unitPath(this.#index, code) : [], this.#schedules);
  }

  /** The unit itself, when known. */
  unit(code: string): UnitDoc | null {
    return this.#index?.byCode.get(code) ?? null;
  }

  /** The level that applies to a unit: its own, else its district's or province's. */
  effectiveZone(code: string): number | null {
    return this.#index ? effectiveZoneLevel(this.#index, this.#zones, code) : null;
  }
}

export const directory = new Directory();
