import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { importUnits, loadUnits, seedDemoUnits } from '../../server/units';
import { main } from '../../server/units-import';
import { parseUnitsCsv, type UnitDoc, type ZoneDoc } from '../../src/lib/core/units';

let server: RunningServer;
let dataDir: string;

// Codes that the demo units do not use, so that the tests hold whether or not startup seeds them.
const THREE_LEVEL = `code,name,level,parent
01,Thành phố Hà Nội,province,
001,Quận Ba Đình,district,01
00001,Phường Phúc Xá,commune,001
00004,Phường Trúc Bạch,commune,001
002,Quận Hoàn Kiếm,district,01
00037,Phường Phúc Tân,commune,002
`;

const TWO_LEVEL = `code,name,level,parent
98,Tỉnh Thử Nghiệm,tỉnh,
98001,Phường Một,phường,98
98004,Xã Hai,xã,98
`;

function parse(csv: string, existing: UnitDoc[] = []): UnitDoc[] {
  const { units, errors } = parseUnitsCsv(csv, existing);
  expect(errors).toEqual([]);
  return units;
}

function directory() {
  return server.store.db<UnitDoc | ZoneDoc>('lv_directory');
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-units-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), '<title>fallback</title>');
  writeFileSync(path.join(staticDir, 'index.html'), '<title>home</title>');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir }));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('importing administrative units into lv_directory', () => {
  it('creates the units of a 3-level and a 2-level file', async () => {
    expect(await importUnits(server.store, parse(THREE_LEVEL))).toEqual({ created: 6, updated: 0, unchanged: 0 });
    expect(await importUnits(server.store, parse(TWO_LEVEL))).toEqual({ created: 3, updated: 0, unchanged: 0 });
    const doc = await directory().get('unit:00004');
    expect(doc).toMatchObject({ _id: 'unit:00004', type: 'unit', schema: 1, code: '00004', name: 'Phường Trúc Bạch', level: 'commune', parent: '001' });
    expect(await directory().get('unit:98004')).toMatchObject({ name: 'Xã Hai', level: 'commune', parent: '98' });
  });

  it('leaves unchanged units alone on a re-import', async () => {
    const before = await directory().get('unit:001');
    expect(await importUnits(server.store, parse(THREE_LEVEL))).toEqual({ created: 0, updated: 0, unchanged: 6 });
    expect(await importUnits(server.store, parse(TWO_LEVEL))).toEqual({ created: 0, updated: 0, unchanged: 3 });
    expect((await directory().get('unit:001'))._rev).toBe(before._rev);
  });

  it('updates a renamed unit and only it', async () => {
    const before = await directory().get('unit:00037');
    const renamed = THREE_LEVEL.replace('Phường Phúc Tân', 'Phường Phúc Tân (mới)');
    expect(await importUnits(server.store, parse(renamed))).toEqual({ created: 0, updated: 1, unchanged: 5 });
    const after = await directory().get('unit:00037');
    expect(after).toMatchObject({ name: 'Phường Phúc Tân (mới)', parent: '002' });
    expect(after._rev).not.toBe(before._rev);
  });

  it('imports a file whose parents are already stored, and reads the units back', async () => {
    const stored = await loadUnits(server.store);
    expect(stored.map((u) => u.code)).toEqual(expect.arrayContaining(['01', '001', '00001', '98', '98004']));
    expect(stored.every((u) => !('_rev' in u))).toBe(true);
    const more = parse('code,name,level,parent\n00006,Phường Vĩnh Phúc,commune,001\n98007,Xã Ba,commune,98\n', stored);
    expect(await importUnits(server.store, more)).toEqual({ created: 2, updated: 0, unchanged: 0 });
  });

  it('recreates a unit that was deleted', async () => {
    const doc = await directory().get('unit:98007');
    await directory().destroy('unit:98007', doc._rev);
    const again = parse('code,name,level,parent\n98007,Xã Ba,commune,98\n', await loadUnits(server.store));
    expect(await importUnits(server.store, again)).toEqual({ created: 1, updated: 0, unchanged: 0 });
    expect(await directory().get('unit:98007')).toMatchObject({ name: 'Xã Ba' });
  });

  it('writes more than one batch of 500', async () => {
    const many: UnitDoc[] = [{ _id: 'unit:90', type: 'unit', schema: 1, code: '90', name: 'Tỉnh Nhiều Xã', level: 'province', parent: null }];
    for (let i = 0; i < 1200; i++) {
      const code = String(90000 + i);
      many.push({ _id: `unit:${code}`, type: 'unit', schema: 1, code, name: `Xã Số ${i}`, level: 'commune', parent: '90' });
    }
    expect(await importUnits(server.store, many)).toEqual({ created: 1201, updated: 0, unchanged: 0 });
    many[700] = { ...many[700]!, name: 'Xã Đổi Tên' };
    expect(await importUnits(server.store, many)).toEqual({ created: 0, updated: 1, unchanged: 1200 });
  });

  it('seeds the demo units and zone levels once', async () => {
    await seedDemoUnits(server.store); // may find them already seeded by startup
    expect(await directory().get('unit:18070')).toMatchObject({ name: 'Thị trấn Đức Thọ', level: 'commune', parent: '440' });
    expect(await directory().get('unit:440')).toMatchObject({ name: 'Huyện Đức Thọ', parent: '42' });
    expect(await directory().get('unit:99010')).toMatchObject({ level: 'commune', parent: '99' });
    const zone = (await directory().get('zone:18070')) as ZoneDoc;
    expect(zone).toMatchObject({ type: 'zone', schema: 1, code: '18070', level: 4 });
    expect(zone.since).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(await directory().get('zone:42')).toMatchObject({ level: 2 });
    expect(await seedDemoUnits(server.store)).toBeNull();
  });
});

describe('npm run units:import', () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
  }

  it('imports into a store at COUCHDB_URL and reports the counts', async () => {
    const file = path.join(dataDir, 'cli.csv');
    writeFileSync(file, '\uFEFFcode,name,level,parent\r\n96,Tỉnh Dòng Lệnh,province,\r\n96001,Xã Một,commune,96\r\n');
    const env = { COUCHDB_URL: server.store.couch.config.url, DATA_DIR: path.join(dataDir, 'unused') };
    const first = capture();
    expect(await main(['--', file], env, first.io)).toBe(0);
    expect(first.out.join('\n')).toContain('created 2, updated 0, unchanged 0');
    expect(first.out.join('\n')).not.toContain('@'); // never the credentials of the URL
    const again = capture();
    expect(await main([file], env, again.io)).toBe(0);
    expect(again.out.join('\n')).toContain('created 0, updated 0, unchanged 2');
    expect(await directory().get('unit:96001')).toMatchObject({ name: 'Xã Một', parent: '96' });
  });

  it('accepts parents already in the store', async () => {
    const file = path.join(dataDir, 'cli-more.csv');
    writeFileSync(file, 'code,name,level,parent\n96004,Xã Hai,commune,96\n');
    const run = capture();
    expect(await main([file], { COUCHDB_URL: server.store.couch.config.url }, run.io)).toBe(0);
    expect(run.out.join('\n')).toContain('created 1');
  });

  it('brings back a unit that was deleted', async () => {
    const file = path.join(dataDir, 'cli-more.csv');
    const doc = await directory().get('unit:96004');
    await directory().destroy('unit:96004', doc._rev);
    const run = capture();
    expect(await main([file], { COUCHDB_URL: server.store.couch.config.url }, run.io)).toBe(0);
    expect(run.out.join('\n')).toContain('created 1');
    expect(await directory().get('unit:96004')).toMatchObject({ name: 'Xã Hai', parent: '96' });
  });

  it('writes nothing when the file has errors, and lists them with line numbers', async () => {
    const file = path.join(dataDir, 'bad.csv');
    writeFileSync(file, 'code,name,level,parent\n96,Tỉnh Dòng Lệnh Đổi Tên,province,\n96007,,commune,96\n96010,Xã Bốn,commune,95\n');
    const run = capture();
    expect(await main([file], { COUCHDB_URL: server.store.couch.config.url }, run.io)).toBe(1);
    expect(run.err).toEqual([
      `${file}:3: missing name`,
      `${file}:4: parent 95 not found (neither in this file nor already imported)`,
      '2 errors: nothing was imported.'
    ]);
    expect(await directory().get('unit:96')).toMatchObject({ name: 'Tỉnh Dòng Lệnh' });
  });

  it('starts the embedded store in DATA_DIR when COUCHDB_URL is unset', async () => {
    const file = path.join(dataDir, 'cli.csv');
    const env = { DATA_DIR: path.join(dataDir, 'cli-data') };
    const run = capture();
    expect(await main([file], env, run.io)).toBe(0);
    expect(run.out.join('\n')).toContain('embedded store');
    expect(run.out.join('\n')).toContain('created 2');
  });

  it('checks a file without a store, and explains its usage', async () => {
    const check = capture();
    // without a store, a parent must be in the file: province 96 is not
    expect(await main(['--check', path.join(dataDir, 'cli-more.csv')], {}, check.io)).toBe(1);
    expect(check.err).toEqual([`${path.join(dataDir, 'cli-more.csv')}:2: parent 96 not found (neither in this file nor already imported)`, '1 error: nothing was imported.']);
    const good = capture();
    expect(await main(['--check', path.join(dataDir, 'cli.csv')], {}, good.io)).toBe(0);
    expect(good.out[0]).toContain('2 units, no errors');
    const usage = capture();
    expect(await main([], {}, usage.io)).toBe(2);
    expect(usage.err.join('\n')).toContain('Usage');
    const missing = capture();
    expect(await main([path.join(dataDir, 'nope.csv')], {}, missing.io)).toBe(1);
    expect(missing.err[0]).toContain('Cannot read');
  });
});
