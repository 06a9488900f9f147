/** What the sync bar says overall, from the states of the replicas it watches. */
import type { SyncState } from '$lib/client/replicas.svelte';

export type OverallSync = 'login' | 'error' | 'syncing' | 'offline' | 'done';

export function overallSync(replicas: readonly { state: SyncState; pendingUp: number }[], online: boolean): OverallSync {
  if (replicas.some((r) => r.state === 'login')) return 'login';
  if (replicas.some((r) => r.state === 'error')) return 'error';
  // 'idle' is a replica not started yet: about to sync, not synced.
  if (replicas.some((r) => r.state === 'syncing' || r.state === 'idle')) return 'syncing';
  if (replicas.some((r) => r.state === 'offline') || !online) return 'offline';
  // A write made since the last round (a scan, a saved form) is counted before the live sync picks
  // it up: "synced" next to "1 record waiting" would be untrue, it is on its way.
  if (replicas.some((r) => r.pendingUp > 0)) return 'syncing';
  return 'done';
}
