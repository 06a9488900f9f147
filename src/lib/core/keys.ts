/**
 * The public keys a phone needs to verify venue codes offline: the `/api/keys` document. Read by a
 * hand-written check rather than a schema: it is on the cold check-in path (bench/checkin.mjs),
 * where the schema library's bytes cost a slow link more than this whole file.
 */
import { decodeBase64url, encodeBase64url } from './base64url';
import { KEY_ID_PATTERN, type PublicKey } from './venue/venue-token';

export interface KeysDocument {
  alg: 'Ed25519';
  active: string;
  keys: { id: string; publicKey: string }[];
  /** Venues suspended by their owner or the commune: their printed codes no longer count. */
  revoked?: string[];
}

const PUBLIC_KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;
const VENUE_ID = /^[a-z2-7]{12}$/;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isKeyId = (x: unknown): x is string => typeof x === 'string' && KEY_ID_PATTERN.test(x);

/** The document's fields when it is a key list this server writes (unknown fields are ignored), else null. */
function readKeysDocument(json: unknown): KeysDocument | null {
  if (!isRecord(json) || json.alg !== 'Ed25519' || !isKeyId(json.active) || !Array.isArray(json.keys)) return null;
  const keys: KeysDocument['keys'] = [];
  for (const k of json.keys) {
    if (!isRecord(k) || !isKeyId(k.id) || typeof k.publicKey !== 'string' || !PUBLIC_KEY_TEXT.test(k.publicKey)) return null;
    keys.push({ id: k.id, publicKey: k.publicKey });
  }
  const revoked = json.revoked;
  if (revoked === undefined) return { alg: 'Ed25519', active: json.active, keys };
  if (!Array.isArray(revoked) || !revoked.every((id): id is string => typeof id === 'string' && VENUE_ID.test(id))) return null;
  return { alg: 'Ed25519', active: json.active, keys, revoked };
}

export function encodeKeysDocument(active: string, keys: readonly PublicKey[]): KeysDocument {
  return { alg: 'Ed25519', active, keys: keys.map((k) => ({ id: k.id, publicKey: encodeBase64url(k.publicKey) })) };
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
    keys.push({ id: k.id, publicKey });
  }
  return keys;
}

/** The suspended venues listed in a key document (empty when it is not a valid one). */
export function decodeRevoked(json: unknown): Set<string> {
  return new Set(readKeysDocument(json)?.revoked ?? []);
}
