/**
 * Staff phones paired to a venue's station, in `lv_users` (server only):
 *
 * - `pairing:<sha256(code)>`: a one-time code an owner asked for, until it is used or expires. The
 *   code itself is never stored, so a copy of the database pairs nothing.
 * - `station:<ownerId>:<deviceId>`: a paired phone. Its sessions are ordinary session records under
 *   the device id (server/sessions.ts); deleting this document and those records unpairs it. One key
 *   range per owner lists the owner's devices without a view.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PAIRING_CODE_TTL } from '../../src/lib/core/venue/station-pairing';
import { DB, getOrNull, type Store } from '../store/couch';

export interface PairingDoc {
  _id: string;
  _rev?: string;
  type: 'pairing';
  schema: 1;
  ownerId: string;
  venueId: string;
  communeCode: string;
  label: string;
  createdAt: string;
  expiresAt: string;
}

export interface StationDoc {
  _id: string;
  _rev?: string;
  type: 'station';
  schema: 1;
  ownerId: string;
  deviceId: string;
  venueId: string;
  communeCode: string;
  label: string;
  pairedAt: string;
}

const users = (store: Store) => store.db<PairingDoc | StationDoc>(DB.users);

export function pairingDocId(code: string): string {
  return `pairing:${createHash('sha256').update(code).digest('base64url')}`;
}

export function stationDocId(ownerId: string, deviceId: string): string {
  return `station:${ownerId}:${deviceId}`;
}

/** A device id, also the session's user id: `s` and 20 base32 letters, never like an account's `u…`. */
export function newDeviceId(): string {
  return 's' + Array.from(randomBytes(20), (b) => 'abcdefghijklmnopqrstuvwxyz234567'[b & 31]).join('');
}

export const DEVICE_ID_PATTERN = /^s[a-z2-7]{20}$/;

export async function createPairing(store: Store, code: string, input: Pick<PairingDoc, 'ownerId' | 'venueId' | 'communeCode' | 'label'>, now = Date.now()): Promise<PairingDoc> {
  const doc: PairingDoc = {
    _id: pairingDocId(code),
    type: 'pairing',
    schema: 1,
    ...input,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + PAIRING_CODE_TTL).toISOString()
  };
  await users(store).insert(doc);
  return doc;
}

/** Drops codes nobody used before they expired (a few at most are live at a time). */
export async function purgeExpiredPairings(store: Store, now = Date.now()): Promise<void> {
  const res = await users(store).list({ startkey: 'pairing:', endkey: 'pairing:\ufff0', include_docs: true, limit: 500 });
  const expired = res.rows.flatMap((r) => (r.doc?.type === 'pairing' && Date.parse(r.doc.expiresAt) <= now ? [{ _id: r.doc._id, _rev: r.doc._rev!, _deleted: true }] : []));
  if (expired.length) await users(store).bulk({ docs: expired as never });
}

/**
 * Takes a code: the pairing it opens, removed so that it opens nothing again. Null when there is
 * none, it expired, or another phone took it first (the removal of its revision fails).
 */
export async function takePairing(store: Store, code: string, now = Date.now()): Promise<PairingDoc | null> {
  const doc = (await getOrNull(users(store), pairingDocId(code))) as PairingDoc | null;
  if (doc?.type !== 'pairing' || !doc._rev) return null;
  try {
    await users(store).destroy(doc._id, doc._rev);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 409) return null;
    throw err;
  }
  return Date.parse(doc.expiresAt) > now ? doc : null;
}

export async function createStation(store: Store, pairing: PairingDoc, deviceId: string, now = Date.now()): Promise<StationDoc> {
  const doc: StationDoc = {
    _id: stationDocId(pairing.ownerId, deviceId),
    type: 'station',
    schema: 1,
    ownerId: pairing.ownerId,
    deviceId,
    venueId: pairing.venueId,
    communeCode: pairing.communeCode,
    label: pairing.label,
    pairedAt: new Date(now).toISOString()
  };
  const res = await users(store).insert(doc);
  return { ...doc, _rev: res.rev };
}

export async function getStation(store: Store, ownerId: string, deviceId: string): Promise<StationDoc | null> {
  const doc = (await getOrNull(users(store), stationDocId(ownerId, deviceId))) as StationDoc | null;
  return doc?.type === 'station' && doc.ownerId === ownerId && doc.deviceId === deviceId ? doc : null;
}

export async function ownerStations(store: Store, ownerId: string): Promise<StationDoc[]> {
  const res = await users(store).list({ startkey: `station:${ownerId}:`, endkey: `station:${ownerId}:\ufff0`, include_docs: true });
  return res.rows.flatMap((r) => (r.doc?.type === 'station' ? [r.doc as StationDoc] : []));
}

export async function removeStation(store: Store, station: StationDoc): Promise<void> {
  try {
    await users(store).destroy(station._id, station._rev!);
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw err;
    // 409: touched meanwhile; remove what is there now.
    const now = await getStation(store, station.ownerId, station.deviceId);
    if (now?._rev) await users(store).destroy(now._id, now._rev);
  }
}

/** When the device last used its session (to the hour), from its session records. */
export async function lastSeen(store: Store, deviceId: string): Promise<string | null> {
  const res = await store.db<{ type?: string; lastSeenAt?: string }>(DB.users).list({ startkey: `session:${deviceId}:`, endkey: `session:${deviceId}:\ufff0`, include_docs: true });
  const times = res.rows.flatMap((r) => (r.doc?.type === 'session' && r.doc.lastSeenAt ? [r.doc.lastSeenAt] : []));
  return times.sort().at(-1) ?? null;
}
