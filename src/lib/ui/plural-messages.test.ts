import { describe, expect, it } from 'vitest';
import { m } from '$lib/paraglide/messages.js';

// Counts on English screens are often 1 (one record waiting, one visit, one field to fix).
describe('English counts', () => {
  it('say one thing in the singular and several in the plural', () => {
    expect(m.sync_pending({ count: 1 }, { locale: 'en' })).toBe('1 record waiting to upload');
    expect(m.sync_pending({ count: 3 }, { locale: 'en' })).toBe('3 records waiting to upload');
    expect(m.diary_visits_count({ count: 1 }, { locale: 'en' })).toBe('1 visit');
    expect(m.diary_visits_count({ count: 0 }, { locale: 'en' })).toBe('0 visits');
    expect(m.team_form_problems({ count: 1 }, { locale: 'en' })).toBe('1 field to fix:');
    expect(m.team_form_problems({ count: 2 }, { locale: 'en' })).toBe('2 fields to fix:');
    expect(m.team_export_counts({ cases: 1, followups: 2, checks: 1, arrivals: 1 }, { locale: 'en' })).toBe('Cases: 1 · people followed: 2 · checks: 1 · checkpoint arrivals: 1');
  });

  it('leave Vietnamese as it was', () => {
    expect(m.sync_pending({ count: 1 }, { locale: 'vi' })).toBe('1 bản ghi chờ gửi');
    expect(m.diary_visits_count({ count: 1 }, { locale: 'vi' })).toBe('1 lượt');
  });
});
