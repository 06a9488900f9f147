/** The public keys a phone needs to verify venue codes offline: the `/api/keys` document. */
import { base64urlnopad } from '@scure/base';
import * as v from 'valibot';
import { KEY_ID_PATTERN, type PublicKey } from './venue/venue-token';

export const KeysDocument = v.object({
  alg: v.literal('Ed25519'),
  active: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
  keys: v.array(
    v.object({
      id: v.pipe(v.string(), v.regex(KEY_ID_PATTERN)),
      publicKey: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/))
    })
  ),
  /** Venues suspended by their owner or the commune: their printed codes no longer count. */
  revoked: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z2-7]{12}$/))))
});
export type KeysDocument = v.InferOutput<typeof KeysDocument>;

export function encodeKeysDocument(active: string, keys: readonly PublicKey[]): KeysDocument {
  return { alg: 'Ed25519', active, keys: keys.map((k) => ({ id: k.id, publicKey: base64urlnopad.encode(k.publicKey) })) };
}

/** Null when the document is not a valid key list (a captive portal page, a truncated download). */
export function decodeKeysDocument(json: unknown): PublicKey[] | null {
  const result = v.safeParse(KeysDocument, json);
  if (!result.success) return null;
  try {
    return result.output.keys.map((k) => ({ id: k.id, publicKey: base64urlnopad.decode(k.publicKey) }));
  } catch {
    // 43 characters of the alphabet whose last one leaves bits over: not a key we wrote.
    return null;
  }
}

/** The suspended venues listed in a key document (empty when it is not a valid one). */
export function decodeRevoked(json: unknown): Set<string> {
  const result = v.safeParse(KeysDocument, json);
  return new Set(result.success ? (result.output.revoked ?? []) : []);
}
