/**
 * Base64url without padding (RFC 4648 §5), strict: only the canonical spelling of some bytes
 * decodes. Hand-written on atob/btoa, which every browser and Node have, because the public keys it
 * reads are on the cold check-in path, where a codec library would add its bytes to a slow download.
 */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function encodeBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Null for anything that is not canonical base64url: other characters, a length no bytes have, or spare bits set. */
export function decodeBase64url(text: string): Uint8Array | null {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return null;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // atob ignores bits left over in the last character: a second spelling of the same bytes is refused.
  return encodeBase64url(bytes) === text ? bytes : null;
}
