/**
 * The province list phones pick their home province from (/api/provinces): the demo's example
 * province (99, "Tỉnh Ví Dụ", a code the national list does not use) is there only while demo data
 * is on, also on a server that ran with demo data before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';

let dataDir: string;
let server: RunningServer | null = null;

async function start(demo: '0' | '1', dir: string): Promise<string> {
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: dir, LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), DEMO: demo }));
  return server.url;
}

async function provinceCodes(base: string): Promise<string[]> {
  const res = await fetch(`${base}/api/provinces`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { provinces: { code: string }[] }).provinces.map((p) => p.code);
}

beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-provinces-'));
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the province list', () => {
  it('has no demo province when demo data is off from the start', async () => {
    const base = await start('0', path.join(dataDir, 'off'));
    expect(await provinceCodes(base)).not.toContain('99');
    await server!.close();
    server = null;
  });

  it('drops the example province when a server that ran the demo restarts with demo data off', async () => {
    const dir = path.join(dataDir, 'was-demo');
    const demo = await start('1', dir);
    expect(await provinceCodes(demo)).toContain('99');
    await server!.close();
    const off = await start('0', dir);
    expect(await provinceCodes(off)).not.toContain('99');
  });
});
