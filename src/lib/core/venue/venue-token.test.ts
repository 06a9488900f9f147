import { describe, expect, it } from 'vitest';
import QRCode from 'qrcode';
import { ed25519 } from '@noble/curves/ed25519.js';
import { checkClaimsTuple, checkinUrl, extractVenueToken, parseShortLink, parseVenueToken, resolveTypedVenueId, shortLinkText, isLocalOrigin, posterOrigin, verifyVenueToken, type VenueClaims } from './venue-token';
import { newSigningKey, signVenueToken } from './venue-signing';
import { bytesToDigits, digitsToBytes } from '../base10';
import { newVenueId, VENUE_ID_ALPHABET, VENUE_ID_PATTERN } from './venue';

const key = newSigningKey('4821');
const otherKey = newSigningKey('4821'); // same id, different secret: a "re-signed" forgery
const claims: VenueClaims = { venueId: 'abcdefghij23', name: 'Chợ Đức Thọ', communeCode: '18070', venueType: 'market' };
// 60 characters, a realistic long name with many diacritics.
const LONG_NAME = 'Nhà văn hóa thôn Trung Tiến, xã Đức Lạng, huyện Đức Thọ, Hà ';
// Every letter with a mark : far more bytes than characters in UTF-8.
const HEAVY_NAME = 'Ủy ban nhân dân xã Đức Đồng: Nhà văn hóa tổ dân phố Hưng Thị';

function parsed(token: string) {
  const p = parseVenueToken(token);
  if (!p.ok) throw new Error(p.reason);
  return p;
}

describe('venue token', () => {
  it('round-trips and verifies with the signing key', async () => {
    const token = signVenueToken(claims, key);
    const p = parsed(token);
    expect(p.claims).toEqual(claims);
    expect(p.keyId).toBe('4821');
    await expect(verifyVenueToken(p, [key])).resolves.toBe('verified');
  });

  it('rejects a token re-signed by another key under the same id', async () => {
    const forged = signVenueToken(claims, otherKey);
    await expect(verifyVenueToken(parsed(forged), [key])).resolves.toBe('bad-signature');
  });

  it('does not accept the genuine code of a suspended venue', async () => {
    const p = parsed(signVenueToken(claims, key));
    await expect(verifyVenueToken(p, [key], new Set([claims.venueId]))).resolves.toBe('revoked');
    await expect(verifyVenueToken(p, [key], new Set(['otherotherot']))).resolves.toBe('verified');
  });

  it('reports an unknown key rather than trusting it', async () => {
    const token = signVenueToken(claims, newSigningKey('9999'));
    await expect(verifyVenueToken(parsed(token), [key])).resolves.toBe('unknown-key');
  });

  it('rejects an altered venue name, id or commune under the original signature', async () => {
    const token = signVenueToken(claims, key);
    const p = parsed(token);
    const body = digitsToBytes(token.slice(5))!;
    const payloadLength = body.length - 64;
    const signature = body.slice(payloadLength);
    for (const altered of [
      { ...claims, name: 'Chợ Đức Thọ 2' },
      { ...claims, venueId: 'abcdefghij24' },
      { ...claims, communeCode: '18071' },
      { ...claims, venueType: 'shop' as const }
    ]) {
      const fake = signVenueToken(altered, key);
      const fakeBody = digitsToBytes(fake.slice(5))!;
      const spliced = new Uint8Array(fakeBody.length);
      spliced.set(fakeBody.subarray(0, fakeBody.length - 64));
      spliced.set(signature, fakeBody.length - 64);
      await expect(verifyVenueToken(parsed('1' + '4821' + bytesToDigits(spliced)), [key])).resolves.toBe('bad-signature');
    }
    expect(p.claims.name).toBe('Chợ Đức Thọ');
  });

  it('rejects every single-digit change of the body', async () => {
    const token = signVenueToken(claims, key);
    for (let i = 5; i < token.length; i += 7) {
      const d = token[i] === '9' ? '0' : String(Number(token[i]) + 1);
      const changed = token.slice(0, i) + d + token.slice(i + 1);
      const p = parseVenueToken(changed);
      if (p.ok) await expect(verifyVenueToken(p, [key])).resolves.toBe('bad-signature');
    }
  });

  it('rejects truncated, extended and non-numeric tokens as damaged', async () => {
    const token = signVenueToken(claims, key);
    for (const cut of [1, 3, 17, token.length - 6]) {
      const p = parseVenueToken(token.slice(0, token.length - cut));
      if (p.ok) await expect(verifyVenueToken(p, [key])).resolves.not.toBe('verified');
    }
    expect(parseVenueToken(token + '1').ok).toBe(false);
    expect(parseVenueToken('').ok).toBe(false);
    expect(parseVenueToken('hello').ok).toBe(false);
    expect(parseVenueToken('2' + token.slice(1))).toEqual({ ok: false, reason: 'unknown-version' });
  });

  it('does not verify a signature that is all zeros or a wrong length', async () => {
    const token = signVenueToken(claims, key);
    const body = digitsToBytes(token.slice(5))!;
    body.fill(0, body.length - 64);
    const p = parsed('14821' + bytesToDigits(body));
    await expect(verifyVenueToken(p, [key])).resolves.toBe('bad-signature');
    expect(ed25519.verify(new Uint8Array(64), new Uint8Array(1), key.publicKey)).toBe(false);
  });

  it('refuses to sign a name that is empty or too long', () => {
    expect(() => signVenueToken({ ...claims, name: ' ' }, key)).toThrow();
    expect(() => signVenueToken({ ...claims, name: 'x'.repeat(81) }, key)).toThrow();
  });

  it('reads a payload\'s claims only when each has its shape, the name trimmed', () => {
    expect(checkClaimsTuple(['abcdefghij23', '  Chợ Đức Thọ ', '18070', 3])).toEqual({ ok: true, claims: ['abcdefghij23', 'Chợ Đức Thọ', '18070', 3] });
    const refused: unknown[] = [
      null,
      {},
      ['abcdefghij23', 'Chợ', '18070'],
      ['abcdefghij23', 'Chợ', '18070', 3, 'extra'],
      ['ABCDEFGHIJ23', 'Chợ', '18070', 3],
      ['abcdefghij23', '   ', '18070', 3],
      ['abcdefghij23', 'x'.repeat(81), '18070', 3],
      ['abcdefghij23', 7, '18070', 3],
      ['abcdefghij23', 'Chợ', '18a70', 3],
      ['abcdefghij23', 'Chợ', '18070', 3.5],
      ['abcdefghij23', 'Chợ', '18070', '3']
    ];
    for (const json of refused) expect(checkClaimsTuple(json).ok, JSON.stringify(json)).toBe(false);
  });

  it('keeps a 60-character Vietnamese name within a version 10 QR at level M', () => {
    for (const name of [LONG_NAME.trim() + 'T', HEAVY_NAME]) {
      expect([...name].length).toBe(60);
      const token = signVenueToken({ ...claims, name }, key);
      for (const origin of ['http://localhost:3000', 'https://luuvet.hatinh.gov.vn']) {
        const qr = QRCode.create(checkinUrl(origin, token), { errorCorrectionLevel: 'M' });
        expect(qr.version).toBeLessThanOrEqual(10);
      }
    }
  });

  it('finds the token in check-in URLs of any origin and in bare digits', () => {
    const token = signVenueToken(claims, key);
    expect(extractVenueToken(checkinUrl('https://a.example.vn/', token))).toBe(token);
    expect(extractVenueToken(`  ${token}  `)).toBe(token);
    expect(extractVenueToken('https://example.com/other#123')).toBeNull();
    expect(extractVenueToken('ftp://x/c#123')).toBeNull();
    expect(extractVenueToken('Nguyễn Văn A')).toBeNull();
  });
});

describe('base10', () => {
  it('round-trips every length from 0 to 40 bytes', () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 73 + n) & 255);
      bytes[0] = n % 2 ? 255 : 0; // leading zeros and leading 0xff both survive
      const digits = bytesToDigits(bytes.subarray(0, n));
      expect(digitsToBytes(digits)).toEqual(bytes.subarray(0, n));
    }
  });

  it('rejects impossible lengths and overflowing chunks', () => {
    expect(digitsToBytes('1234')).toBeNull();
    expect(digitsToBytes('999')).toBeNull(); // 999 > 255
    expect(digitsToBytes('12a')).toBeNull();
  });
});

describe('short links', () => {
  it('prints a typeable line in groups and reads it back', () => {
    const text = shortLinkText('https://luuvet.hatinh.gov.vn/', '18070', 'abcdefghjk23');
    expect(text).toBe('luuvet.hatinh.gov.vn/v#18070-abcd-efgh-jk23');
    expect(parseShortLink(text)).toEqual({ communeCode: '18070', typed: 'abcdefghjk23' });
    expect(parseShortLink('#18070-ABCDEFGHJK23')).toEqual({ communeCode: '18070', typed: 'abcdefghjk23' });
    expect(parseShortLink('#1807-abcdefghij23')).toBeNull();
    expect(parseShortLink('#18070-abcdefghij2')).toBeNull();
    expect(parseShortLink('#18070-abcdefghij23x')).toBeNull();
    expect(parseShortLink('')).toBeNull();
  });

  it('forgives case, spaces, dashes and look-alike digits in the commune', () => {
    for (const typed of ['18070 abcd efgh jk23', ' 18070-ABCD-EFGH-JK23 ', '18070abcdefghjk23', 'I8O7O - abcd.efgh.jk23', 'luuvet.vn/v#18070–abcd efgh jk23'])
      expect(parseShortLink(typed), typed).toEqual({ communeCode: '18070', typed: 'abcdefghjk23' });
    expect(parseShortLink('18x70-abcdefghjk23')).toBeNull();
  });

  it('finds an old id typed exactly first, then with look-alikes swapped', () => {
    // Ids printed before the new alphabet hold i, l, o and u.
    const ids = ['i3xmj7lqzom6', 'demochoducth', 'abcdefghjk23'];
    expect(resolveTypedVenueId('i3xmj7lqzom6', ids)).toBe('i3xmj7lqzom6');
    expect(resolveTypedVenueId('13xmj71qz0m6', ids)).toBe('i3xmj7lqzom6');
    expect(resolveTypedVenueId('L3XMJ7IQZOM6', ids)).toBe('i3xmj7lqzom6');
    expect(resolveTypedVenueId('dem0ch0dvcth', ids)).toBe('demochoducth');
    expect(resolveTypedVenueId('a8cdefghjk23', ids)).toBe('abcdefghjk23');
    expect(resolveTypedVenueId('abcdefghjk24', ids)).toBeNull();
  });

  it('prefers the exact id, and refuses to guess between two that read alike', () => {
    expect(resolveTypedVenueId('aaaaaaaaaal2', ['aaaaaaaaaal2', 'aaaaaaaaaai2'])).toBe('aaaaaaaaaal2');
    expect(resolveTypedVenueId('aaaaaaaaaa12', ['aaaaaaaaaal2', 'aaaaaaaaaai2'])).toBeNull();
  });

  it('makes new ids without look-alikes, inside the pattern every schema checks', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = newVenueId((n) => crypto.getRandomValues(new Uint8Array(n)));
      expect(id).toMatch(VENUE_ID_PATTERN);
      expect(id).not.toMatch(/[ilou01]/);
      seen.add(id);
    }
    expect(seen.size).toBe(500);
    // Each letter of the alphabet turns up: the drawing does not skip any.
    const letters = new Set([...seen].join(''));
    expect([...VENUE_ID_ALPHABET].every((c) => letters.has(c))).toBe(true);
  });

  it('does not favour letters from bytes past the last full round of the alphabet', () => {
    // A source of only 255s would spin forever if they were kept modulo 28; here 255 is dropped and 27 kept.
    let calls = 0;
    const id = newVenueId((n) => {
      calls++;
      return Uint8Array.from({ length: n }, (_, i) => (i % 2 ? 255 : 27));
    });
    expect(id).toBe('7'.repeat(12));
    expect(calls).toBe(2);
  });
});

describe('poster origin', () => {
  it('prints the deployment origin when the server has one, else the page origin', () => {
    expect(posterOrigin('http://localhost:3000', 'https://luuvet.hatinh.gov.vn/')).toEqual({ origin: 'https://luuvet.hatinh.gov.vn', local: false });
    expect(posterOrigin('http://localhost:3000', null)).toEqual({ origin: 'http://localhost:3000', local: true });
    expect(posterOrigin('https://luuvet.vn', null)).toEqual({ origin: 'https://luuvet.vn', local: false });
  });

  it('knows the names of this machine', () => {
    for (const o of ['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'http://0.0.0.0:3000', 'http://app.localhost', 'HTTP://LOCALHOST']) expect(isLocalOrigin(o), o).toBe(true);
    for (const o of ['https://luuvet.vn', 'http://192.168.1.10:3000', 'https://localhost.example.vn', 'not a url']) expect(isLocalOrigin(o), o).toBe(false);
  });
});
