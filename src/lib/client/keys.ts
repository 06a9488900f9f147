/**
 * Public keys for verifying venue codes, cached on the phone so that codes verify offline.
 * Fetching the key list reveals nothing about the phone's visits: it is the same list for everyone.
 */
import { decodeKeysDocument, decodeRevoked } from '$lib/core/keys';
import type { PublicKey } from '$lib/core/venue/venue-token';

const CACHE_KEY = 'lv.keys.v1';
const FETCHED_AT_KEY = 'lv.keys.fetchedAt';
/** On a slow link a visit is saved first and verified when the keys arrive; this bounds the wait. */
const FETCH_TIMEOUT_MS = 10_000;

export function cachedKeys(): PublicKey[] {
  try {
    const text = localStorage.getItem(CACHE_KEY);
    return text ? withGenuineLists(decodeKeysDocument(JSON.parse(text)) ?? []) : [];
  } catch {
    return [];
  }
}

/**
 * A revoked key's codes verify against the server's list of the genuine ones of their commune
 * (src/lib/core/keys.ts): fetched when a code needs it, one commune at a time (about 1.6 KB for
 * a hundred venues), and kept, since the list of a revocation never changes. Which commune's list
 * is asked for tells no more than the poster on the wall: the list is the same for everyone.
 */
function withGenuineLists(keys: PublicKey[]): PublicKey[] {
  return keys.map((k) => (k.revokedFrom === undefined ? k : { ...k, genuine: (commune: string) => import('./genuine-lists').then((g) => g.genuineList(k.id, k.revokedFrom!, commune)) }));
}

/** How long ago the key list was fetched (Infinity when never). */
export function keysAge(): number {
  const at = Number(localStorage.getItem(FETCHED_AT_KEY));
  return at > 0 ? Date.now() - at : Infinity;
}

/** Suspended venues, from the same cached document. */
export function cachedRevoked(): Set<string> {
  try {
    return decodeRevoked(JSON.parse(localStorage.getItem(CACHE_KEY) ?? 'null'));
  } catch {
    return new Set();
  }
}

let inflight: Promise<PublicKey[] | null> | null = null;

/** Fetches the current key list; null when offline or the answer is not a key list. */
export function refreshKeys(): Promise<PublicKey[] | null> {
  inflight ??= (async () => {
    try {
      const res = await fetch('/api/keys', { cache: 'no-cache', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) return null;
      const json: unknown = await res.json();
      const keys = decodeKeysDocument(json);
      if (!keys) return null;
      // The server's list replaces the cached one: a key withdrawn there (leaked, retired) stops being trusted here.
      localStorage.setItem(CACHE_KEY, JSON.stringify(json));
      localStorage.setItem(FETCHED_AT_KEY, String(Date.now()));
      return withGenuineLists(keys);
    } catch {
      return null;
    } finally {
      inflight = null;
    }
  })();
  return inflight;
}

/** Keys older than this are fetched again on app start: rotations and suspensions reach phones within hours. */
const KEYS_MAX_AGE_MS = 6 * 60 * 60 * 1000;

export async function prefetchKeys(): Promise<void> {
  if (cachedKeys().length === 0 || keysAge() > KEYS_MAX_AGE_MS) await refreshKeys();
}
