import { describe, expect, it } from 'vitest';
import type { ExposureEvent } from './exposure';
import { signSnapshot } from './exposure-sign';
import { applySnapshot, decodeSnapshotPayload, encodeSnapshotPayload, openSnapshot, verifySnapshot, type SnapshotContent } from './snapshot-format';
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

describe('the compact exposure snapshot (LVS2)', () => {
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
    type Loose = Record<string, unknown> & { events: Record<string, unknown[] | string>; venues: Record<string, unknown[] | string>; strings: string[] };
    const good = JSON.parse(new TextDecoder().decode(encodeSnapshotPayload(full([event(1), event(2), event(4)])))) as Loose;
    const bad = (change: (p: Loose) => void) => {
      const p = structuredClone(good);
      change(p);
      return decodeSnapshotPayload(new TextEncoder().encode(JSON.stringify(p)));
    };
    const column = (p: Loose, name: string) => p.events[name] as unknown[];
    expect(bad(() => {})).not.toBeNull();
    expect(bad((p) => column(p, 'len').pop())).toBeNull(); // columns of different lengths
    expect(bad((p) => (p.events.id = (p.events.id as string).split(' ').slice(1).join(' ')))).toBeNull(); // one id fewer
    expect(bad((p) => (p.events.id = `${p.events.id as string} `))).toBeNull(); // an empty id
    expect(bad((p) => (column(p, 'venue')[0] = 99))).toBeNull(); // a venue row that is not there
    expect(bad((p) => (column(p, 'phone')[0] = 99))).toBeNull(); // index outside the dictionary
    expect(bad((p) => (column(p, 'phone')[0] = -1))).toBeNull();
    expect(bad((p) => (column(p, 'level')[0] = 2))).toBeNull();
    expect(bad((p) => (column(p, 'len')[0] = -1))).toBeNull();
    expect(bad((p) => (p.events.id = (p.events.id as string).replace(/^[a-z0-9]+/, 'NOTANID')))).toBeNull();
    expect(bad((p) => (p.venues.id = (p.venues.id as string).replace(/^[a-z0-9]+/, 'cho')))).toBeNull(); // not a venue id
    expect(bad((p) => (p.venues.name as unknown[]).pop())).toBeNull(); // a venue row without its name
    expect(bad((p) => (p.kind = 'delta'))).toBeNull(); // a delta without since
    expect(bad((p) => (p.withdrawn = ['ev00000001']))).toBeNull();
    expect(bad((p) => (p.format = 'luu-vet-exposures'))).toBeNull();
    expect(bad((p) => (p.schema = 1))).toBeNull(); // an LVS1 payload is never read as LVS2
    expect(decodeSnapshotPayload(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });

  it('writes a venue once, and a text used once where it is used, a text used more than once in the dictionary', () => {
    const events = [event(1), event(3, { contactPhone: 'only here' }), event(5, { contactPhone: event(1).contactPhone })];
    const p = JSON.parse(new TextDecoder().decode(encodeSnapshotPayload(full(events)))) as { strings: string[]; venues: { id: string }; events: { phone: unknown[]; venue: number[] } };
    expect(p.venues.id).toBe('demochoducth'); // three events, one venue row
    expect(p.events.venue).toEqual([0, 0, 0]);
    const [first, once, again] = p.events.phone;
    expect([typeof first, once, again]).toEqual(['number', 'only here', first]);
    expect(p.strings[first as number]).toBe(event(1).contactPhone);
    expect(p.strings).not.toContain('only here');
    // The same venue id under another name (a team's correction) is a row of its own: the name is kept as published.
    const renamed = decodeSnapshotPayload(encodeSnapshotPayload(full([event(1), event(3, { venueName: 'Chợ mới' })])))!;
    expect(renamed.events.map((e) => e.venueName)).toEqual(['Chợ Đức Thọ', 'Chợ mới']);
    expect(decodeSnapshotPayload(encodeSnapshotPayload(full([]))))?.toMatchObject({ events: [] });
  });

  it('applies deltas: additions, corrections, withdrawals, and only onto the version they name', async () => {
    const start = { version: 1000, events: [event(1), event(2), event(3)] };
    const d = delta(1000, 2000, [event(4), event(2, { version: 2, to: T0 + 5 * HOUR, level: 'monitor' })], ['ev00000003']);
    const checked = await verifySnapshot(signSnapshot(d, key), keys, '42');
    expect(checked.ok).toBe(true);
    const after = applySnapshot(start, checked.ok ? checked.content : full([]))!;
    expect(after.version).toBe(2000);
    expect(byId(after.events)).toEqual(byId([event(1), event(2, { version: 2, to: T0 + 5 * HOUR, level: 'monitor' }), event(4)]));
    // Another version, an old-format list (no version), a delta going back: not applied.
    expect(applySnapshot({ ...start, version: 999 }, d)).toBeNull();
    expect(applySnapshot({ ...start, version: null }, d)).toBeNull();
    expect(applySnapshot(start, delta(1000, 900, []))).toBeNull();
    // A full snapshot replaces whatever is held, an old-format list included.
    expect(applySnapshot({ version: null, events: [event(9)] }, full([event(1)], 5))).toEqual({ version: 5, events: [event(1)] });
    // An empty delta keeps the list and moves the version.
    expect(applySnapshot(start, delta(1000, 1000, []))).toEqual(start);
  });
});
