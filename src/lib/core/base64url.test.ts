import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base64urlnopad } from '@scure/base';
import { decodeBase64url, encodeBase64url } from './base64url';

describe('base64url', () => {
  it('spells bytes as @scure/base does, and reads them back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = encodeBase64url(bytes);
        expect(text).toBe(base64urlnopad.encode(bytes));
        expect(decodeBase64url(text)).toEqual(bytes);
      })
    );
  });

  it('refuses what is not the canonical spelling of some bytes', () => {
    const key = encodeBase64url(new Uint8Array(32).fill(7));
    expect(key).toHaveLength(43);
    // The last character of 32 bytes carries 4 bits and 2 spare ones: setting a spare bit changes the text, not the bytes.
    const spare = key.slice(0, 42) + String.fromCharCode(key.charCodeAt(42) + 1);
    expect(decodeBase64url(spare)).toBeNull();
    expect(decodeBase64url(key + '=')).toBeNull();
    expect(decodeBase64url('a')).toBeNull();
    expect(decodeBase64url('ab+/')).toBeNull();
    expect(decodeBase64url('')).toEqual(new Uint8Array(0));
  });

  it('agrees with @scure/base on any text: the same bytes or a refusal', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ '), maxLength: 50 }), (text) => {
        let expected: Uint8Array | null;
        try {
          expected = base64urlnopad.decode(text);
        } catch {
          expected = null;
        }
        expect(decodeBase64url(text)).toEqual(expected);
      })
    );
  });
});
