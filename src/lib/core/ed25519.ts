/**
 * Ed25519 verification for code that runs on phones: the browser's own WebCrypto where it has
 * Ed25519 (native, and no bytes to download), @noble/curves only where it does not. noble is
 * imported dynamically so that a phone with WebCrypto Ed25519 never downloads it (the cold check-in
 * link counts every kilobyte). Signing stays with noble, on the server.
 */

/** Two hex digits a byte: for the test vector below (noble's helper would put its utilities on the check-in path). */
function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

// RFC 8032 §7.1, test 1 (empty message). Detection verifies a real signature instead of only
// importing a key: a runtime that knows the algorithm name but gets it wrong must not be trusted.
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC8032_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

export const ED25519 = { name: 'Ed25519' } as const;

/**
 * WebCrypto's BufferSource wants bytes over a plain ArrayBuffer; ours almost always are, and are
 * copied only when they sit on a SharedArrayBuffer.
 */
export function plain(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

export function subtle(): SubtleCrypto | null {
  return (globalThis as { crypto?: Crypto }).crypto?.subtle ?? null;
}

let support: Promise<boolean> | null = null;

/** Whether this runtime verifies Ed25519 with WebCrypto; found out once, then cached. */
export function webCryptoEd25519(): Promise<boolean> {
  support ??= (async () => {
    const s = subtle();
    if (!s) return false;
    try {
      const key = await s.importKey('raw', plain(hexToBytes(RFC8032_PUBLIC)), ED25519, false, ['verify']);
      return await s.verify(ED25519, key, plain(hexToBytes(RFC8032_SIGNATURE)), new Uint8Array(0));
    } catch {
      // Older Safari and Chromium without the flag: NotSupportedError.
      return false;
    }
  })();
  return support;
}

type Noble = typeof import('@noble/curves/ed25519.js').ed25519;
let noble: Promise<Noble> | null = null;

/** The pure-JavaScript fallback, downloaded on first use only. */
export function loadNoble(): Promise<Noble> {
  // Destructured in the callback: Rollup then bundles ed25519 alone, not the module's every curve.
  noble ??= import('@noble/curves/ed25519.js').then(({ ed25519 }) => ed25519);
  return noble;
}

/**
 * Whether `signature` is a valid Ed25519 signature of `message` under the raw 32-byte `publicKey`.
 * Anything malformed is false, never an exception. WebCrypto and noble accept the same signatures
 * for keys and signatures of the right length (RFC 8032 checks); a key WebCrypto refuses to import
 * goes to noble, which decides.
 */
export async function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const s = subtle();
  if (s && (await webCryptoEd25519())) {
    try {
      const key = await s.importKey('raw', plain(publicKey), ED25519, false, ['verify']);
      return await s.verify(ED25519, key, plain(signature), plain(message));
    } catch {
      // Fall through: noble decides odd encodings exactly as the server's checks would.
    }
  }
  try {
    return (await loadNoble()).verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
