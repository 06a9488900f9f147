/**
 * Which code writes a check-in into the diary in this page. The cold check-in link writes with
 * IndexedDB alone (diary-save.ts), before Dexie has loaded. Once Dexie holds the diary in the page
 * (diary.ts registers itself here as it loads), check-ins go through it: Dexie keeps its live queries
 * and their cache from its own writes, so a write behind its back would leave an open diary or home
 * screen showing the diary as it was before the visit.
 */
import type { VenueClaims } from '$lib/core/venue/venue-token';
import type { Closure, Visit, VisitSource, VisitVerification } from '$lib/core/citizen/visit';

export interface CheckinResult {
  visit: Visit;
  /** the same venue was opened again within a few minutes: no second visit was made */
  repeated: boolean;
  /** visits left open that this check-in ended (one place at a time); undo with `reopenVisits` */
  closed: Closure[];
}

export type CheckinInput = { claims: VenueClaims; token: string; source: VisitSource; verification: VisitVerification; now?: number };

let dexieWriter: ((input: CheckinInput) => Promise<CheckinResult>) | null = null;

/** Called by diary.ts when it loads. */
export function registerDexieWriter(write: (input: CheckinInput) => Promise<CheckinResult>): void {
  dexieWriter = write;
}

/** Dexie's check-in writer when Dexie is loaded in this page, else null. */
export function loadedDexieWriter(): ((input: CheckinInput) => Promise<CheckinResult>) | null {
  return dexieWriter;
}
