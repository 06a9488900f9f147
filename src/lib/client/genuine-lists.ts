/**
 * A revoked key's genuine codes of one commune, as the phone fetches and keeps them
 * (src/lib/core/venue/genuine-codes.ts). Loaded only when a code under a revoked key is met.
 */
import { decodeGenuineList } from '$lib/core/venue/genuine-codes';

/** On a slow link the visit is saved first; this bounds the wait for its verdict. */
const FETCH_TIMEOUT_MS = 10_000;

/** The list, from this phone's copy when it has one (a revocation's list never changes), else from the server; null offline. */
export async function genuineList(keyId: string, revokedFrom: string, communeCode: string): Promise<ReadonlySet<string> | null> {
  const cacheKey = `lv.keys.genuine.${keyId}.${revokedFrom}.${communeCode}`;
  try {
    const held = decodeGenuineList(JSON.parse(localStorage.getItem(cacheKey) ?? 'null'), keyId, communeCode);
    if (held) return held;
  } catch {
    // unreadable: fetched again below
  }
  try {
    const res = await fetch(`/api/keys/${keyId}/genuine/${communeCode}`, { cache: 'no-cache', credentials: 'omit', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) return null;
    const json: unknown = await res.json();
    const list = decodeGenuineList(json, keyId, communeCode);
    if (list) localStorage.setItem(cacheKey, JSON.stringify(json));
    return list;
  } catch {
    return null;
  }
}
