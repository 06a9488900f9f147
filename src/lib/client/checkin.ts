/**
 * Checking in from a venue code (a scanned QR or an opened link). The visit is saved first and
 * verified after: on 2G the key list can take seconds, and the person in the queue should not wait
 * for it. A code whose key is not cached yet stays "pending" and is checked when keys arrive.
 */
import { parseVenueToken, verifyVenueToken, type ParsedToken } from '$lib/core/venue/venue-token';
import type { VisitSource, VisitVerification } from '$lib/core/citizen/visit';
import { cachedKeys, cachedRevoked, refreshKeys } from './keys';
import type { CheckinResult } from './diary-writer';
import { saveVenueCheckin } from './diary-save';

type Parsed = Extract<ParsedToken, { ok: true }>;

async function verificationWith(parsed: Parsed, keys: ReturnType<typeof cachedKeys>): Promise<VisitVerification> {
  const result = await verifyVenueToken(parsed, keys, cachedRevoked());
  if (result === 'verified') return 'verified';
  // A key we have never seen may be a new key of the server: only the fresh list can say it is unknown.
  return result === 'unknown-key' ? 'pending' : 'unverified';
}

export async function checkInWithToken(token: string, parsed: Parsed, source: VisitSource): Promise<CheckinResult> {
  // IndexedDB alone: Dexie and the rest of the diary load after the visit is saved.
  const result = await saveVenueCheckin({ claims: parsed.claims, token, source, verification: await verificationWith(parsed, cachedKeys()) });
  // After the caller has shown the saved visit: nothing else is fetched while the person waits.
  setTimeout(() => {
    if (result.visit.verification === 'pending') void verifyPending();
    // A new visit may fall inside an event already held, or be in a province not yet watched.
    if (!result.repeated) void import('./exposures.svelte').then(({ exposureWatch }) => exposureWatch.run());
  }, 0);
  return result;
}

/** Verifies every pending visit with a fresh key list; leaves them pending when offline. */
export async function verifyPending(): Promise<void> {
  const { pendingVisits, setVerification } = await import('./diary');
  const pending = await pendingVisits();
  if (pending.length === 0) return;
  const keys = await refreshKeys();
  if (!keys) return;
  for (const visit of pending) {
    const parsed = visit.token ? parseVenueToken(visit.token) : null;
    // With the server's current list in hand, an unknown key means the code is not ours.
    const verification: VisitVerification = parsed?.ok && (await verifyVenueToken(parsed, keys, cachedRevoked())) === 'verified' ? 'verified' : 'unverified';
    await setVerification(visit.id, verification);
  }
}
