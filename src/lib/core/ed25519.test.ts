import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { loadNoble, verifyEd25519, webCryptoEd25519 } from './ed25519';

describe('verifyEd25519', () => {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  const message = new TextEncoder().encode('LV1:4821:[venue]');
  const signature = ed25519.sign(message, secret);

  it('accepts a genuine signature (Node has WebCrypto Ed25519)', async () => {
    expect(await webCryptoEd25519()).toBe(true);
    expect(await verifyEd25519(signature, message, publicKey)).toBe(true);
  });

  it('refuses an altered message, a flipped signature bit, another key, and wrong lengths', async () => {
    const altered = message.slice();
    altered[0] = altered[0]! ^ 1;
    expect(await verifyEd25519(signature, altered, publicKey)).toBe(false);
    const flipped = signature.slice();
    flipped[10] = flipped[10]! ^ 4;
    expect(await verifyEd25519(flipped, message, publicKey)).toBe(false);
    expect(await verifyEd25519(signature, message, ed25519.getPublicKey(ed25519.utils.randomSecretKey()))).toBe(false);
    expect(await verifyEd25519(signature.slice(0, 63), message, publicKey)).toBe(false);
    expect(await verifyEd25519(signature, message, publicKey.slice(1))).toBe(false);
  });

  it('the lazily loaded fallback agrees', async () => {
    const noble = await loadNoble();
    expect(noble.verify(signature, message, publicKey)).toBe(true);
  });
});
