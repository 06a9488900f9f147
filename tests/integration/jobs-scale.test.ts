/**
 * Background jobs with two server instances on one store (issue 14): venues pushed through both at
 * once are signed once each, an exposure event is published once, the retention and aggregates
 * passes run by both give what one gives, and work left by an instance killed mid-pass (its lease
 * held and never released) is finished by another. "Once" is counted in the store's revision trees,
 * not only in the final state: a venue pushed once and signed once has exactly two revisions and
 * one leaf; a second signature would be a third revision or a second leaf.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { Signer } from '../../server/signer';
import { loadKeyring } from '../../server/keys';
import { readConfig } from '../../server/config';
import { createUser } from '../../server/users';
import { purgeAll } from '../../server/retention';
import { AggregatesJob, aggDocId, type AggDoc } from '../../server/reports/aggregates';
import { Lease, readLease, sharedSchedule } from '../../server/shared/lease';
import { exposureDocId } from '../../server/publisher';
import { Store } from '../../server/store/couch';
import { dayKey, DAY } from '../../src/lib/core/time';
import { localDb, login, manualEntryDoc, register, remoteDb, venueDoc } from './sync-helpers';

const COMMUNE = '18070'; // the demo commune, province 42
const PROVINCE = '42';
const DEMO_VENUE = 'demochoducth';

let dataDir: string;
/** Holds the embedded store. */
let serverA: RunningServer;
/** A second instance on A's store, same data directory (same signing keys and session secret). */
let serverB: RunningServer;
let env: NodeJS.ProcessEnv;
let storeUrlA: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-jobs-'));
  env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none'), SESSION_SECRET: 'test-secret-jobs-scale-0123456789abcdef' };
  serverA = await startServer(await testServerConfig(env));
  storeUrlA = String((serverA.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  // On a CouchDB cluster, LV_TEST_COUCHDB_URL_B may name another node of it for B: the two
  // instances then talk to different coordinators, as behind a load balancer.
  const storeUrl = process.env.LV_TEST_COUCHDB_URL_B?.trim() || String((serverA.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  serverB = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl }));
}, 120_000);

afterAll(async () => {
  await serverB?.close();
  await serverA?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`${what}: not reached`);
}

interface Tree {
  leaves: number;
  /** revision number of the winning leaf: how many writes made it */
  depth: number;
  doc: Record<string, unknown> & { _revisions: { start: number; ids: string[] } };
}

/** A document's revision tree as the store holds it: how many leaves, and how deep the winner is. */
async function tree(store: Store, db: string, id: string): Promise<Tree | null> {
  const res = await store.request('GET', `${db}/${encodeURIComponent(id)}`, { query: new URLSearchParams({ open_revs: 'all', revs: 'true' }), });
  if (res.status === 404) return null;
  expect(res.status).toBe(200);
  const leaves = (res.body as { ok?: Tree['doc'] }[]).map((r) => r.ok).filter((d): d is Tree['doc'] => !!d && !d._deleted);
  if (!leaves.length) return null;
  const winner = leaves.sort((a, b) => b._revisions.start - a._revisions.start)[0]!;
  return { leaves: leaves.length, depth: winner._revisions.start, doc: winner };
}

async function storeDoc<T>(store: Store, db: string, id: string): Promise<T | null> {
  const res = await store.request('GET', `${db}/${encodeURIComponent(id)}`);
  return res.status === 200 ? (res.body as T) : null;
}

/** Whatever instance signs a commune is done with it: no pass holds or left its lease. */
async function signersIdle(): Promise<void> {
  await until('signer lease released', async () => (await readLease(serverA.store, `signer:${COMMUNE}`)) === null);
}

function keyring() {
  return loadKeyring(readConfig(env));
}

// A real cluster on a shared machine is slower than the embedded store: room for it.
describe('the signer and the publisher on two instances', { timeout: 60_000 }, () => {
  it('signs each venue pushed through both instances at once exactly once', async () => {
    const owners = await Promise.all([register(serverA.url, '0912700001'), register(serverB.url, '0912700002')]);
    const ids: string[][] = [[], []];
    const pushes = [serverA, serverB].map(async (server, i) => {
      const local = localDb();
      for (let n = 0; n < 8; n++) {
        const venueId = `scale${'ab'[i]}venue${'cdefghij'[n]}`;
        ids[i]!.push(venueId);
        await local.put(venueDoc(COMMUNE, venueId, `Quán số ${i}-${n}`, owners[i]!.userId));
      }
      const remote = remoteDb(server.url, `lv_c_${COMMUNE}`, owners[i]!.cookie);
      // Each owner pushes twice through its instance, so both instances wake several times.
      const first = await local.replicate.to(remote);
      expect(first.doc_write_failures).toBe(0);
      await local.put(venueDoc(COMMUNE, `scale${'ab'[i]}latexx`, `Quán muộn ${i}`, owners[i]!.userId));
      ids[i]!.push(`scale${'ab'[i]}latexx`);
      expect((await local.replicate.to(remote)).doc_write_failures).toBe(0);
    });
    await Promise.all(pushes);
    const all = ids.flat();
    await until('all venues signed', async () => {
      const docs = await Promise.all(all.map((id) => storeDoc<{ token?: string }>(serverA.store, `lv_c_${COMMUNE}`, `venue:${id}`)));
      return docs.every((d) => !!d?.token);
    });
    // The instance that found the commune busy tries again a second later: let it.
    await sleep(2_500);
    await signersIdle();
    for (const id of all) {
      const t = await tree(serverA.store, `lv_c_${COMMUNE}`, `venue:${id}`);
      expect(t, id).not.toBeNull();
      expect({ id, leaves: t!.leaves, depth: t!.depth }).toEqual({ id, leaves: 1, depth: 2 });
      expect(typeof t!.doc.signedAt).toBe('string');
    }
  });

  it('publishes an exposure event once while both instances pass over its commune', async () => {
    await createUser(serverA.store, { phone: '0912700010', password: 'mat-khau-dai', role: 'team', communes: [COMMUNE] });
    const [ca, cb] = await Promise.all([login(serverA.url, '0912700010', 'mat-khau-dai'), login(serverB.url, '0912700010', 'mat-khau-dai')]);
    const from = Date.now() - 2 * DAY;
    const draft = {
      _id: `exposure:${DEMO_VENUE}:evscale0001`,
      type: 'exposure',
      schema: 1,
      eventId: 'evscale0001',
      venueId: DEMO_VENUE,
      venueName: 'Chợ Đức Thọ',
      communeCode: COMMUNE,
      from,
      to: from + 2 * 3_600_000,
      widenMinutes: 60,
      level: 'high',
      message: 'Ca F0 có mặt tại chợ',
      advice: 'Cách ly tại nhà, gọi trạm y tế',
      contactPhone: '0239123456',
      state: 'published'
    };
    const la = localDb();
    const lb = localDb();
    await la.put(draft);
    // The same draft reaches B too (a second device of the team): both instances wake for it.
    await lb.put(draft);
    const [ra, rb] = await Promise.all([la.replicate.to(remoteDb(serverA.url, `lv_c_${COMMUNE}`, ca.cookie)), lb.replicate.to(remoteDb(serverB.url, `lv_c_${COMMUNE}`, cb.cookie))]);
    expect(ra.doc_write_failures + rb.doc_write_failures).toBe(0);
    const id = exposureDocId(PROVINCE, 'evscale0001');
    await until('event published', () => storeDoc(serverA.store, 'lv_exposures', id));
    await sleep(2_500);
    await signersIdle();
    const t = await tree(serverA.store, 'lv_exposures', id);
    expect({ leaves: t!.leaves, depth: t!.depth }).toEqual({ leaves: 1, depth: 1 });
    expect((t!.doc.signed as { event: { version: number } }).event.version).toBe(1);
  });

  it('an instance woken while another signs the commune signs once the other lets go', async () => {
    const owner = await register(serverB.url, '0912700003');
    const other = new Lease(serverA.store, `signer:${COMMUNE}`, { holder: 'another-instance' });
    expect(await other.acquire()).not.toBe(false);
    const local = localDb();
    await local.put(venueDoc(COMMUNE, 'scalebusyvnu', 'Quán chờ', owner.userId));
    expect((await local.replicate.to(remoteDb(serverB.url, `lv_c_${COMMUNE}`, owner.cookie))).doc_write_failures).toBe(0);
    // B was woken and found the commune held: it keeps its hands off while the lease is held.
    await sleep(1_500);
    expect((await storeDoc<{ token?: string }>(serverA.store, `lv_c_${COMMUNE}`, 'venue:scalebusyvnu'))?.token).toBeUndefined();
    await other.release({ done: true, remove: true });
    await until('signed after release', async () => !!(await storeDoc<{ token?: string }>(serverA.store, `lv_c_${COMMUNE}`, 'venue:scalebusyvnu'))?.token);
    await signersIdle();
    const t = await tree(serverA.store, `lv_c_${COMMUNE}`, 'venue:scalebusyvnu');
    expect({ leaves: t!.leaves, depth: t!.depth }).toEqual({ leaves: 1, depth: 2 });
  });

  it('signs a venue whose instance stored it and died before its own pass could run', async () => {
    // C takes the push; the commune is held by another instance's pass (one that read its venues
    // before the push), so C's pass must wait; C dies meanwhile. The other pass then ends, done.
    const serverC = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrlA }));
    const other = new Lease(serverA.store, `signer:${COMMUNE}`, { holder: 'another-instance' });
    try {
      expect(await other.acquire()).not.toBe(false);
      const owner = await register(serverC.url, '0912700004');
      const local = localDb();
      await local.put(venueDoc(COMMUNE, 'scaleorphan2', 'Quán mồ côi', owner.userId));
      expect((await local.replicate.to(remoteDb(serverC.url, `lv_c_${COMMUNE}`, owner.cookie))).doc_write_failures).toBe(0);
    } finally {
      await serverC.close();
    }
    await other.release({ done: true, remove: true });
    const db = `lv_c_${COMMUNE}`;
    expect((await storeDoc<{ token?: string }>(serverA.store, db, 'venue:scaleorphan2'))?.token).toBeUndefined();
    // What C left behind says the commune wants a pass.
    expect(await storeDoc(serverA.store, 'lv_jobs', `want:signer:${COMMUNE}`)).toMatchObject({ type: 'want', name: `signer:${COMMUNE}` });

    // Another instance's recovery (every minute in a server) takes it up; nothing else would.
    const survivor = new Signer(serverB.store, keyring(), () => {}, { recoverEveryMs: 200, skewMs: 200, wantGraceMs: 0 });
    survivor.startRecovery();
    try {
      await until('orphaned venue signed', async () => !!(await storeDoc<{ token?: string }>(serverA.store, db, 'venue:scaleorphan2'))?.token);
      await signersIdle();
      await until('want cleared', async () => (await storeDoc(serverA.store, 'lv_jobs', `want:signer:${COMMUNE}`)) === null);
    } finally {
      survivor.stop();
    }
    const t = await tree(serverA.store, db, 'venue:scaleorphan2');
    expect({ leaves: t!.leaves, depth: t!.depth }).toEqual({ leaves: 1, depth: 2 });
  });

  it("finishes the pass of an instance killed mid-pass, once its lease has expired", async () => {
    // What a killed instance leaves: its lease, pending, never released; venues it had not signed
    // yet (written straight to the store: nobody is woken for them); one it had signed.
    const dead = new Lease(serverA.store, `signer:${COMMUNE}`, { holder: 'killed-instance', ttlMs: 1_500 });
    expect(await dead.acquire()).not.toBe(false);
    const db = `lv_c_${COMMUNE}`;
    const docs = [venueDoc(COMMUNE, 'scalekillaaa', 'Quán A'), venueDoc(COMMUNE, 'scalekillbbb', 'Quán B'), { ...venueDoc(COMMUNE, 'scalekillccc', 'Quán C'), status: 'suspended', suspendedBy: 'team' }];
    const res = await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs } });
    expect(res.status).toBe(201);

    // The surviving instance's signer, looking for unfinished passes often (a minute in a server).
    const survivor = new Signer(serverB.store, keyring(), () => {}, { recoverEveryMs: 200, skewMs: 200 });
    survivor.startRecovery();
    try {
      await until('killed pass finished', async () => {
        const venues = await Promise.all(['scalekillaaa', 'scalekillbbb', 'scalekillccc'].map((id) => storeDoc<{ token?: string }>(serverA.store, db, `venue:${id}`)));
        return venues.every((v) => !!v?.token) && !!(await storeDoc(serverA.store, 'lv_directory', 'revoked:scalekillccc'));
      });
      await signersIdle();
    } finally {
      survivor.stop();
    }
    for (const id of ['scalekillaaa', 'scalekillbbb', 'scalekillccc']) {
      const t = await tree(serverA.store, db, `venue:${id}`);
      expect({ id, leaves: t!.leaves, depth: t!.depth }).toEqual({ id, leaves: 1, depth: 2 });
    }
    const revoked = await tree(serverA.store, 'lv_directory', 'revoked:scalekillccc');
    expect({ leaves: revoked!.leaves, depth: revoked!.depth }).toEqual({ leaves: 1, depth: 1 });
  });
});

/** Yesterday at 10:00 Vietnam time, and an old day past any retention period. */
const yesterdayAt = (minute: number) => Date.parse(`${dayKey(Date.now() - DAY)}T10:00:00+07:00`) + minute * 60_000;
const OLD = Date.now() - 40 * DAY;

async function entryIds(store: Store): Promise<string[]> {
  return ((await store.docsByPrefix<{ _id: string }>(`lv_c_${COMMUNE}`, 'entry:')) ?? []).map((d) => d._id).sort();
}

describe('the signer after a store outage', { timeout: 60_000 }, () => {
  it('tries a failed pass again with backoff until the store answers', async () => {
    // A door to the store that can be shut: shut, every call fails as in an outage.
    const target = new URL(storeUrlA);
    let open = false;
    const proxy = net.createServer((client) => {
      if (!open) return void client.destroy();
      const upstream = net.connect(Number(target.port), target.hostname);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const door = new URL(storeUrlA);
    door.host = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const db = `lv_c_${COMMUNE}`;
    expect((await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs: [venueDoc(COMMUNE, 'scaleoutagex', 'Quán mất điện')] } })).status).toBe(201);

    const logs: string[] = [];
    const signer = new Signer(new Store(door.href), keyring(), (msg) => logs.push(msg));
    try {
      signer.wake(COMMUNE, 0);
      await until('two failed passes', async () => logs.length >= 2);
      expect(logs[0]).toMatch(/not reachable.*trying again in 1 s$/);
      expect(logs[1]).toMatch(/trying again in 2 s$/);
      // Nothing identifying in what it says: no venue id.
      expect(logs.join('\n')).not.toMatch(/scaleoutagex/);
      open = true;
      await until('signed once the store is back', async () => !!(await storeDoc<{ token?: string }>(serverA.store, db, 'venue:scaleoutagex'))?.token);
    } finally {
      signer.stop();
      proxy.close();
    }
    await signersIdle();
    const t = await tree(serverA.store, db, 'venue:scaleoutagex');
    expect({ leaves: t!.leaves, depth: t!.depth }).toEqual({ leaves: 1, depth: 2 });
  });
});

describe('retention on two instances', { timeout: 60_000 }, () => {
  it('purges once at a time, and two purges at once leave what one leaves', async () => {
    const db = `lv_c_${COMMUNE}`;
    const old = Array.from({ length: 30 }, (_, i) => manualEntryDoc(COMMUNE, DEMO_VENUE, OLD + i * 60_000, 'Khách cũ', `ro${i}`));
    const fresh = Array.from({ length: 5 }, (_, i) => manualEntryDoc(COMMUNE, DEMO_VENUE, yesterdayAt(i), 'Khách mới', `rf${i}`));
    expect((await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs: [...old, ...fresh] } })).status).toBe(201);
    const before = await entryIds(serverA.store);
    const kept = before.filter((id) => !old.some((d) => d._id === id));

    // Two instances' schedules asked at once: never two purges together.
    let active = 0;
    let most = 0;
    const runs: string[] = [];
    const schedules = [serverA, serverB].map((s, i) =>
      sharedSchedule(s.store, 'retention', {
        everyMs: 6 * 3_600_000,
        checkMs: 3_600_000,
        log: () => {},
        run: async () => {
          active++;
          most = Math.max(most, active);
          runs.push(String(i));
          try {
            await purgeAll(s.store, 21, () => {});
          } finally {
            active--;
          }
        }
      })
    );
    await Promise.all(schedules.map((s) => s.runNow()));
    for (const s of schedules) s.stop();
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(most).toBe(1);
    expect(await entryIds(serverA.store)).toEqual(kept);

    // Without the lease (a purge that outlived it): both at once, same result, no error.
    await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs: old } });
    await Promise.all([purgeAll(serverA.store, 21, () => {}), purgeAll(serverB.store, 21, () => {})]);
    expect(await entryIds(serverA.store)).toEqual(kept);
  });

  it('a purge left unfinished by a killed instance is run by another once the lease expires', async () => {
    const db = `lv_c_${COMMUNE}`;
    const old = Array.from({ length: 5 }, (_, i) => manualEntryDoc(COMMUNE, DEMO_VENUE, OLD + i * 60_000, 'Khách cũ', `rk${i}`));
    await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs: old } });
    // The lease says: a purge finished a moment ago (so nobody is due), then one started and was killed.
    const dead = new Lease(serverA.store, 'retention', { holder: 'killed-instance', ttlMs: 1_000 });
    expect(await dead.acquire()).not.toBe(false);
    let ran = 0;
    const survivor = sharedSchedule(serverB.store, 'retention', {
      everyMs: 6 * 3_600_000,
      checkMs: 200,
      skewMs: 200,
      log: () => {},
      run: async () => {
        ran++;
        await purgeAll(serverB.store, 21, () => {});
      }
    });
    try {
      await until('purge taken over', async () => ran > 0 && (await readLease(serverA.store, 'retention'))?.pending === false);
    } finally {
      survivor.stop();
    }
    expect((await entryIds(serverA.store)).some((id) => old.some((d) => d._id === id))).toBe(false);
  });
});

async function aggDocs(store: Store): Promise<Map<string, unknown>> {
  const docs = (await store.docsByPrefix<AggDoc>('lv_reports', 'agg:')) ?? [];
  return new Map(docs.map((d) => [d._id, [d.figures, d.children, d.active]]));
}

describe('aggregates on two instances', { timeout: 60_000 }, () => {
  it('passes run by both at once give the figures one pass gives', async () => {
    const db = `lv_c_${COMMUNE}`;
    const day = dayKey(yesterdayAt(0));
    const jobs = [new AggregatesJob(serverA.store, { retentionDays: 21 }), new AggregatesJob(serverB.store, { retentionDays: 21 })];
    await Promise.all(jobs.map((j) => j.run()));
    const base = ((await storeDoc<AggDoc>(serverA.store, 'lv_reports', aggDocId(COMMUNE, day)))?.figures.entries ?? 0);

    for (let round = 0; round < 4; round++) {
      const docs = Array.from({ length: 6 }, (_, i) => manualEntryDoc(COMMUNE, DEMO_VENUE, yesterdayAt(100 + round * 10 + i), 'Khách', `ag${round}-${i}`));
      expect((await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs } })).status).toBe(201);
      await Promise.all([jobs[0]!.run(), jobs[1]!.run(), jobs[0]!.run(), jobs[1]!.run()]);
    }
    // Whichever instance passed last, one more pass by each reads everything up to now.
    await jobs[0]!.run();
    await jobs[1]!.run();
    const agg = await storeDoc<AggDoc>(serverA.store, 'lv_reports', aggDocId(COMMUNE, day));
    expect(agg?.figures.entries).toBe(base + 24);
    const incremental = await aggDocs(serverA.store);

    // One instance rebuilding from the commune databases alone gives the same documents.
    expect(await jobs[1]!.rebuild()).not.toBeNull();
    expect(await aggDocs(serverA.store)).toEqual(incremental);
    for (const j of jobs) j.stop();
  });

  it("a pass of an instance killed mid-pass is taken up by another once the lease expires", async () => {
    const db = `lv_c_${COMMUNE}`;
    const day = dayKey(yesterdayAt(0));
    const job = new AggregatesJob(serverB.store, { retentionDays: 21, leaseSkewMs: 200 });
    await until('a pass', () => job.run());
    const before = (await storeDoc<AggDoc>(serverA.store, 'lv_reports', aggDocId(COMMUNE, day)))!.figures.entries;
    const docs = Array.from({ length: 3 }, (_, i) => manualEntryDoc(COMMUNE, DEMO_VENUE, yesterdayAt(300 + i), 'Khách', `ak${i}`));
    await serverA.store.request('POST', `${db}/_bulk_docs`, { body: { docs } });
    const dead = new Lease(serverA.store, 'aggregates', { holder: 'killed-instance', ttlMs: 3_000 });
    expect(await dead.acquire()).not.toBe(false);
    // Held: the other instance does not pass.
    expect(await job.run()).toBeNull();
    await until('pass after expiry', () => job.run());
    expect((await storeDoc<AggDoc>(serverA.store, 'lv_reports', aggDocId(COMMUNE, day)))!.figures.entries).toBe(before + 3);
    job.stop();
  });
});
