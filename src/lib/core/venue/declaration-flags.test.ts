import { describe, expect, it } from 'vitest';
import { declarationFlags } from './declaration-flags';

const zones: Record<string, number> = { '79': 3, '26734': 4, '01': 2 };
const zoneOf = (u: string) => zones[u] ?? null;
const clean = { date: '2026-11-30', symptoms: [], contactWithCase: false, travelledUnits: ['01'] };

describe('declarationFlags', () => {
  it('has no flag for a clean declaration of today from a level-2 unit', () => {
    expect(declarationFlags(clean, zoneOf, '2026-11-30')).toEqual([]);
  });
  it('flags symptoms, contact, the worst level 3–4 unit and a declaration not from today, in that order', () => {
    const flags = declarationFlags({ date: '2026-11-28', symptoms: ['cough'], contactWithCase: true, travelledUnits: ['01', '79', '26734'] }, zoneOf, '2026-11-30');
    expect(flags).toEqual([
      { kind: 'symptoms', symptoms: ['cough'] },
      { kind: 'contact' },
      { kind: 'travel', unit: '26734', zone: 4 },
      { kind: 'stale', date: '2026-11-28' }
    ]);
  });
  it('flags a level-3 unit but not an unknown one', () => {
    expect(declarationFlags({ ...clean, travelledUnits: ['79'] }, zoneOf, '2026-11-30')).toEqual([{ kind: 'travel', unit: '79', zone: 3 }]);
    expect(declarationFlags({ ...clean, travelledUnits: ['99999'] }, zoneOf, '2026-11-30')).toEqual([]);
  });
});
