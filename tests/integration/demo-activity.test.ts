/**
 * The demo district's three weeks of activity: every document it writes is one the gateway would
 * accept from a team (the same schema check), it is written once, and today stays empty.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main';
import { seedDemoActivity } from '../../server/demo-activity';
import { loadKeyring } from '../../server/keys';
import { checkCommuneDoc, type CommuneDoc } from '../../src/lib/core/documents';
import { dayKey } from '../../src/lib/core/time';
import { testServerConfig } from './test-server';

let server: RunningServer;
let dataDir: string;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'lv-demo-activity-'));
  // A DATA_DIR not made yet: on CouchDB (npm run test:couchdb) that starts from empty databases.
  dataDir = path.join(root, 'data');
  const config = await testServerConfig({ PORT: '0', DATA_DIR: dataDir, LOG: '0', STATIC_DIR: path.join(root, 'none'), DEMO_ACTIVITY: '1' });
  server = await startServer(config);
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('demo activity', () => {
  it('writes documents a team could have pushed, none of today, and only once', async () => {
    const today = dayKey(Date.now());
    let entries = 0;
    for (const code of ['18073', '18079', '18082', '18088']) {
      const docs = (await server.store.docsByPrefix<CommuneDoc>(`lv_c_${code}`, '')) ?? [];
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        const { _rev: _ignored, ...body } = doc as CommuneDoc & { _rev?: string };
        const check = checkCommuneDoc(body, code);
        expect(check.ok ? null : `${doc._id}: ${check.reason}`).toBeNull();
        if (doc.type === 'entry') {
          entries++;
          expect(dayKey(doc.time)).not.toBe(today);
        }
      }
    }
    expect(entries).toBeGreaterThan(500);
    // Thị trấn Đức Thọ keeps no demo entries: its lists belong to the browser tests.
    const town = (await server.store.docsByPrefix<CommuneDoc>('lv_c_18070', 'entry:')) ?? [];
    expect(town).toHaveLength(0);
    const again = await seedDemoActivity(server.store, loadKeyring(await testServerConfig({ DATA_DIR: dataDir })));
    expect(again).toBeNull();
  });
});
