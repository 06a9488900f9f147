import { describe, expect, it } from 'vitest';
import { decodeKeysDocument, encodeKeysDocument } from './keys';
import { codeDigest, decodeGenuineList } from './venue/genuine-codes';
import { parseVenueToken, verifyVenueToken, type PublicKey, type VenueClaims } from './venue/venue-token';
import { newSigningKey, publicKeyOf, signVenueToken } from './venue/venue-signing';
import { signExposure, signSnapshot, verifyExposure } from './exposure/exposure-sign';
import { verifyExposures } from './exposure/exposure-verify';
import { verifySnapshot, type SnapshotContent } from './exposure/snapshot-format';
import { makeExposureEvent } from './testing';

const old = newSigningKey('4821');
const current = newSigningKey('5930');
const claims: VenueClaims = { venueId: 'abcdefghij23', name: 'Chợ Đức Thọ', communeCode: '18070', venueType: 'market' };

function parsed(token: string) {
  const p = parseVenueToken(token);
  if (!p.ok) throw new Error(p.reason);
  return p;
}

const revoked = (genuine?: PublicKey['genuine']): PublicKey => ({ ...publicKeyOf(old), revokedFrom: '2026-11-20', ...(genuine ? { genuine } : {}) });

describe('the key document with a lifecycle', () => {
  it('publishes and reads back states and the day of a revocation', () => {
    const doc = encodeKeysDocument('5930', [
      { ...publicKeyOf(current), state: 'active' },
      { ...publicKeyOf(old), state: 'revoked', revokedFrom: '2026-11-20' },
      { ...newSigningKey('6000'), state: 'retired' }
    ]);
    expect(doc.keys.map((k) => k.state)).toEqual(['active', 'revoked', 'retired']);
    const keys = decodeKeysDocument(JSON.parse(JSON.stringify(doc)))!;
    expect(keys.map((k) => [k.id, k.revokedFrom])).toEqual([
      ['5930', undefined],
      ['4821', '2026-11-20'],
      ['6000', undefined]
    ]);
  });

  it('refuses a revocation it cannot read rather than trusting the key', () => {
    const doc = encodeKeysDocument('5930', [publicKeyOf(current), { ...publicKeyOf(old), state: 'revoked', revokedFrom: '2026-11-20' }]);
    const withoutDay = { ...doc, keys: doc.keys.map((k) => ({ ...k, revokedFrom: undefined })) };
    expect(decodeKeysDocument(JSON.parse(JSON.stringify(withoutDay)))).toBeNull();
    // A state a later server may add is no reason to refuse the list: only a revocation changes what is trusted.
    expect(decodeKeysDocument({ ...doc, keys: [{ ...doc.keys[0], state: 'archived' }] })).toHaveLength(1);
    // A document of before the lifecycle: every key verifies.
    expect(decodeKeysDocument({ alg: 'Ed25519', active: '5930', keys: [doc.keys[0]] })).toHaveLength(1);
  });

  it('reads a commune list of genuine digests, and nothing else', () => {
    const list = { keyId: '4821', communeCode: '18070', digests: 'A'.repeat(16) + 'b_-'.repeat(5) + 'c' };
    expect(decodeGenuineList(list, '4821', '18070')).toEqual(new Set(['A'.repeat(16), 'b_-'.repeat(5) + 'c']));
    expect(decodeGenuineList({ ...list, digests: '' }, '4821', '18070')).toEqual(new Set());
    expect(decodeGenuineList(list, '4821', '18071')).toBeNull();
    expect(decodeGenuineList(list, '5930', '18070')).toBeNull();
    expect(decodeGenuineList({ ...list, digests: 'A'.repeat(15) }, '4821', '18070')).toBeNull();
    expect(decodeGenuineList({ ...list, digests: '!'.repeat(16) }, '4821', '18070')).toBeNull();
    expect(decodeGenuineList('<html>', '4821', '18070')).toBeNull();
  });
});

describe('venue codes under a revoked key', () => {
  it('verify when listed among the genuine codes of their commune, and only then', async () => {
    const genuine = parsed(signVenueToken(claims, old));
    // The holder of the leaked key signs what they like: the same venue, another name.
    const forged = parsed(signVenueToken({ ...claims, name: 'Chợ Đức Thọ (mới)' }, old));
    const digest = await codeDigest(genuine);
    expect(digest).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const asked: string[] = [];
    const key = revoked(async (commune) => {
      asked.push(commune);
      return new Set([digest!]);
    });
    await expect(verifyVenueToken(genuine, [key])).resolves.toBe('verified');
    await expect(verifyVenueToken(forged, [key])).resolves.toBe('key-revoked');
    expect(asked).toEqual(['18070', '18070']);
  });

  it('wait for the network when the list cannot be had, and are unverified where no list can ever come', async () => {
    const genuine = parsed(signVenueToken(claims, old));
    await expect(verifyVenueToken(genuine, [revoked(async () => null)])).resolves.toBe('unknown-key');
    await expect(verifyVenueToken(genuine, [revoked(() => Promise.reject(new Error('offline')))])).resolves.toBe('unknown-key');
    await expect(verifyVenueToken(genuine, [revoked()])).resolves.toBe('key-revoked');
  });

  it('still fail on a bad signature before any list is asked for, and a suspended venue stays suspended', async () => {
    const genuine = parsed(signVenueToken(claims, old));
    let asked = 0;
    const key = revoked(async () => {
      asked++;
      return new Set([(await codeDigest(genuine))!]);
    });
    const byAnother = parsed(signVenueToken(claims, newSigningKey('4821')));
    await expect(verifyVenueToken(byAnother, [key])).resolves.toBe('bad-signature');
    expect(asked).toBe(0);
    await expect(verifyVenueToken(genuine, [key], new Set([claims.venueId]))).resolves.toBe('revoked');
  });

  it('a retired key (no revocation) verifies as before', async () => {
    await expect(verifyVenueToken(parsed(signVenueToken(claims, old)), [publicKeyOf(current), publicKeyOf(old)])).resolves.toBe('verified');
  });

  it('the digest depends on every byte of the code', async () => {
    const a = await codeDigest(parsed(signVenueToken(claims, old)));
    const b = await codeDigest(parsed(signVenueToken({ ...claims, communeCode: '18071' }, old)));
    const c = await codeDigest(parsed(signVenueToken(claims, current)));
    expect(new Set([a, b, c]).size).toBe(3);
  });
});

describe('exposure events and snapshots under a revoked key', () => {
  const event = makeExposureEvent({});
  const content: SnapshotContent = { province: '42', kind: 'full', since: null, version: 1000, events: [event], withdrawn: [] };

  it('are refused whatever they claim, while the same under a retired key pass', async () => {
    const snapshot = signSnapshot(content, old);
    const check = await verifySnapshot(snapshot, [publicKeyOf(current), revoked()], '42');
    expect(check).toMatchObject({ ok: false, reason: 'revoked-key', keyId: '4821' });
    await expect(verifySnapshot(snapshot, [publicKeyOf(current), publicKeyOf(old)], '42')).resolves.toMatchObject({ ok: true });

    const signed = signExposure(event, old);
    expect(verifyExposure(signed, [revoked()])).toBeNull();
    expect(verifyExposure(signed, [publicKeyOf(old)])).toEqual(event);
    for (const engine of ['noble', 'webcrypto'] as const) {
      const out = await verifyExposures([signed, signExposure(event, current)], [revoked(), publicKeyOf(current)], { engine });
      expect(out.rejected).toBe(1);
      expect(out.indices).toEqual([1]);
    }
  });
});
