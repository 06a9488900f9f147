import { describe, expect, it } from 'vitest';
import { unitReadRefusal } from './access';
import { unitTree, type UnitDoc } from '../units';

const unit = (code: string, level: UnitDoc['level'], parent: string | null): UnitDoc => ({ _id: `unit:${code}`, type: 'unit', schema: 1, code, name: code, level, parent });
const tree = unitTree([unit('42', 'province', null), unit('440', 'district', '42'), unit('18070', 'commune', '440'), unit('49', 'province', null), unit('502', 'district', '49')]);

describe('who may read a unit’s figures', () => {
  it('an admin its unit and below, never beside or above', () => {
    const district = { role: 'admin' as const, communes: [], unit: '440' };
    expect(unitReadRefusal(district, '440', tree)).toBeNull();
    expect(unitReadRefusal(district, '18070', tree)).toBeNull();
    expect(unitReadRefusal(district, '42', tree)).toBe('outside_unit');
    expect(unitReadRefusal(district, '502', tree)).toBe('outside_unit');
    expect(unitReadRefusal({ ...district, unit: null }, '440', tree)).toBe('no_unit');
  });

  it('a team its own communes; an owner nothing', () => {
    const team = { role: 'team' as const, communes: ['18070'], unit: null };
    expect(unitReadRefusal(team, '18070', tree)).toBeNull();
    expect(unitReadRefusal(team, '440', tree)).toBe('not_own_commune');
    expect(unitReadRefusal({ role: 'owner', communes: ['18070'], unit: null }, '18070', tree)).toBe('not_official');
  });
});
