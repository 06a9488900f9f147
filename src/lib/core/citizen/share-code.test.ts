import { describe, expect, it } from 'vitest';
import { checkDiaryShareRequest, DIARY_SHARE_MAX_VISITS, formatShareCode, newShareCode, normalizeShareCode, SHARE_CODE_ALPHABET } from './share-code';
import { DAY, HOUR } from '../time';

const NOW = Date.UTC(2021, 7, 20, 3, 0);
const visit = (over: Record<string, unknown> = {}) => ({ venueId: 'venueaaaaaaa', communeCode: '18070', place: 'Chợ Hà Tĩnh', from: NOW - 2 * DAY, to: NOW - 2 * DAY + HOUR, source: 'diary', ...over });

describe('share codes', () => {
  it('uses 32 characters without I, L, O, U', () => {
    expect(SHARE_CODE_ALPHABET).toHaveLength(32);
    expect(new Set(SHARE_CODE_ALPHABET).size).toBe(32);
    expect(SHARE_CODE_ALPHABET).not.toMatch(/[ILOU]/);
  });

  it('makes 8-character codes that read back as themselves, shown as XXXX-XXXX', () => {
    for (let i = 0; i < 200; i++) {
      const code = newShareCode();
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{8}$/);
      expect(normalizeShareCode(formatShareCode(code))).toBe(code);
    }
    expect(formatShareCode('7K3MQ9TX')).toBe('7K3M-Q9TX');
  });

  it('covers the alphabet evenly from random bytes', () => {
    const all = newShareCode(() => Uint8Array.from([0, 31, 32, 63, 255, 8, 18, 19]));
    expect(all).toBe('0Z0ZZ8JK');
  });

  it('reads what people type: any case, spaces, dashes, O for 0, I and L for 1', () => {
    expect(normalizeShareCode('7k3m-q9tx')).toBe('7K3MQ9TX');
    expect(normalizeShareCode(' 7K3M Q9TX ')).toBe('7K3MQ9TX');
    expect(normalizeShareCode('7K3M–Q9TX')).toBe('7K3MQ9TX');
    expect(normalizeShareCode('OIL0-abcd')).toBe('0110ABCD');
    expect(normalizeShareCode('7K3MQ9T')).toBeNull();
    expect(normalizeShareCode('7K3MQ9TXX')).toBeNull();
    expect(normalizeShareCode('UUUU-UUUU')).toBeNull();
    expect(normalizeShareCode('7K3M/Q9TX')).toBeNull();
    expect(normalizeShareCode(12345678)).toBeNull();
  });
});

describe('checkDiaryShareRequest', () => {
  it('accepts diary visits and keeps the schema fields only', () => {
    const check = checkDiaryShareRequest({ code: '7k3m-q9tx', visits: [visit({ note: 'riêng tư' }), visit({ venueId: undefined, communeCode: undefined, place: 'Nhà bác Hai' })] }, NOW);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.code).toBe('7K3MQ9TX');
    expect(check.visits).toHaveLength(2);
    expect(check.visits[0]).not.toHaveProperty('note');
  });

  it('names the field that is wrong', () => {
    const cases: [unknown, string][] = [
      [{ code: '7K3MQ9TX', visits: [] }, 'visits'],
      [{ code: '7K3MQ9TX', visits: Array.from({ length: DIARY_SHARE_MAX_VISITS + 1 }, () => visit()) }, 'visits'],
      [{ code: '7K3MQ9TX', visits: [visit(), visit({ from: 'hôm qua' })] }, 'visits.1.from'],
      [{ code: '7K3MQ9TX', visits: [visit({ place: '' })] }, 'visits.0.place'],
      [{ code: '7K3MQ9TX', visits: [visit({ source: 'typed' })] }, 'visits.0.source'],
      [{ code: '7K3MQ9TX', visits: [visit({ to: NOW - 3 * DAY })] }, 'visits.0.to'],
      [{ code: '7K3MQ9TX', visits: [visit({ to: NOW + 2 * DAY })] }, 'visits.0.to'],
      [{ code: '7K3MQ9TX', visits: [visit({ from: NOW - 90 * DAY })] }, 'visits.0.from'],
      [{ code: '7K3MQ9TX', visits: [visit({ venueId: 'NOT A VENUE' })] }, 'visits.0.venueId'],
      [{ code: 'short', visits: [visit()] }, 'code'],
      [{ visits: [visit()] }, 'code']
    ];
    for (const [body, field] of cases) {
      const check = checkDiaryShareRequest(body, NOW);
      expect(check.ok, field).toBe(false);
      if (check.ok) continue;
      expect(check.field).toBe(field);
      expect(check.reason.startsWith(field)).toBe(true);
    }
    expect(checkDiaryShareRequest([visit()], NOW)).toMatchObject({ ok: false, error: 'bad_request' });
    expect(checkDiaryShareRequest(null, NOW)).toMatchObject({ ok: false, error: 'bad_request' });
  });
});
