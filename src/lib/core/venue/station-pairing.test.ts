import { describe, expect, it } from 'vitest';
import { cleanStationLabel, formatPairingCode, newPairingCode, normalizePairingCode, PAIRING_CODE_LENGTH, STATION_LABEL_MAX } from './station-pairing';
import { VENUE_ID_ALPHABET } from './venue';

describe('pairing codes', () => {
  it('are 8 letters of the alphabet without look-alikes, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const code = newPairingCode((n) => crypto.getRandomValues(new Uint8Array(n)));
      expect(code).toHaveLength(PAIRING_CODE_LENGTH);
      expect([...code].every((c) => VENUE_ID_ALPHABET.includes(c))).toBe(true);
      expect(code).not.toMatch(/[ilou01]/);
      seen.add(code);
    }
    expect(seen.size).toBe(300);
  });

  it('read back as typed: any case, spaces, dashes, and u/8 for v/b', () => {
    expect(normalizePairingCode('abcd efgh')).toBe('abcdefgh');
    expect(normalizePairingCode(' ABCD-EFGH ')).toBe('abcdefgh');
    expect(normalizePairingCode('a8cd efgh')).toBe('abcdefgh');
    expect(normalizePairingCode('uvwx yz23')).toBe('vvwxyz23');
    expect(normalizePairingCode(formatPairingCode('mnpq rstv'.replace(' ', '')))).toBe('mnpqrstv');
  });

  it('refuse what cannot be a code', () => {
    for (const bad of ['', 'abcdefg', 'abcdefghj', 'abcd efg1', 'abcdefgo', 'abcdéfgh', '12345678']) expect(normalizePairingCode(bad), bad).toBeNull();
  });

  it('clean device labels', () => {
    expect(cleanStationLabel('  Cửa   chính ')).toBe('Cửa chính');
    expect([...cleanStationLabel('Đ'.repeat(100))]).toHaveLength(STATION_LABEL_MAX);
  });
});
