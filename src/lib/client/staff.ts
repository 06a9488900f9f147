/** The owner's side of staff stations (server/staff): one-time pairing codes, the phones paired, unpairing. */

export interface PairedStation {
  deviceId: string;
  venueId: string;
  communeCode: string;
  label: string;
  pairedAt: string;
  lastSeenAt: string | null;
}

export type StaffError = 'not_logged_in' | 'not_found' | 'too_many_attempts' | 'offline' | 'server';

/** `retryAfter`: seconds, with a 429 (the server's Retry-After). */
async function call<T>(method: string, url: string, body?: unknown): Promise<{ ok: true; value: T } | { ok: false; error: StaffError; retryAfter?: number }> {
  let res: Response;
  try {
    res = await fetch(url, { method, cache: 'no-store', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  } catch {
    return { ok: false, error: 'offline' };
  }
  if (res.ok) return { ok: true, value: (await res.json()) as T };
  const error = res.status === 401 ? 'not_logged_in' : res.status === 404 ? 'not_found' : res.status === 429 ? 'too_many_attempts' : 'server';
  const retryAfter = Number(res.headers.get('retry-after'));
  return { ok: false, error, ...(error === 'too_many_attempts' && retryAfter > 0 ? { retryAfter } : {}) };
}

export function newPairingCode(communeCode: string, venueId: string, label: string) {
  return call<{ code: string; expiresAt: string }>('POST', '/api/staff/pairings', { communeCode, venueId, label });
}

export function pairedStations() {
  return call<{ stations: PairedStation[] }>('GET', '/api/staff/stations');
}

export function unpairStation(deviceId: string) {
  return call<{ ok: true }>('DELETE', `/api/staff/stations/${encodeURIComponent(deviceId)}`);
}
