/**
 * The genuine codes of a revoked signing key (server/keys.ts says why and how many): the server
 * lists, commune by commune, the digests of the codes it signed with the key before the day of the
 * revocation; a phone trusts a code under that key only when its digest is listed. Apart from
 * venue-token.ts so that the check-in path loads it only when it meets such a code.
 */
import { encodeBase64url } from '../base64url';

/** Bytes of a code's digest: enough that no one finds another code with a listed digest (see server/keys.ts). */
export const CODE_DIGEST_BYTES = 12;
/** One digest as listed: 12 bytes in base64url. */
const DIGEST_TEXT = /^[A-Za-z0-9_-]{16}$/;

/**
 * A code's digest: the first 12 bytes of SHA-256 over what the signature covers and the signature,
 * base64url (16 characters), of a parsed code (venue-token.ts). WebCrypto's digest: every secure context has it, and the app runs in
 * no other (null without it).
 */
export async function codeDigest(parsed: { message: Uint8Array; signature: Uint8Array }): Promise<string | null> {
  const bytes = new Uint8Array(parsed.message.length + parsed.signature.length);
  bytes.set(parsed.message);
  bytes.set(parsed.signature, parsed.message.length);
  const s = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!s) return null;
  return encodeBase64url(new Uint8Array(await s.digest('SHA-256', bytes)).subarray(0, CODE_DIGEST_BYTES));
}

/**
 * The genuine codes of a revoked key in one commune (`/api/keys/<keyId>/genuine/<commune>`):
 * `{ keyId, communeCode, digests }`, the digests one string of 16-character digests end to end.
 * Null when it is not that list (a captive portal page, another key's or commune's list).
 */
export function decodeGenuineList(json: unknown, keyId: string, communeCode: string): Set<string> | null {
  if (typeof json !== 'object' || json === null) return null;
  const list = json as Record<string, unknown>;
  if (list.keyId !== keyId || list.communeCode !== communeCode || typeof list.digests !== 'string' || list.digests.length % 16 !== 0) return null;
  const digests = new Set<string>();
  for (let i = 0; i < list.digests.length; i += 16) {
    const d = list.digests.slice(i, i + 16);
    if (!DIGEST_TEXT.test(d)) return null;
    digests.add(d);
  }
  return digests;
}
