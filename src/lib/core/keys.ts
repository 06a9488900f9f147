/**
 * The public keys a phone needs to verify venue codes offline: the `/api/keys` document. Read by a
 * hand-written check rather than a schema: it is on the cold check-in path (bench/checkin.mjs),
 * where the schema library's bytes cost a slow link more than this whole file.
 *
 * Every key the server has ever published stays in it with its state (server/keys.ts):
 * `next` (published ahead, signs nothing yet), the `active` one (signs), `retired` (signs nothing,
 * its codes and events still verify), `revoked` with `revokedFrom` (a day, yyyy-mm-dd): its codes
 * verify only when listed among the genuine ones of their commune
 * (`/api/keys/<keyId>/genuine/<commune>`, venue/genuine-codes.ts), and its exposure events and
 * snapshots are refused. A document without states (older servers) means every key verifies.
 */
import { decodeBase64url, encodeBase64url } from './base64url';
import { KEY_ID_PATTERN, type PublicKey } from './venue/venue-token';
import { VENUE_ID_PATTERN } from './venue/venue';

export interface KeysDocument {
  alg: 'Ed25519';
  active: string;
  keys: KeyEntry[];
  /** Venues suspended by their owner or the commune: their printed codes no longer count. */
  revoked?: string[];
}

export type KeyState = 'next' | 'active' | 'retired' | 'revoked';

export interface KeyEntry {
  id: string;
  publicKey: string;
  /** absent in documents of before the lifecycle: a key that verifies */
  state?: KeyState;
  /** for a revoked key: from which day (yyyy-mm-dd, Vietnam time) nothing it signed is trusted by itself */
  revokedFrom?: string;
}

const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

const PUBLIC_KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isKeyId = (x: unknown): x is string => typeof x === 'string' && KEY_ID_PATTERN.test(x);

/** The document's fields when it is a key list this server writes (unknown fields are ignored), else null. */
function readKeysDocument(json: unknown): KeysDocument | null {
  if (!isRecord(json) || json.alg !== 'Ed25519' || !isKeyId(json.active) || !Array.isArray(json.keys)) return null;
  const keys: KeysDocument['keys'] = [];
  for (const k of json.keys) {
    if (!isRecord(k) || !isKeyId(k.id) || typeof k.publicKey !== 'string' || !PUBLIC_KEY_TEXT.test(k.publicKey)) return null;
    // Only a revocation changes what a phone trusts; a state it does not know (a later server's) is no reason to refuse the list.
    if (k.state !== 'revoked') keys.push({ id: k.id, publicKey: k.publicKey });
    // A revocation the phone cannot read must not leave the key trusted: the document is refused.
    else if (typeof k.revokedFrom !== 'string' || !DAY.test(k.revokedFrom)) return null;
    else keys.push({ id: k.id, publicKey: k.publicKey, state: 'revoked', revokedFrom: k.revokedFrom });
  }
  const revoked = json.revoked;
  if (revoked === undefined) return { alg: 'Ed25519', active: json.active, keys };
  if (!Array.isArray(revoked) || !revoked.every((id): id is string => typeof id === 'string' && VENUE_ID_PATTERN.test(id))) return null;
  return { alg: 'Ed25519', active: json.active, keys, revoked };
}

export function encodeKeysDocument(active: string, keys: readonly (PublicKey & { state?: KeyState })[]): KeysDocument {
  return {
    alg: 'Ed25519',
    active,
    keys: keys.map((k) => ({
      id: k.id,
      publicKey: encodeBase64url(k.publicKey),
      ...(k.state ? { state: k.state } : {}),
      ...(k.revokedFrom !== undefined ? { revokedFrom: k.revokedFrom } : {})
    }))
  };
}

/** Null when the document is not a valid key list (a captive portal page, a truncated download). */
export function decodeKeysDocument(json: unknown): PublicKey[] | null {
  const doc = readKeysDocument(json);
  if (!doc) return null;
  const keys: PublicKey[] = [];
  for (const k of doc.keys) {
    // 43 characters of the alphabet whose last one leaves bits over: not a key we wrote.
    const publicKey = decodeBase64url(k.publicKey);
    if (!publicKey) return null;
    keys.push(k.revokedFrom !== undefined ? { id: k.id, publicKey, revokedFrom: k.revokedFrom } : { id: k.id, publicKey });
  }
  return keys;
}

/** The suspended venues listed in a key document (empty when it is not a valid one). */
export function decodeRevoked(json: unknown): Set<string> {
  return new Set(readKeysDocument(json)?.revoked ?? []);
}
