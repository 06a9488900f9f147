/**
 * The embedded store in its own process: killed, the server keeps answering (503 while it is
 * down) and starts it again on the same URL with every document kept; a store bug that throws
 * ends the store only. Also what the store leaves in DATA_DIR (nothing identifying outside the
 * data itself, owner-only modes) and the start errors an operator reads.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../server/config';
import { startServer, type RunningServer } from '../../server/main';
import { Store } from '../../server/store/couch';
import { createUser } from '../../server/users';
import { entryDocId } from '../../src/lib/core/documents';
import { localDb, login, register, remoteDb } from './sync-helpers';
import { isRunning, killServers, removeServerBundle, spawnServer, until } from './server-process';

const COMMUNE = '18070';
const DB_C = `lv_c_${COMMUNE}`;
const OWNER_PHONE = '0913000001';
const TEAM_PHONE = '0913000002';
const POISON_TEAM_PHONE = '0913000003';
const VENUE = 'venuesssssss';
const PASSWORD = 'mat-khau-dai';

let server: RunningServer;
let tmp: string;
let dataDir: string;
let base: string;
const cookies = { owner: '', team: '', poisonTeam: '' };
let ownerId = '';
const entryIds: string[] = [];

function venue(owner: string) {
  return { _id: `venue:${VENUE}`, type: 'venue', schema: 1, venueId: VENUE, name: 'Tạp hóa Cô Sáu', venueType: 'shop', communeCode: COMMUNE, address: 'Khối 2', status: 'active', owner };
}

function entry(time: number, name: string) {
  const _id = entryDocId(VENUE, time, Math.random().toString(36).slice(2, 10));
  entryIds.push(_id);
  return { _id, type: 'entry', schema: 1, venueId: VENUE, communeCode: COMMUNE, time, direction: 'in', person: { source: 'manual', name, phone: '0987654321' }, deviceId: 'test-device' };
}

async function get(url: string, cookie = ''): Promise<{ status: number; body: { reason?: string; error?: string } & Record<string, unknown> }> {
  const res = await fetch(`${base}${url}`, { headers: cookie ? { cookie } : {} });
  return { status: res.status, body: (await res.json()) as { reason?: string } };
}

/** The ids of the commune database as the team pulls them through the gateway. */
async function teamPull(): Promise<string[]> {
  const local = localDb();
  await local.replicate.from(remoteDb(base, DB_C, cookies.team));
  return (await local.allDocs()).rows.map((r) => r.id);
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lv-sup-'));
  const staticDir = path.join(tmp, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  // Not made here: the server makes it, and how is under test.
  dataDir = path.join(tmp, 'data');
  server = await startServer(readConfig({ PORT: '0', DATA_DIR: dataDir, LOG: '0', STATIC_DIR: staticDir, DEMO_ACTIVITY: '0' }));
  base = server.url;
  const owner = await register(base, OWNER_PHONE);
  cookies.owner = owner.cookie;
  ownerId = owner.userId;
  await createUser(server.store, { phone: TEAM_PHONE, password: PASSWORD, role: 'team', communes: [COMMUNE] });
  cookies.team = (await login(base, TEAM_PHONE, PASSWORD)).cookie;
  const local = localDb();
  await local.put(venue(ownerId));
  for (let i = 0; i < 30; i++) await local.put(entry(Date.now() - 60_000 + i, `Khách ${i}`));
  const pushed = await local.replicate.to(remoteDb(base, DB_C, cookies.owner));
  expect(pushed.doc_write_failures).toBe(0);
});

afterAll(async () => {
  await server?.close();
  killServers();
  rmSync(tmp, { recursive: true, force: true });
  removeServerBundle();
});

describe('the embedded store in its own process', () => {
  it('runs apart from the server', () => {
    const pid = server.storePid();
    expect(pid).toBeTypeOf('number');
    expect(pid).not.toBe(process.pid);
    expect(isRunning(pid!)).toBe(true);
  });

  it('killed with SIGKILL, is started again on the same URL with every document kept, the server answering meanwhile', async () => {
    const before = server.storePid()!;
    process.kill(before, 'SIGKILL');
    // Until it is back: every answer is a 200 or a 503 with a reason, never a 500 or a hang.
    const seen = new Set<number>();
    await until('the store to be back', async () => {
      const health = await get('/api/health');
      const changes = await get(`/sync/${DB_C}/_changes`, cookies.team);
      for (const res of [health, changes]) {
        seen.add(res.status);
        expect([200, 503]).toContain(res.status);
        if (res.status === 503) expect(res.body.reason).toBeTruthy();
      }
      const pid = server.storePid();
      return health.status === 200 && changes.status === 200 && pid !== null && pid !== before ? true : undefined;
    });
    expect(isRunning(before)).toBe(false);
    const ids = await teamPull();
    expect(ids).toEqual(expect.arrayContaining([`venue:${VENUE}`, ...entryIds]));
    expect(ids.length).toBe(new Set(ids).size);
    // The same store URL still carries the server's writes.
    const local = localDb();
    await local.put(entry(Date.now(), 'Khách sau khi khởi động lại'));
    const pushed = await local.replicate.to(remoteDb(base, DB_C, cookies.owner));
    expect(pushed.docs_written).toBe(1);
    expect(await teamPull()).toEqual(expect.arrayContaining(entryIds));
  }, 60_000);

  it('a store that is not there fails every call with a 503 error the HTTP layer can tell from a bug', async () => {
    // A port nobody listens on: what the server meets between a store's end and its restart.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const gone = new Store(`http://lv_server:x@127.0.0.1:${port}`);
    const unavailable = { statusCode: 503, code: 'STORE_UNAVAILABLE', error: 'store_unavailable', reason: expect.any(String) };
    await expect(gone.request('GET', `${DB_C}/_changes`)).rejects.toMatchObject(unavailable);
    await expect(gone.db(DB_C).get('venue:x')).rejects.toMatchObject(unavailable);
    await expect(gone.couch.db.list()).rejects.toMatchObject(unavailable);
    expect(await gone.ping()).toBe(false);
  });

  it('logs nothing that names a person or a document, and keeps DATA_DIR owner-only', async () => {
    // Logins, pulls and a push more, after the pushes of beforeAll.
    expect((await login(base, OWNER_PHONE, PASSWORD)).status).toBe(200);
    expect((await login(base, TEAM_PHONE, 'sai-mat-khau')).status).toBe(401);
    await teamPull();
    const secrets = [OWNER_PHONE, TEAM_PHONE, VENUE, ...entryIds.slice(0, 3).map((id) => id.split(':').slice(2).join(':'))];
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? [path.join(dir, d.name), ...walk(path.join(dir, d.name))] : [path.join(dir, d.name)]));
    const paths = [dataDir, ...walk(dataDir)];
    expect(paths.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const p of paths) {
      const name = path.relative(dataDir, p) || 'DATA_DIR';
      const st = statSync(p);
      const mode = st.mode & 0o777;
      if (mode !== (st.isDirectory() ? 0o700 : 0o600)) problems.push(`${name} has mode ${mode.toString(8)}`);
      // The databases' own files hold the data (that is what they are for); every other file, the
      // LevelDB info logs (LOG) among them, must not name anyone.
      if (st.isDirectory() || /^(?:[0-9]+\.(?:log|ldb|sst)|MANIFEST-[0-9]+)$/.test(path.basename(p))) continue;
      const text = readFileSync(p, 'latin1');
      for (const secret of secrets) if (text.includes(secret)) problems.push(`${name} contains ${secret}`);
    }
    expect(problems).toEqual([]);
  });

  // Last: the poisoned document stays in its database (another commune's, read by nothing else here).
  it('a store bug that throws on a poisoned document ends the store only; the server answers and starts it again', async () => {
    const other = await server.store.ensureCommuneDb('18073');
    await createUser(server.store, { phone: POISON_TEAM_PHONE, password: PASSWORD, role: 'team', communes: ['18073'] });
    cookies.poisonTeam = (await login(base, POISON_TEAM_PHONE, PASSWORD)).cookie;
    // Straight into the store, past the gateway (whose checks refuse it): replication metadata
    // that pouchdb-node stores and then cannot read.
    const stored = await server.store.request('POST', `${other}/_bulk_docs`, {
      body: { new_edits: false, docs: [{ _id: entryDocId('venuepppppp2', Date.now(), 'poison01'), _rev: '2-abc', _revisions: { start: 2, ids: [] }, type: 'entry', schema: 1 }] }
    });
    expect(stored.status).toBe(201);
    const before = server.storePid()!;
    const read = await get(`/sync/${other}/_changes?style=all_docs&include_docs=true&limit=100`, cookies.poisonTeam);
    expect(read.status).toBeLessThan(600);
    const crashed = await until('the store to end', () => (isRunning(before) ? undefined : true), 200);
    expect(crashed).toBe(true);
    await until('the store to be back', async () => {
      const pid = server.storePid();
      return pid !== null && pid !== before && (await get('/api/health')).status === 200 ? true : undefined;
    });
    expect(await teamPull()).toEqual(expect.arrayContaining([`venue:${VENUE}`, ...entryIds]));
  }, 60_000);
});

describe('start errors, in words', { timeout: 60_000 }, () => {
  async function startError(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const server = await spawnServer({ LOG: '0', STATIC_DIR: path.join(tmp, 'build'), ...env });
    const { code } = await server.exited;
    return { code, stderr: server.output().stderr };
  }

  function oneLine(stderr: string): string {
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(stderr).not.toMatch(/\bat .+:[0-9]+:[0-9]+/); // no stack frame
    expect(lines[0]).toMatch(/^Lưu Vết could not start: /);
    return lines[0]!;
  }

  it('PORT that is not a port', async () => {
    const { code, stderr } = await startError({ PORT: 'abc', DATA_DIR: path.join(tmp, 'unused') });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toContain('PORT');
  });

  it('DATA_DIR in use by a running server', async () => {
    const { code, stderr } = await startError({ PORT: '0', DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(/in use by another running Lưu Vết server.*stop it/);
  });

  it('DATA_DIR that cannot be written', async () => {
    const file = path.join(tmp, 'build', '200.html');
    const { code, stderr } = await startError({ PORT: '0', DATA_DIR: path.join(file, 'data') });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(/cannot write in DATA_DIR.*DATA_DIR/);
  });

  it.skipIf(process.getuid?.() === 0)('DATA_DIR without write permission', async () => {
    const locked = path.join(tmp, 'read-only');
    mkdirSync(locked, { mode: 0o500 });
    const { code, stderr } = await startError({ PORT: '0', DATA_DIR: path.join(locked, 'data') });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(/permission denied/);
  });
});
