import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildUnitIndex,
  commonUnit,
  diffUnits,
  isDay,
  unitTree,
  unitWithin,
  parseUnitsCsv,
  parseZonesCsv,
  searchUnits,
  unitLabel,
  unitPath,
  ZONE_LEVELS,
  type UnitDoc
} from './units';

/** 2021 structure: Hà Tĩnh → Đức Thọ → communes, plus another district and a commune named like the district. */
const THREE_LEVEL = `code,name,level,parent
42,Tỉnh Hà Tĩnh,province,
440,Huyện Đức Thọ,district,42
18070,Thị trấn Đức Thọ,commune,440
18073,Xã Quang Vĩnh,commune,440
18076,Xã Tùng Châu,commune,440
18079,Xã Trường Sơn,commune,440
18085,Xã Bùi La Nhân,commune,440
18091,Xã Đức Đồng,commune,440
436,Thành phố Hà Tĩnh,district,42
17900,Phường Bắc Hà,commune,436
`;

/** 2025 structure: communes directly under the province. */
const TWO_LEVEL = `code,name,level,parent
99,Tỉnh Ví Dụ,province,
99001,Phường Trung Tâm,commune,99
99004,Xã An Bình,commune,99
`;

function units(csv: string, existing: UnitDoc[] = []): UnitDoc[] {
  const result = parseUnitsCsv(csv, existing);
  expect(result.errors).toEqual([]);
  return result.units;
}

function unit(code: string, name: string, level: UnitDoc['level'], parent: string | null): UnitDoc {
  return { _id: `unit:${code}`, type: 'unit', schema: 1, code, name, level, parent };
}

describe('parseUnitsCsv: good files', () => {
  it('reads a 3-level tree into unit documents', () => {
    const list = units(THREE_LEVEL);
    expect(list).toHaveLength(10);
    expect(list[0]).toEqual({ _id: 'unit:42', type: 'unit', schema: 1, code: '42', name: 'Tỉnh Hà Tĩnh', level: 'province', parent: null });
    expect(list.find((u) => u.code === '18076')).toEqual(unit('18076', 'Xã Tùng Châu', 'commune', '440'));
  });

  it('reads a 2-level tree (province → commune) and a mix of both across provinces', () => {
    expect(units(TWO_LEVEL).map((u) => [u.code, u.parent])).toEqual([
      ['99', null],
      ['99001', '99'],
      ['99004', '99']
    ]);
    const mixed = units(THREE_LEVEL + TWO_LEVEL.split('\n').slice(1).join('\n'));
    expect(mixed).toHaveLength(13);
  });

  it('takes the columns in any order and any case, ignores other columns, and a BOM, CRLF and quotes', () => {
    const csv = '\uFEFFParent,LEVEL,Code,Ghi chú,Name\r\n,province,42,,"Tỉnh Hà Tĩnh"\r\n42,district,440,"a, b","Huyện Đức Thọ"\r\n';
    expect(units(csv).map((u) => [u.code, u.name, u.level, u.parent])).toEqual([
      ['42', 'Tỉnh Hà Tĩnh', 'province', null],
      ['440', 'Huyện Đức Thọ', 'district', '42']
    ]);
  });

  it('skips comment lines starting with # and blank lines', () => {
    const csv = '# units of Hà Tĩnh\n# demo codes\ncode,name,level,parent\n\n42,Tỉnh Hà Tĩnh,province,\n# a note\n   \n440,Huyện Đức Thọ,district,42\n';
    expect(units(csv).map((u) => u.code)).toEqual(['42', '440']);
  });

  it('accepts the level in Vietnamese, with or without diacritics, and the unambiguous unit types', () => {
    const csv = `code,name,level,parent
42,Tỉnh Hà Tĩnh,Tỉnh,
01,Thành phố Hà Nội,thành phố trực thuộc trung ương,
440,Huyện Đức Thọ,huyen,42
001,Quận Ba Đình,Quận,01
449,Thị xã Kỳ Anh,THỊ XÃ,42
436,Thành phố Hà Tĩnh,thành phố thuộc tỉnh,42
18070,Thị trấn Đức Thọ,thị trấn,440
18076,Xã Tùng Châu,xa,440
00001,Phường Phúc Xá,phường,001
18073,Xã Quang Vĩnh,XÃ,440
`;
    expect(Object.fromEntries(units(csv).map((u) => [u.code, u.level]))).toEqual({
      '42': 'province',
      '01': 'province',
      '440': 'district',
      '001': 'district',
      '449': 'district',
      '436': 'district',
      '18070': 'commune',
      '18076': 'commune',
      '00001': 'commune',
      '18073': 'commune'
    });
  });

  it('normalises names to NFC and single spaces', () => {
    const [u] = units(`code,name,level,parent\n42,"  Tỉnh   ${'Hà Tĩnh'.normalize('NFD')} ",province,\n`);
    expect(u!.name).toBe('Tỉnh Hà Tĩnh');
    expect(u!.name).toBe(u!.name.normalize('NFC'));
  });

  it('accepts parents that are already stored, and a row that replaces a stored unit', () => {
    const stored = units(THREE_LEVEL);
    const list = units('code,name,level,parent\n18082,Xã Yên Hồ,commune,440\n18076,Xã Tùng Châu (mới),commune,440\n', stored);
    expect(list.map((u) => u.name)).toEqual(['Xã Yên Hồ', 'Xã Tùng Châu (mới)']);
  });

  it('reads the demo file of the server without errors', () => {
    const text = readFileSync(new URL('../../../server/data/units-demo.csv', import.meta.url), 'utf8');
    const { units: list, errors } = parseUnitsCsv(text);
    expect(errors).toEqual([]);
    expect(list.find((u) => u.code === '18070')?.name).toBe('Thị trấn Đức Thọ');
    expect(list.filter((u) => u.parent === '440')).toHaveLength(10);
    expect(list.find((u) => u.code === '99010')).toMatchObject({ level: 'commune', parent: '99' });
    const zones = parseZonesCsv(
      readFileSync(new URL('../../../server/data/zones-demo.csv', import.meta.url), 'utf8'),
      new Set(list.map((u) => u.code))
    );
    expect(zones.errors).toEqual([]);
    expect(zones.zones.map((z) => z.level).sort()).toEqual(expect.arrayContaining([2, 3, 4]));
  });
});

describe('parseUnitsCsv: errors with line numbers', () => {
  function errors(csv: string, existing: UnitDoc[] = []) {
    return parseUnitsCsv(csv, existing).errors;
  }

  it('reports bad codes, empty names, unknown levels and duplicates on their lines', () => {
    const csv = `code,name,level,parent
42,Tỉnh Hà Tĩnh,province,
440,Huyện Đức Thọ,district,42
4a0,Huyện X,district,42
1807,Thị trấn Đức Thọ,commune,440
18073,,commune,440
18076,Xã Tùng Châu,village,440
42,Tỉnh Hà Tĩnh lần nữa,province,
18079,Xã Trường Sơn,commune,4400
`;
    const result = parseUnitsCsv(csv);
    expect(result.errors).toEqual([
      { line: 4, message: 'code "4a0" is not a number' },
      { line: 5, message: expect.stringContaining('"1807" of a commune must have 5 digits (a spreadsheet may have dropped its leading zeros') },
      { line: 6, message: 'missing name' },
      { line: 7, message: expect.stringContaining('unknown level "village"') },
      { line: 8, message: 'duplicate code 42 (first on line 2)' },
      { line: 9, message: expect.stringContaining('parent "4400" is not a province') }
    ]);
    // The good rows are still returned, for a preview; a caller imports only when there is no error.
    expect(result.units.map((u) => u.code)).toEqual(['42', '440']);
  });

  it('counts lines after a BOM, comments, blank lines and a quoted name spanning two lines', () => {
    const csv = '\uFEFF# comment\r\ncode,name,level,parent\r\n\r\n42,"Tỉnh\r\nHà Tĩnh",province,\r\n# another\r\n440,,district,42\r\n';
    expect(errors(csv)).toEqual([{ line: 7, message: 'missing name' }]);
  });

  it('refuses level words that only look like keys of an object', () => {
    expect(errors('code,name,level,parent\n42,Tỉnh Hà Tĩnh,constructor,\n')).toEqual([{ line: 2, message: expect.stringContaining('unknown level "constructor"') }]);
    expect(parseZonesCsv('code,level,since\n42,__proto__,2021-09-01\n').errors).toEqual([{ line: 2, message: expect.stringContaining('level "__proto__"') }]);
  });

  it('refuses a bare "thành phố" as ambiguous', () => {
    expect(errors('code,name,level,parent\n42,Tỉnh Hà Tĩnh,province,\n436,Thành phố Hà Tĩnh,Thành phố,42\n')).toEqual([
      { line: 3, message: expect.stringContaining('ambiguous') }
    ]);
  });

  it('checks the tree: parents exist and have the right level', () => {
    const csv = `code,name,level,parent
42,Tỉnh Hà Tĩnh,province,49
440,Huyện Đức Thọ,district,
441,Huyện Vũ Quang,district,440
18070,Thị trấn Đức Thọ,commune,
18076,Xã Tùng Châu,commune,443
49,Tỉnh Quảng Nam,province,
`;
    expect(errors(csv)).toEqual([
      { line: 2, message: 'a province has no parent (found 49)' },
      { line: 3, message: 'a district needs its parent province' },
      { line: 4, message: 'the parent of a district must be a province, and 440 is a district' },
      { line: 5, message: 'a commune needs its parent district or province' },
      { line: 6, message: 'parent 443 not found (neither in this file nor already imported)' }
    ]);
  });

  it('refuses a commune under a commune and reports cycles', () => {
    // A 5-digit parent is refused by itself: a parent is a province or a district.
    expect(errors('code,name,level,parent\n42,Tỉnh Hà Tĩnh,province,\n18070,Thị trấn Đức Thọ,commune,18073\n')[0]).toMatchObject({ line: 3 });
    // Two districts that are each other's parent: a cycle, whatever the levels say.
    const cycle = errors('code,name,level,parent\n440,Huyện Đức Thọ,district,441\n441,Huyện Vũ Quang,district,440\n');
    expect(cycle).toEqual([
      { line: 2, message: 'cycle in the parents: 440 → 441 → 440' },
      { line: 3, message: 'cycle in the parents: 441 → 440 → 441' }
    ]);
    expect(errors('code,name,level,parent\n440,Huyện Đức Thọ,district,440\n')).toEqual([{ line: 2, message: 'unit 440 is its own parent' }]);
  });

  it('says when a parent row has errors, down to grandchildren listed before it', () => {
    const csv = `code,name,level,parent
18070,Thị trấn Đức Thọ,commune,440
440,Huyện Đức Thọ,district,42
42,,province,
`;
    expect(errors(csv)).toEqual([
      { line: 2, message: 'parent 440 has errors (line 3)' },
      { line: 3, message: 'parent 42 has errors (line 4)' },
      { line: 4, message: 'missing name' }
    ]);
  });

  it('checks a parent against the stored units', () => {
    const stored = [unit('42', 'Tỉnh Hà Tĩnh', 'province', null), unit('18070', 'Thị trấn Đức Thọ', 'commune', '42')];
    expect(errors('code,name,level,parent\n440,Huyện Đức Thọ,district,42\n', stored)).toEqual([]);
    expect(errors('code,name,level,parent\n440,Huyện Đức Thọ,district,49\n', stored)).toEqual([
      { line: 2, message: 'parent 49 not found (neither in this file nor already imported)' }
    ]);
  });

  it('reports a missing header, a missing column, an empty file and an unclosed quote', () => {
    expect(errors('')).toEqual([{ line: 1, message: expect.stringContaining('empty') }]);
    expect(errors('# only a comment\n')).toEqual([{ line: 1, message: expect.stringContaining('empty') }]);
    expect(errors('42,Tỉnh Hà Tĩnh,province,\n')).toEqual([{ line: 1, message: 'the first row must be the header code,name,level,parent' }]);
    expect(errors('# x\ncode,ten,level\n42,Tỉnh Hà Tĩnh,province\n')).toEqual([{ line: 2, message: expect.stringContaining('missing column name') }]);
    expect(errors('code,name,level,parent\n42,"Tỉnh Hà Tĩnh,province,\n')).toContainEqual({ line: 2, message: expect.stringContaining('not closed') });
  });

  it('says how to fix a file that is not UTF-8', () => {
    expect(errors('code,name,level,parent\n42,T\uFFFDnh H\uFFFD T\uFFFDnh,province,\n')).toEqual([
      { line: 2, message: expect.stringContaining('UTF-8') }
    ]);
  });

  it('never throws, whatever it is given', () => {
    for (const junk of ['\u0000\u0001', '"', ',,,\n,,,', 'code,name,level\n' + '"'.repeat(1000), '\n\n\n']) {
      expect(() => parseUnitsCsv(junk)).not.toThrow();
      expect(parseUnitsCsv(junk).errors.length).toBeGreaterThan(0);
    }
    expect(() => parseUnitsCsv(undefined as unknown as string)).not.toThrow();
  });

  it('reads semicolon-separated files, as some spreadsheets save them', () => {
    expect(parseUnitsCsv('code;name;level;parent\n42;Tỉnh Hà Tĩnh;province;\n440;Huyện Đức Thọ;district;42\n').units).toHaveLength(2);
  });
});

describe('parseZonesCsv', () => {
  it('reads levels as numbers or Vietnamese colour names', () => {
    const { zones, errors } = parseZonesCsv('code,level,since\n42,2,2021-09-01\n18070,đỏ,2021-09-10\n18076,Cam,2021-09-10\n49,xanh,2021-10-15\n');
    expect(errors).toEqual([]);
    expect(zones).toEqual([
      { _id: 'zone:42', type: 'zone', schema: 1, code: '42', level: 2, since: '2021-09-01' },
      { _id: 'zone:18070', type: 'zone', schema: 1, code: '18070', level: 4, since: '2021-09-10' },
      { _id: 'zone:18076', type: 'zone', schema: 1, code: '18076', level: 3, since: '2021-09-10' },
      { _id: 'zone:49', type: 'zone', schema: 1, code: '49', level: 1, since: '2021-10-15' }
    ]);
    expect(ZONE_LEVELS).toEqual([1, 2, 3, 4]);
  });

  it('reports bad levels, days, unknown and duplicate codes with their lines', () => {
    const { errors } = parseZonesCsv('code,level,since\n42,5,2021-09-01\n18070,4,2021-02-30\n11111,1,2021-01-01\n42,1,2021-01-01\n', new Set(['42', '18070']));
    expect(errors).toEqual([
      { line: 2, message: expect.stringContaining('level "5"') },
      { line: 3, message: expect.stringContaining('since "2021-02-30"') },
      { line: 4, message: 'unknown unit 11111' },
      { line: 5, message: 'duplicate code 42 (first on line 2)' }
    ]);
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2021-9-1')).toBe(false);
  });
});

describe('searchUnits', () => {
  const list = units(THREE_LEVEL + TWO_LEVEL.split('\n').slice(1).join('\n'));
  const names = (found: UnitDoc[]) => found.map((u) => u.name);

  it('finds without diacritics or case, the unit first and then its communes', () => {
    const found = names(searchUnits(list, 'duc tho'));
    expect(found.slice(0, 2)).toEqual(['Huyện Đức Thọ', 'Thị trấn Đức Thọ']);
    expect(found).toEqual(expect.arrayContaining(['Xã Tùng Châu', 'Xã Quang Vĩnh', 'Xã Đức Đồng', 'Xã Bùi La Nhân', 'Xã Trường Sơn']));
    expect(found).toHaveLength(7);
    expect(names(searchUnits(list, 'ĐỨC THỌ'))).toEqual(found);
    expect(names(searchUnits(list, 'Đức Thọ'.normalize('NFD')))).toEqual(found);
  });

  it('matches the query words against the unit and its ancestors, in any order', () => {
    expect(names(searchUnits(list, 'tung chau duc tho'))).toEqual(['Xã Tùng Châu']);
    expect(names(searchUnits(list, 'duc tho, tung chau'))).toEqual(['Xã Tùng Châu']);
    expect(names(searchUnits(list, 'xa tung chau'))).toEqual(['Xã Tùng Châu']);
    expect(names(searchUnits(list, 'tung chau ha tinh'))).toEqual(['Xã Tùng Châu']);
    expect(names(searchUnits(list, 'tung chau quang nam'))).toEqual([]);
  });

  it('treats đ as d, both ways', () => {
    expect(names(searchUnits(list, 'dong')).slice(0, 1)).toEqual(['Xã Đức Đồng']);
    expect(names(searchUnits(list, 'đức đồng'))).toEqual(['Xã Đức Đồng']);
    expect(names(searchUnits(list, 'duc dong'))).toEqual(['Xã Đức Đồng']);
  });

  it('matches words by their start, so it works while typing', () => {
    expect(names(searchUnits(list, 'tung ch'))).toEqual(['Xã Tùng Châu']);
    expect(names(searchUnits(list, 'bui la nh'))).toEqual(['Xã Bùi La Nhân']);
    // the middle of a word is not a match
    expect(searchUnits(list, 'ung chau')).toEqual([]);
  });

  it('ranks the exact name, then names starting with the query, then the rest', () => {
    // "ha tinh": the province (exact without its type word), the city (prefix), then units under them.
    const found = names(searchUnits(list, 'ha tinh'));
    expect(found.slice(0, 2)).toEqual(['Tỉnh Hà Tĩnh', 'Thành phố Hà Tĩnh']);
    expect(found).toHaveLength(10);
    // all words in the unit's own name come before matches through an ancestor
    const bac = names(searchUnits(list, 'bac ha'));
    expect(bac).toEqual(['Phường Bắc Hà']);
    const truong = names(searchUnits(list, 'son'));
    expect(truong[0]).toBe('Xã Trường Sơn');
  });

  it('filters by level and limits the results', () => {
    expect(names(searchUnits(list, 'duc tho', { level: 'commune' }))[0]).toBe('Thị trấn Đức Thọ');
    expect(searchUnits(list, 'duc tho', { level: 'district' })).toHaveLength(1);
    expect(searchUnits(list, 'duc tho', { limit: 3 })).toHaveLength(3);
    expect(searchUnits(list, 'duc tho', { limit: 0 })).toEqual([]);
    expect(searchUnits(list, 'ha', { level: 'province' }).map((u) => u.code)).toEqual(['42']);
  });

  it('finds nothing for an empty or punctuation-only query', () => {
    expect(searchUnits(list, '')).toEqual([]);
    expect(searchUnits(list, '  ,. ')).toEqual([]);
  });

  it('searches the 2-level tree too', () => {
    expect(names(searchUnits(list, 'an binh vi du'))).toEqual(['Xã An Bình']);
    expect(names(searchUnits(list, 'vi du')).slice(0, 1)).toEqual(['Tỉnh Ví Dụ']);
  });

  it('works the same on a prebuilt index', () => {
    const index = buildUnitIndex(list);
    expect(searchUnits(index, 'duc tho')).toEqual(searchUnits(list, 'duc tho'));
    expect(unitLabel(index, '18076')).toBe(unitLabel(list, '18076'));
  });

  it('copes with a whole country of units', () => {
    // ~11,000 units: 63 provinces × 11 districts × 15 communes, with generated names
    const big: UnitDoc[] = [];
    for (let p = 1; p <= 63; p++) {
      const pc = String(p).padStart(2, '0');
      big.push(unit(pc, `Tỉnh Số ${p}`, 'province', null));
      for (let d = 0; d < 11; d++) {
        const dc = String(p * 11 + d).padStart(3, '0');
        big.push(unit(dc, `Huyện Đông ${p}-${d}`, 'district', pc));
        for (let c = 0; c < 15; c++) big.push(unit(String((p * 11 + d) * 15 + c).padStart(5, '0'), `Xã Thượng ${p}-${d}-${c}`, 'commune', dc));
      }
    }
    const index = buildUnitIndex(big);
    // words in any order: 7-3-12 and 12-3-7 both match
    expect(searchUnits(index, 'thuong 7 3 12 dong so').map((u) => u.name)).toEqual(expect.arrayContaining(['Xã Thượng 7-3-12', 'Xã Thượng 12-3-7']));
    expect(searchUnits(index, 'thuong')).toHaveLength(20);
    expect(searchUnits(index, 'xa thuong 7-3-12').map((u) => u.name)[0]).toBe('Xã Thượng 7-3-12');
    expect(unitLabel(index, big[big.length - 1]!.code)).toBe('Xã Thượng 63-10-14, Huyện Đông 63-10, Tỉnh Số 63');
  });
});

describe('unitPath and unitLabel', () => {
  const list = units(THREE_LEVEL + TWO_LEVEL.split('\n').slice(1).join('\n'));

  it('gives the path from the province down to the unit', () => {
    expect(unitPath(list, '18076').map((u) => u.code)).toEqual(['42', '440', '18076']);
    expect(unitPath(list, '99004').map((u) => u.code)).toEqual(['99', '99004']);
    expect(unitPath(list, '42').map((u) => u.code)).toEqual(['42']);
    expect(unitPath(list, '12345')).toEqual([]);
  });

  it('labels a unit with its ancestors, the unit first', () => {
    expect(unitLabel(list, '18076')).toBe('Xã Tùng Châu, Huyện Đức Thọ, Tỉnh Hà Tĩnh');
    expect(unitLabel(list, '99001')).toBe('Phường Trung Tâm, Tỉnh Ví Dụ');
    expect(unitLabel(list, '12345')).toBe('12345');
  });

  it('stops on a broken tree instead of looping', () => {
    const broken = [unit('440', 'Huyện A', 'district', '441'), unit('441', 'Huyện B', 'district', '440')];
    expect(unitPath(broken, '440').map((u) => u.code)).toEqual(['441', '440']);
  });

  it('sees units added to a new list (the cache follows the list)', () => {
    const more = [...list, unit('18082', 'Xã Yên Hồ', 'commune', '440')];
    expect(unitLabel(more, '18082')).toBe('Xã Yên Hồ, Huyện Đức Thọ, Tỉnh Hà Tĩnh');
  });
});

describe('effective zone level', () => {
  it("takes the unit's own level, else the nearest ancestor's", async () => {
    const { effectiveZoneLevel } = await import('./units');
    const tree = units(THREE_LEVEL);
    const zones = new Map([
      ['42', { level: 2 as const }],
      ['440', { level: 3 as const }],
      ['18076', { level: 4 as const }]
    ]);
    expect(effectiveZoneLevel(tree, zones, '18076')).toBe(4);
    expect(effectiveZoneLevel(tree, zones, '18070')).toBe(3);
    expect(effectiveZoneLevel(tree, zones, '17900')).toBe(2);
    expect(effectiveZoneLevel(tree, new Map(), '17900')).toBeNull();
    expect(effectiveZoneLevel(tree, zones, '99999')).toBeNull();
  });

  it('a level announced for a later day applies from that day; until then what it replaced, or the parent’s', async () => {
    const { effectiveZoneLevel } = await import('./units');
    const tree = units(THREE_LEVEL);
    const zones = new Map([
      ['42', { level: 2 as const, since: '2021-09-01' }],
      // Đức Thọ at 1 until 09/10, at 3 from 10/10.
      ['440', { level: 3 as const, since: '2021-10-10', before: 1 as const }],
      // Tùng Châu: no level of its own until 12/10 (it takes Đức Thọ's), then 4.
      ['18076', { level: 4 as const, since: '2021-10-12', before: null }]
    ]);
    expect(effectiveZoneLevel(tree, zones, '18070', '2021-10-09')).toBe(1);
    expect(effectiveZoneLevel(tree, zones, '18070', '2021-10-10')).toBe(3);
    expect(effectiveZoneLevel(tree, zones, '18076', '2021-10-09')).toBe(1);
    expect(effectiveZoneLevel(tree, zones, '18076', '2021-10-11')).toBe(3);
    expect(effectiveZoneLevel(tree, zones, '18076', '2021-10-12')).toBe(4);
    // A level with no 'before' that starts later: the parent's until then.
    expect(effectiveZoneLevel(tree, new Map([['42', { level: 2 as const, since: '2021-09-01' }], ['440', { level: 4 as const, since: '2021-12-01' }]]), '18070', '2021-10-01')).toBe(2);
  });
});

describe('unitWithin and commonUnit', () => {
  const tree = unitTree(units(THREE_LEVEL + TWO_LEVEL.split('\n').slice(1).join('\n')));
  it('finds a unit at or under another, never beside or above, never an unknown one', () => {
    expect(unitWithin(tree, '18073', '440')).toBe(true);
    expect(unitWithin(tree, '18073', '42')).toBe(true);
    expect(unitWithin(tree, '440', '440')).toBe(true);
    expect(unitWithin(tree, '440', '18073')).toBe(false);
    expect(unitWithin(tree, '17900', '440')).toBe(false);
    expect(unitWithin(tree, '99001', '42')).toBe(false);
    expect(unitWithin(tree, '12345', '42')).toBe(false);
  });
  it('gives the lowest unit holding every code', () => {
    expect(commonUnit(tree, ['18073'])).toBe('18073');
    expect(commonUnit(tree, ['18073', '18076'])).toBe('440');
    expect(commonUnit(tree, ['18073', '17900'])).toBe('42');
    expect(commonUnit(tree, ['18073', '99001'])).toBe(null);
    expect(commonUnit(tree, [])).toBe(null);
    expect(commonUnit(tree, ['18073', '12345'])).toBe(null);
  });
});

describe('diffUnits', () => {
  const existing = units(THREE_LEVEL);
  const diff = (csv: string, scope: string | null) => {
    const parsed = parseUnitsCsv(csv, existing);
    expect(parsed.errors).toEqual([]);
    return diffUnits(existing, parsed, scope);
  };

  it('sorts rows into added, renamed, moved and unchanged', () => {
    const d = diff('code,name,level,parent\n18073,Xã Quang Vĩnh,commune,440\n18076,Xã Tùng Châu Mới,commune,440\n18079,Xã Trường Sơn,commune,436\n18100,Xã Mới,commune,440\n', '42');
    expect(d.errors).toEqual([]);
    expect(d.added.map((u) => u.code)).toEqual(['18100']);
    expect(d.renamed).toEqual([{ code: '18076', from: 'Xã Tùng Châu', to: 'Xã Tùng Châu Mới' }]);
    expect(d.moved).toEqual([{ code: '18079', name: 'Xã Trường Sơn', from: '440', to: '436' }]);
    expect(d.unchanged).toBe(1);
    // No row of the admin's own unit: a part of the subtree, nothing removed.
    expect(d.removed).toEqual([]);
  });

  it('refuses rows outside the scope by line: beside, above, moved in from beside or out to beside', () => {
    const d = diff(
      'code,name,level,parent\n18073,Xã Quang Vĩnh,commune,440\n17900,Phường Bắc Hà,commune,436\n42,Tỉnh Hà Tĩnh Mới,province,\n18076,Xã Tùng Châu,commune,436\n18200,Xã Khác,commune,436\n',
      '440'
    );
    expect(d.errors.map((e) => e.line)).toEqual([3, 4, 5, 6]);
    expect(d.errors[0]!.message).toMatch(/outside your unit 440/);
    expect(d.unchanged).toBe(1);
    expect(d.renamed).toEqual([]);
    expect(d.moved).toEqual([]);
    expect(d.added).toEqual([]);
  });

  it('a file with the scope\'s own row is its whole subtree: what it leaves out is removed', () => {
    const d = diff('code,name,level,parent\n440,Huyện Đức Thọ,district,42\n18070,Thị trấn Đức Thọ,commune,440\n18073,Xã Quang Vĩnh,commune,440\n', '440');
    expect(d.errors).toEqual([]);
    expect(d.removed.map((u) => u.code).sort()).toEqual(['18076', '18079', '18085', '18091']);
    expect(d.unchanged).toBe(3);
  });

  it('the scope\'s own row may be renamed, not moved; a row may not hang from a removed unit', () => {
    expect(diff('code,name,level,parent\n440,Thị xã Đức Thọ,district,42\n', '440').renamed).toEqual([{ code: '440', from: 'Huyện Đức Thọ', to: 'Thị xã Đức Thọ' }]);
    // 436 left out of a file of province 42 while a commune of the file still has it as parent.
    const d = diff('code,name,level,parent\n42,Tỉnh Hà Tĩnh,province,\n440,Huyện Đức Thọ,district,42\n17900,Phường Bắc Hà,commune,436\n', '42');
    expect(d.removed.map((u) => u.code)).toContain('436');
    expect(d.errors).toEqual([{ line: 4, message: 'parent 436 is left out of the file, which removes it' }]);
  });

  it('with no scope (the command) nothing is out of scope and nothing is removed', () => {
    const d = diff('code,name,level,parent\n42,Tỉnh Hà Tĩnh,province,\n17900,Phường Bắc Hà Mới,commune,436\n', null);
    expect(d.errors).toEqual([]);
    expect(d.removed).toEqual([]);
    expect(d.renamed).toHaveLength(1);
  });
});
