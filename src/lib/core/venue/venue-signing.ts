/**
 * Signing venue codes: the server's side of venue-token.ts (and the tests'). Kept apart so that the
 * phone's check-in path, which only reads and verifies codes, never bundles @noble/curves.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToDigits } from '../base10';
import { venueTypeCode } from './venue';
import { checkClaimsTuple, KEY_ID_PATTERN, SIGNATURE_BYTES, TOKEN_FORMAT_VERSION, encodeClaims, signedMessage, type PublicKey, type SigningKey, type VenueClaims } from './venue-token';

export function signVenueToken(claims: VenueClaims, key: SigningKey): string {
  if (!KEY_ID_PATTERN.test(key.id)) throw new Error(`bad key id ${key.id}`);
  const checked = checkClaimsTuple([claims.venueId, claims.name, claims.communeCode, venueTypeCode(claims.venueType)]);
  if (!checked.ok) throw new Error(`venue cannot be signed: ${checked.problem}`);
  const payload = encodeClaims(claims);
  const signature = ed25519.sign(signedMessage(key.id, payload), key.secretKey);
  const body = new Uint8Array(payload.length + SIGNATURE_BYTES);
  body.set(payload);
  body.set(signature, payload.length);
  return TOKEN_FORMAT_VERSION + key.id + bytesToDigits(body);
}

export function newSigningKey(id: string): SigningKey & PublicKey {
  const secretKey = ed25519.utils.randomSecretKey();
  return { id, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function publicKeyOf(key: SigningKey): PublicKey {
  return { id: key.id, publicKey: ed25519.getPublicKey(key.secretKey) };
}
