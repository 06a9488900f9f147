import { describe, expect, it } from 'vitest';
import type { ExposureEvent, SignedExposure } from './exposure';
import { signExposure, verifyExposure } from './exposure-sign';
import { verifyExposures } from './exposure-verify';
import { webCryptoEd25519 } from '../ed25519';
import { type PublicKey } from '../venue/venue-token';
import { newSigningKey, publicKeyOf } from '../venue/venue-signing';
import { makeExposureEvent, T0 } from '../testing';
import { HOUR } from '../time';

const key = newSigningKey('4821');
const oldKey = newSigningKey('1177');
const keys: PublicKey[] = [publicKeyOf(key)];

const event = (n: number, over: Partial<ExposureEvent> = {}): ExposureEvent =>
  makeExposureEvent({ eventId: `ev${String(n).padStart(8, '0')}`, from: T0 + n * HOUR, to: T0 + (n + 2) * HOUR, ...over });

const signed = (n: number, over: Partial<ExposureEvent> = {}, by = key) => signExposure(event(n, over), by);

/** Runs both implementations and checks they agree with each other and with verifyExposure, item by item. */
async function both(items: unknown[], withKeys: readonly PublicKey[] = keys) {
  const web = await verifyExposures(items, withKeys, { engine: 'webcrypto' });
  const noble = await verifyExposures(items, withKeys, { engine: 'noble' });
  expect(web.engine).toBe('webcrypto');
  expect(noble.engine).toBe('noble');
  const oneByOne = items.map((i) => verifyExposure(i, withKeys)).filter((e): e is ExposureEvent => e !== null);
  expect(web.events).toEqual(oneByOne);
  expect(noble.events).toEqual(oneByOne);
  expect(web.rejected).toBe(noble.rejected);
  expect(web.indices).toEqual(noble.indices);
  expect(web.indices.map((i) => verifyExposure(items[i], withKeys))).toEqual(web.events);
  return web;
}

describe('verifying a snapshot of exposure events', () => {
  it('uses WebCrypto Ed25519 on Node 20, and by default', async () => {
    expect(await webCryptoEd25519()).toBe(true);
    expect((await verifyExposures([signed(1)], keys)).engine).toBe('webcrypto');
  });

  it('accepts valid events, in input order, under any listed key', async () => {
    const items = [signed(1), signed(2, { withdrawn: true, version: 3 }), signed(3, { level: 'monitor', message: 'Đến "quầy 3"\n\u00a0ký tự lạ 🦠' }, oldKey)];
    const result = await both(items, [...keys, publicKeyOf(oldKey)]);
    expect(result.rejected).toBe(0);
    expect(result.events.map((e) => e.eventId)).toEqual(['ev00000001', 'ev00000002', 'ev00000003']);
    expect(result.events[1]).toMatchObject({ withdrawn: true, version: 3 });
  });

  it('rejects an event whose any field was altered after signing', async () => {
    const good = signed(1);
    const altered: SignedExposure[] = [
      { ...good, event: { ...good.event, message: 'Không có gì' } },
      { ...good, event: { ...good.event, to: good.event.to + 1 } },
      { ...good, event: { ...good.event, version: 2 } },
      { ...good, event: { ...good.event, withdrawn: true } },
      { ...good, event: { ...good.event, venueId: 'demothcsduct' } },
      // A flipped signature bit.
      { ...good, signature: (good.signature[0] === '0' ? '1' : '0') + good.signature.slice(1) }
    ];
    const result = await both([good, ...altered]);
    expect(result.events).toHaveLength(1);
    expect(result.rejected).toBe(altered.length);
  });

  it('rejects an unknown key id, and a known id with the wrong key', async () => {
    const byOld = signed(1, {}, oldKey);
    const result = await both([byOld, { ...signed(2), keyId: 'zzzz' }, { ...byOld, keyId: key.id }]);
    expect(result.events).toEqual([]);
    expect(result.rejected).toBe(3);
    // A key that is no point on the curve: rejected, not thrown.
    const broken: PublicKey[] = [{ id: key.id, publicKey: new Uint8Array(32).fill(0xff) }];
    expect((await both([signed(1)], broken)).rejected).toBe(1);
  });

  it('rejects malformed entries without throwing', async () => {
    const good = signed(1);
    const malformed: unknown[] = [
      null,
      undefined,
      42,
      'exp',
      [],
      {},
      { event: good.event, keyId: good.keyId },
      { ...good, signature: good.signature.toUpperCase() },
      { ...good, signature: good.signature.slice(2) },
      { ...good, signature: good.signature + '00' },
      { ...good, signature: 12 },
      // Wrong characters at the right length: the fast hex decoder must refuse what fromHex refuses.
      { ...good, signature: good.signature.slice(0, 127) + 'g' },
      { ...good, signature: good.signature.slice(0, 127) + 'A' },
      { ...good, signature: ' ' + good.signature.slice(1) },
      { ...good, signature: good.signature.slice(0, 127) + '\u0660' },
      { ...good, signature: good.signature.slice(0, 126) + '\u{1F9A0}' },
      { ...good, event: { ...good.event, venueId: 'CHO' } },
      { ...good, event: { ...good.event, level: 'severe' } },
      { ...good, event: { ...good.event, from: 1.5 } },
      { ...good, event: null }
    ];
    const result = await both([...malformed, good]);
    expect(result.events).toEqual([good.event]);
    expect(result.indices).toEqual([malformed.length]);
    expect(result.rejected).toBe(malformed.length);
  });

  it('both paths agree on a large mixed batch', async () => {
    const items: unknown[] = [];
    for (let n = 0; n < 300; n++) {
      const s = signed(n, { venueName: `Quán ${n}` });
      // Every fifth altered, every seventh of an unknown key, the rest intact.
      items.push(n % 5 === 0 ? { ...s, event: { ...s.event, from: s.event.from - 1 } } : n % 7 === 0 ? { ...s, keyId: 'ab12' } : s);
    }
    const result = await both(items);
    expect(result.events.length).toBe(300 - 60 - (43 - 9));
  });
});
