import { describe, expect, it } from 'vitest';
import { formatDayKey } from './labels';

describe('dates for people', () => {
  it('writes Vietnamese days as dd/mm/yyyy, with the weekday', () => {
    expect(formatDayKey('2026-12-01', 'vi')).toMatch(/01\/12\/2026$/);
    expect(formatDayKey('2021-08-20', 'vi')).toMatch(/^thứ Sáu, 20\/08\/2021$/i);
    expect(formatDayKey('2026-12-01', 'en')).toMatch(/^Tuesday,? 01\/12\/2026$/);
  });
});
