import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProvinceTable, provinceOfCommune, readProvinceTable } from './province-table';
import { parseUnitsCsv } from './units';

const csv = `code,name,level,parent
42,Tỉnh Hà Tĩnh,province,
440,Huyện Đức Thọ,district,42
18070,Thị trấn Đức Thọ,commune,440
18073,Xã Quang Vĩnh,commune,440
436,Thành phố Hà Tĩnh,district,42
17900,Phường Bắc Hà,commune,436
99,Tỉnh Ví Dụ,province,
99001,Phường Trung Tâm,commune,99
99004,Xã An Bình,commune,99
10,Tỉnh Lào Cai,province,
18080,Xã Lạc Chỗ,commune,10
`;

describe('commune → province table', () => {
  const table = buildProvinceTable(parseUnitsCsv(csv).units);

  it('merges consecutive communes of a province into runs, over 2- and 3-level trees', () => {
    expect(table.communes).toEqual([
      ['17900', '18073', '42'],
      ['18080', '18080', '10'],
      ['99001', '99004', '99']
    ]);
    expect(table.provinces.map((p) => p.code)).toEqual(['10', '42', '99']);
  });

  it('finds the province of every commune, and none for codes outside the runs', () => {
    expect(provinceOfCommune(table, '18070')).toBe('42');
    expect(provinceOfCommune(table, '17900')).toBe('42');
    expect(provinceOfCommune(table, '18080')).toBe('10');
    expect(provinceOfCommune(table, '99004')).toBe('99');
    expect(provinceOfCommune(table, '00001')).toBeNull();
    expect(provinceOfCommune(table, '18079')).toBeNull(); // between runs of different provinces
    expect(provinceOfCommune(table, '99999')).toBeNull();
  });

  it('maps every commune of the demo directory to its province', () => {
    const units = parseUnitsCsv(readFileSync('server/data/units-demo.csv', 'utf8')).units;
    const t = buildProvinceTable(units);
    for (const u of units.filter((x) => x.level === 'commune')) {
      const province = units.find((p) => p.code === (u.parent!.length === 2 ? u.parent : units.find((d) => d.code === u.parent)!.parent));
      expect(provinceOfCommune(t, u.code)).toBe(province!.code);
    }
    expect(JSON.stringify(t).length).toBeLessThan(2000);
  });

  it('refuses what is not a table', () => {
    expect(readProvinceTable(JSON.parse(JSON.stringify(table)))).toEqual(table);
    expect(readProvinceTable({ format: 'luu-vet-provinces', version: 1, provinces: [], communes: [['1', '2', '3']] })).toBeNull();
    expect(readProvinceTable('<html>')).toBeNull();
  });
});
