/**
 * Kill -9 under load: 20 scan stations push entries (real PouchDB clients, small batches, retried
 * as a station retries) and the commune team pulls, while the server process is killed with
 * SIGKILL and started again on the same DATA_DIR and port, and then, separately, only the
 * embedded store's process is killed. Afterwards every entry a station wrote is on the server
 * exactly once, in its first revision, and in the team's replica: nothing lost, nothing doubled.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { entryDocId } from '../../src/lib/core/documents';
import { deleteProjectDatabases, testCouchdbUrl } from './test-server';
import { childrenOf, GiveUp, isRunning, killServers, removeServerBundle, spawnServer, until, type ServerProcess } from './server-process';
import { localDb, login, remoteDb } from './sync-helpers';

const COMMUNE = '18070';
const DB_C = `lv_c_${COMMUNE}`;
const TEAM_PHONE = '0912000070'; // the demo commune's team
const TEAM_PASSWORD = 'doi-covid-thi-tran';
const OWNERS = 10; // two venues (two stations) each
const STATIONS = 20;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

let tmp: string;
let env: Record<string, string>;
let base: string;
let server: ServerProcess | null = null;

interface Station {
  venueId: string;
  db: PouchDB.Database;
  remote: PouchDB.Database;
  written: string[];
  /** Pushes that completed without error. */
  pushes: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`${base}/api/health`)).status === 200;
  } catch {
    return false;
  }
}

async function startServerProcess(): Promise<ServerProcess> {
  const proc = await spawnServer(env);
  await until('the server to answer', async () => {
    if (proc.proc.exitCode !== null) throw new GiveUp(`the server ended: ${proc.output().stderr}`);
    return (await healthy()) ? true : undefined;
  });
  return proc;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Registers an owner from a loopback address of its own (127.0.0.x), as owners register from their
 * own phones: limits on registrations per address are not what this test is about.
 */
async function registerFrom(localAddress: string, phone: string): Promise<{ cookie: string; userId: string }> {
  const body = JSON.stringify({ phone, password: 'mat-khau-dai' });
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/api/auth/register`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => {
        const cookie = /lv_session=[^;]+/.exec(String(res.headers['set-cookie'] ?? ''))?.[0];
        if (res.statusCode !== 201 || !cookie) return reject(new Error(`register ${phone}: ${res.statusCode} ${text}`));
        resolve({ cookie, userId: (JSON.parse(text) as { userId: string }).userId });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lv-fault-'));
  const staticDir = path.join(tmp, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  const port = await freePort();
  env = { PORT: String(port), DATA_DIR: path.join(tmp, 'data'), STATIC_DIR: staticDir, LOG: '0', DEMO_TEAM_PASSWORD: TEAM_PASSWORD };
  base = `http://127.0.0.1:${port}`;
  env.PUBLIC_ORIGIN = base;
  // On a real CouchDB (npm run test:couchdb) the server process is killed alike; there is no store
  // process of ours to kill, so the second phase is the embedded store's only.
  const couchdb = testCouchdbUrl();
  if (couchdb) {
    await deleteProjectDatabases(couchdb);
    env.COUCHDB_URL = couchdb;
  }
  server = await startServerProcess();
});

afterAll(async () => {
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) {
    server.proc.kill('SIGTERM');
    await server.exited;
  }
  killServers();
  rmSync(tmp, { recursive: true, force: true });
  removeServerBundle();
});

it('loses and doubles no entry when the server, then the store alone, is killed with SIGKILL', async () => {
  const stations: Station[] = [];
  for (let o = 0; o < OWNERS; o++) {
    const owner = await registerFrom(`127.0.0.${10 + o}`, `09140000${String(o).padStart(2, '0')}`);
    for (let k = 0; k < STATIONS / OWNERS; k++) {
      const n = stations.length;
      const venueId = `faultvnaaa${B32[Math.floor(n / 32)]}${B32[n % 32]}`;
      const db = localDb();
      await db.put({ _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name: `Điểm bán ${n + 1}`, venueType: 'shop', communeCode: COMMUNE, address: `Khối ${n + 1}`, status: 'active', owner: owner.userId });
      stations.push({ venueId, db, remote: remoteDb(base, DB_C, owner.cookie), written: [], pushes: 0 });
    }
  }
  const team = await login(base, TEAM_PHONE, TEAM_PASSWORD);
  expect(team.status).toBe(200);
  const teamReplica = localDb();
  const teamRemote = remoteDb(base, DB_C, team.cookie);

  let running = true;
  let teamPulls = 0;
  let teamPullFailures = 0;
  // A station: a few scans, a push; a push that fails is simply tried again with the next one.
  const stationLoops = stations.map(async (s, i) => {
    while (running) {
      for (let k = 1 + ((i + s.written.length) % 2); k > 0; k--) {
        const time = Date.now();
        const _id = entryDocId(s.venueId, time, Math.random().toString(36).slice(2, 10).padEnd(8, '0'));
        await s.db.put({ _id, type: 'entry', schema: 1, venueId: s.venueId, communeCode: COMMUNE, time, direction: 'in', person: { source: 'manual', name: `Khách ${s.written.length + 1}`, phone: '0987654321' }, deviceId: `station-${i}` });
        s.written.push(_id);
      }
      try {
        const res = await s.db.replicate.to(s.remote);
        if (res.ok && res.doc_write_failures === 0) s.pushes++;
      } catch {
        // server or store down: the next round pushes again
      }
      await pause(250);
    }
  });
  const teamLoop = (async () => {
    while (running) {
      try {
        await teamReplica.replicate.from(teamRemote);
        teamPulls++;
      } catch {
        teamPullFailures++; // the same
      }
      await pause(200);
    }
  })();

  /** Until every station has pushed `more` times since now. */
  const progress = async (what: string, more: number) => {
    const from = stations.map((s) => s.pushes);
    await until(what, () => (stations.every((s, i) => s.pushes >= from[i]! + more) ? true : undefined), 600, 100);
  };

  const t0 = Date.now();
  const mark = (what: string) => console.log(`fault: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s, ${stations.reduce((n, s) => n + s.written.length, 0)} entries written, ${teamPulls} team pulls (${teamPullFailures} failed)`);
  try {
    await progress('the stations to push', 2);
    mark('server killed');

    // 1. The server process, killed: its store must end with it (no orphan holding the lock),
    //    and a new server on the same DATA_DIR and port takes over.
    const first = server!;
    const embedded = !env.COUCHDB_URL;
    const [storePid] = childrenOf(first.proc.pid!);
    if (embedded) expect(storePid).toBeTypeOf('number');
    first.proc.kill('SIGKILL');
    await first.exited;
    if (embedded) await until('the store to end with its server', () => (isRunning(storePid!) ? undefined : true), 100);
    server = await startServerProcess();
    mark('server answering again');
    await progress('the stations to push again after the server restart', 2);
    if (embedded) mark('store killed');

    // 2. The store process alone, killed: the server stays up and starts it again.
    if (embedded) {
      const [childPid] = childrenOf(server.proc.pid!);
      process.kill(childPid!, 'SIGKILL');
      await until('the store to be back', async () => {
        const [now] = childrenOf(server!.proc.pid!);
        return now !== undefined && now !== childPid && (await healthy()) ? true : undefined;
      });
      expect(server.proc.exitCode).toBeNull();
      mark('store answering again');
      await progress('the stations to push again after the store restart', 2);
    }
    mark('stations stopped');
  } finally {
    running = false;
    await Promise.all([...stationLoops, teamLoop]);
  }

  // Every station's last entries reach the server, and the team's replica catches up.
  for (const s of stations) {
    await until(`station ${s.venueId} to push all`, async () => {
      const res = await s.db.replicate.to(s.remote);
      return res.ok && res.doc_write_failures === 0 ? true : undefined;
    });
  }
  await until('the team to pull', async () => ((await teamReplica.replicate.from(teamRemote)).ok ? true : undefined));
  expect(teamPulls).toBeGreaterThan(0);
  mark('all pushed and pulled');

  const written = stations.flatMap((s) => s.written);
  expect(new Set(written).size).toBe(written.length);
  expect(written.length).toBeGreaterThan(STATIONS * 8);

  // On the server, as its change feed lists them to the team: each entry once, in revision 1
  // (a write taken twice would be a second revision or a conflict).
  const feed = await fetch(`${base}/sync/${DB_C}/_changes?style=all_docs`, { headers: { cookie: team.cookie } });
  expect(feed.status).toBe(200);
  const results = ((await feed.json()) as { results: { id: string; changes: { rev: string }[] }[] }).results.filter((r) => r.id.startsWith('entry:faultvn'));
  const seen = new Map<string, number>();
  for (const r of results) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  const doubled = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const lost = written.filter((id) => !seen.has(id));
  const unknown = [...seen.keys()].filter((id) => !written.includes(id));
  const notFirst = results.filter((r) => r.changes.length !== 1 || !r.changes[0]!.rev.startsWith('1-')).map((r) => r.id);
  expect({ lost, doubled, unknown, notFirst }).toEqual({ lost: [], doubled: [], unknown: [], notFirst: [] });
  expect(results.length).toBe(written.length);

  // The team's replica has them all, each once.
  const replica = (await teamReplica.allDocs({ startkey: 'entry:faultvn', endkey: 'entry:faultvn\ufff0' })).rows.map((r) => r.id);
  expect(replica.sort()).toEqual([...written].sort());
}, 180_000);
