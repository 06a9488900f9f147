import { describe, expect, it } from 'vitest';
import type { ExposureEvent } from './exposure';
import { signSnapshot as signSnapshotV2, signSnapshotV1 as signSnapshot } from './exposure-sign';
import { openSnapshot as openSealed, verifySnapshot as verifySnapshotV2, type SnapshotContent } from './snapshot-format';
import { decodeSnapshotPayloadV1 as decodeSnapshotPayload, encodeSnapshotPayloadV1 as encodeSnapshotPayload, verifySnapshotV1 as verifySnapshot } from './snapshot-format-v1';
import { newSigningKey, publicKeyOf } from '../venue/venue-signing';
import { makeExposureEvent, T0 } from '../testing';
import { HOUR, MINUTE } from '../time';

const key = newSigningKey('4821');
const other = newSigningKey('4821'); // same id, another key: a forger who copied the id
const keys = [publicKeyOf(key)];

const event = (n: number, over: Partial<ExposureEvent> = {}): ExposureEvent =>
  makeExposureEvent({
    eventId: `ev${String(n).padStart(8, '0')}`,
    venueId: n % 2 ? 'demochoducth' : 'demothcsduct',
    venueName: n % 2 ? 'Chợ Đức Thọ' : 'Trường THCS Đức Thọ',
    from: T0 + n * HOUR,
    to: T0 + n * HOUR + 90 * MINUTE,
    contactPhone: `0239 38${String(n % 3).padStart(2, '0')} 115`,
    message: `Ca F0 số ${n} có mặt "tại đây"\n🦠`,
    ...over
  });

const full = (events: ExposureEvent[], version = 1000): SnapshotContent => ({ province: '42', kind: 'full', since: null, version, events, withdrawn: [] });
const delta = (since: number, version: number, events: ExposureEvent[], withdrawn: string[] = []): SnapshotContent => ({ province: '42', kind: 'delta', since, version, events, withdrawn });

const byId = (events: ExposureEvent[]) => [...events].sort((a, b) => a.eventId.localeCompare(b.eventId));

const openSnapshot = (bytes: Uint8Array) => openSealed(bytes, 'LVS1');

describe('LVS1, the first compact snapshot (still served to the apps that ask for it)', () => {
  it('round-trips every field of every event, in minutes or in milliseconds', async () => {
    const events = [event(3, { level: 'monitor', widenMinutes: 30, version: 4 }), event(1), event(2, { advice: '', message: '' }), event(1, { eventId: 'samestart01' })];
    const decoded = decodeSnapshotPayload(encodeSnapshotPayload(full(events)));
    expect(decoded).toEqual({ ...full(byId(events).sort((a, b) => a.from - b.from || a.eventId.localeCompare(b.eventId))), events: decoded!.events });
    expect(byId(decoded!.events)).toEqual(byId(events));
    // A time off the whole minute is kept exactly (the column unit becomes 1 ms).
    const odd = [event(1, { from: T0 + 1, to: T0 + HOUR - 7 }), event(2)];
    expect(byId(decodeSnapshotPayload(encodeSnapshotPayload(full(odd)))!.events)).toEqual(byId(odd));
    const checked = await verifySnapshot(signSnapshot(full(events), key), keys, '42');
    expect(checked.ok && byId(checked.content.events)).toEqual(byId(events));
  });

  it('gives the same bytes for the same content in any order', () => {
    const events = [event(1), event(2), event(3)];
    expect(encodeSnapshotPayload(full(events))).toEqual(encodeSnapshotPayload(full([...events].reverse())));
  });

  it('refuses to encode a withdrawn event as current, or a full snapshot with withdrawals', () => {
    expect(() => encodeSnapshotPayload(full([event(1, { withdrawn: true })]))).toThrow();
    expect(() => encodeSnapshotPayload({ ...full([]), withdrawn: ['ev00000001'] })).toThrow();
    expect(() => encodeSnapshotPayload({ ...delta(1, 2, []), since: null })).toThrow();
  });

  it('refuses the snapshot when any single byte is changed', async () => {
    const bytes = signSnapshot(full([event(1), event(2)]), key);
    expect((await verifySnapshot(bytes, keys, '42')).ok).toBe(true);
    for (let i = 0; i < bytes.length; i++) {
      const altered = bytes.slice();
      altered[i] = altered[i]! ^ 0x01;
      const result = await verifySnapshot(altered, keys, '42');
      expect(result.ok, `byte ${i} flipped`).toBe(false);
    }
  });

  it('refuses a truncated or extended body, another key, another province, and what is no snapshot', async () => {
    const bytes = signSnapshot(full([event(1)]), key);
    expect(await verifySnapshot(bytes.subarray(0, bytes.length - 1), keys, '42')).toMatchObject({ ok: false, reason: 'forged' });
    expect(await verifySnapshot(new Uint8Array([...bytes, 0x20]), keys, '42')).toMatchObject({ ok: false, reason: 'forged' });
    expect(await verifySnapshot(signSnapshot(full([event(1)]), other), keys, '42')).toMatchObject({ ok: false, reason: 'forged' });
    expect(await verifySnapshot(signSnapshot(full([event(1)]), newSigningKey('5000')), keys, '42')).toMatchObject({ ok: false, reason: 'unknown-key', keyId: '5000' });
    expect(await verifySnapshot(bytes, keys, '10')).toMatchObject({ ok: false, reason: 'forged' });
    for (const junk of [new Uint8Array(0), new TextEncoder().encode('<html>captive portal</html>'), bytes.subarray(0, 72)]) {
      expect(await verifySnapshot(junk, keys, '42')).toMatchObject({ ok: false, reason: 'not-snapshot' });
    }
    expect(openSnapshot(bytes)?.keyId).toBe('4821');
  });

  it('refuses payloads that are signed but malformed (a server bug must not reach the matcher)', () => {
    const good = JSON.parse(new TextDecoder().decode(encodeSnapshotPayload(full([event(1), event(2)])))) as Record<string, unknown> & { events: Record<string, unknown[]>; strings: string[] };
    const bad = (change: (p: typeof good) => void) => {
      const p = structuredClone(good);
      change(p);
      return decodeSnapshotPayload(new TextEncoder().encode(JSON.stringify(p)));
    };
    expect(bad(() => {})).not.toBeNull();
    expect(bad((p) => p.events.id!.pop())).toBeNull(); // columns of different lengths
    expect(bad((p) => (p.events.venue![0] = 99))).toBeNull(); // index outside the dictionary
    expect(bad((p) => (p.events.level![0] = 2))).toBeNull();
    expect(bad((p) => (p.events.len![0] = -1))).toBeNull();
    expect(bad((p) => (p.events.id![0] = 'NOT AN ID'))).toBeNull();
    expect(bad((p) => (p.strings[0] = 'CHO'))).toBeNull(); // not a venue id
    expect(bad((p) => (p.kind = 'delta'))).toBeNull(); // a delta without since
    expect(bad((p) => (p.withdrawn = ['ev00000001']))).toBeNull();
    expect(bad((p) => (p.format = 'luu-vet-exposures'))).toBeNull();
    expect(decodeSnapshotPayload(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });

  it('is never read as LVS2, nor LVS2 as LVS1', async () => {
    const v1 = signSnapshot(full([event(1)]), key);
    const v2 = signSnapshotV2(full([event(1)]), key);
    expect(await verifySnapshotV2(v1, keys, '42')).toMatchObject({ ok: false, reason: 'not-snapshot' });
    expect(await verifySnapshot(v2, keys, '42')).toMatchObject({ ok: false, reason: 'not-snapshot' });
    // The magic alone relabelled: the signature covers its own format's prefix and no longer holds.
    const relabelled = v1.slice();
    relabelled.set(new TextEncoder().encode('LVS2'));
    expect(await verifySnapshotV2(relabelled, keys, '42')).toMatchObject({ ok: false, reason: 'forged' });
  });
});
