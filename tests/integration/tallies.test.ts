/**
 * `POST /api/tallies` on real servers over the embedded store: exact totals under concurrent
 * senders (two server instances writing the same documents), duplicates counted once, clear 4xx,
 * unknown venues ignored, per-client and per-venue limits, and nothing in `lv_reports` that points
 * at a sender. Senders post from distinct loopback addresses (127.0.x.y), as phones come from
 * different addresses; the per-client limit counts per address.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { Store } from '../../server/store/couch';
import { clientOf, registerTallies, TallyWriter, type Contribution } from '../../server/tallies';
import { runAggregatesNow } from '../../server/reports/aggregates';
import { TALLY_BODY_LIMIT, tallyDocId, type TallyDoc, type TallyReport } from '../../src/lib/core/citizen/tally';
import { DAY, dayKey } from '../../src/lib/core/time';

const COMMUNE = '18070';
let dataDir: string;
/** Holds the embedded store; per-client limit 6 a minute (a burst of 60). */
let serverA: RunningServer;
/** A second instance on A's store: both write the same tally documents. */
let serverB: RunningServer;
/** A third instance on the same store with a tiny per-venue limit: 1 count a minute (a burst of 10). */
let serverC: RunningServer;
/** A fourth instance like C: the per-venue limit must hold across C and D together. */
let serverD: RunningServer;
let storeUrl: string;
let venueIds: string[];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-tally-'));
  const env = { PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: path.join(dataDir, 'none') };
  serverA = await startServer(await testServerConfig({ ...env, TALLY_CLIENT_PER_MINUTE: '6', TALLY_VENUE_PER_MINUTE: '100000' }));
  storeUrl = String((serverA.store.couch as unknown as { config: { url: string } }).config.url).replace(/\/+$/, '');
  serverB = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, TALLY_CLIENT_PER_MINUTE: '6', TALLY_VENUE_PER_MINUTE: '100000' }));
  serverC = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, TALLY_VENUE_PER_MINUTE: '1' }));
  serverD = await startServer(await testServerConfig({ ...env, COUCHDB_URL: storeUrl, TALLY_VENUE_PER_MINUTE: '1' }));
  venueIds = serverA.demoVenues.map((v) => v.venueId);
  expect(venueIds.length).toBeGreaterThanOrEqual(5);
});

afterAll(async () => {
  await serverD?.close();
  await serverC?.close();
  await serverB?.close();
  await serverA?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** POSTs from a given loopback address (node's fetch cannot choose its source address). */
function post(base: string, body: string, from: string, contentType = 'application/json'): Promise<{ status: number; json: Record<string, unknown>; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, path: '/api/tallies', method: 'POST', localAddress: from, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {}, headers: res.headers }));
      }
    );
    req.on('error', reject);
    req.end(body);
  });
}

const send = (base: string, report: unknown, from: string) => post(base, JSON.stringify(report), from);

/** Deterministic randomness: a failure reproduces. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let batchCounter = 0;
/** Every batch id sent, to look for in the store. */
const batchesMade = new Set<string>();
function batchId(): string {
  const batch = `t${Date.now().toString(36)}${(++batchCounter).toString(36).padStart(6, '0')}`.padEnd(16, '0');
  batchesMade.add(batch);
  return batch;
}

/** A complete day `k` days ago (1 = yesterday) in Vietnam. */
const daysAgo = (k: number) => dayKey(Date.now() - k * DAY);

function tally(days: { day: string; venues: { venueId: string; count: number; communeCode?: string }[] }[], batch = batchId()): TallyReport {
  return {
    format: 'luu-vet-tally',
    version: 1,
    batch,
    days: days.map((d) => ({ day: d.day, venues: d.venues.map((v) => ({ communeCode: COMMUNE, ...v })) }))
  };
}

async function allTallyDocs(): Promise<Map<string, TallyDoc>> {
  const docs = (await serverA.store.docsByPrefix<TallyDoc>('lv_reports', 'tally:')) ?? [];
  return new Map(docs.map((d) => [d._id, d]));
}

/** Counts per `docId|venueId` added since `before`. */
function delta(before: Map<string, TallyDoc>, after: Map<string, TallyDoc>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, doc] of after)
    for (const [venueId, n] of Object.entries(doc.venues)) {
      const d = n - (before.get(id)?.venues[venueId] ?? 0);
      if (d) out.set(`${id}|${venueId}`, d);
    }
  return out;
}

describe('anonymous tallies', () => {
  it('adds 20 concurrent senders × 40 reports, on two server instances, exactly', async () => {
    const before = await allTallyDocs();
    const expected = new Map<string, number>();
    const reportsPerDoc = new Map<string, number>();
    const random = prng(20210820);
    const senders = Array.from({ length: 20 }, (_, i) => i);
    let accepted = 0;
    await Promise.all(
      senders.map(async (i) => {
        const base = i % 2 ? serverB.url : serverA.url;
        for (let r = 0; r < 40; r++) {
          // Several days × several demo venues, as a phone's week looks.
          const days = [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => 1 + Math.floor(random() * 7)))].map((k) => ({
            day: daysAgo(k),
            venues: [...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => venueIds[Math.floor(random() * venueIds.length)]!))].map((venueId) => ({
              venueId,
              count: 1 + Math.floor(random() * 5)
            }))
          }));
          const report = tally(days);
          const res = await send(base, report, `127.0.1.${i + 1}`);
          expect(res.status, JSON.stringify(res.json)).toBe(200);
          const sum = days.reduce((s, d) => s + d.venues.reduce((a, v) => a + v.count, 0), 0);
          expect(res.json).toMatchObject({ ok: true, accepted: sum, ignored: 0, duplicate: false });
          accepted += sum;
          for (const d of days) {
            const docId = tallyDocId(COMMUNE, d.day);
            reportsPerDoc.set(docId, (reportsPerDoc.get(docId) ?? 0) + 1);
            for (const v of d.venues) expected.set(`${docId}|${v.venueId}`, (expected.get(`${docId}|${v.venueId}`) ?? 0) + v.count);
          }
        }
      })
    );
    const after = await allTallyDocs();
    expect(delta(before, after)).toEqual(expected);
    expect([...expected.values()].reduce((a, b) => a + b, 0)).toBe(accepted);
    for (const [docId, n] of reportsPerDoc) expect(after.get(docId)!.reports - (before.get(docId)?.reports ?? 0)).toBe(n);
  });

  it('counts a batch once, also when the same report arrives twice at the same moment', async () => {
    const before = await allTallyDocs();
    const report = tally([{ day: daysAgo(10), venues: [{ venueId: venueIds[0]!, count: 3 }] }]);
    const first = await send(serverA.url, report, '127.0.3.1');
    expect(first.json).toMatchObject({ ok: true, accepted: 3, duplicate: false });
    const again = await send(serverA.url, report, '127.0.3.2');
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ ok: true, accepted: 3, duplicate: true });

    const twin = tally([{ day: daysAgo(10), venues: [{ venueId: venueIds[1]!, count: 2 }] }]);
    const both = await Promise.all([send(serverA.url, twin, '127.0.3.3'), send(serverA.url, twin, '127.0.3.4')]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    expect(both.map((r) => r.json.duplicate).sort()).toEqual([false, true]);

    expect(delta(before, await allTallyDocs())).toEqual(
      new Map([
        [`${tallyDocId(COMMUNE, daysAgo(10))}|${venueIds[0]}`, 3],
        [`${tallyDocId(COMMUNE, daysAgo(10))}|${venueIds[1]}`, 2]
      ])
    );
  });

  it('counts a report once when it is sent again to another server, or after a restart', async () => {
    const before = await allTallyDocs();
    const report = tally([
      { day: daysAgo(11), venues: [{ venueId: venueIds[0]!, count: 2 }] },
      { day: daysAgo(12), venues: [{ venueId: venueIds[1]!, count: 5 }] }
    ]);
    expect((await send(serverA.url, report, '127.0.3.5')).json).toMatchObject({ ok: true, accepted: 7, duplicate: false });
    // The answer was lost; the phone's retry reaches B, which never saw this batch.
    expect((await send(serverB.url, report, '127.0.3.5')).json).toMatchObject({ ok: true, accepted: 7, duplicate: true });
    // (B has no memory of A's batches, as A itself has none after a restart: the document decides.)
    // Without the shared secret the ids differ, and a report is counted twice: what this test catches.
    const stranger = Fastify();
    await stranger.register(async (api) => void registerTallies(api, new Store(storeUrl), { clientReportsPerMinute: 60, venueCountsPerMinute: 1200, secret: new Uint8Array(32) }), { prefix: '/api' });
    const other = tally([{ day: daysAgo(11), venues: [{ venueId: venueIds[2]!, count: 1 }] }]);
    await stranger.inject({ method: 'POST', url: '/api/tallies', payload: other });
    expect((await stranger.inject({ method: 'POST', url: '/api/tallies', payload: other })).json()).toMatchObject({ duplicate: true }); // its own memory
    expect((await send(serverA.url, other, '127.0.3.6')).json).toMatchObject({ duplicate: false }); // counted twice
    await stranger.close();
    expect(delta(before, await allTallyDocs())).toEqual(
      new Map([
        [`${tallyDocId(COMMUNE, daysAgo(11))}|${venueIds[0]}`, 2],
        [`${tallyDocId(COMMUNE, daysAgo(12))}|${venueIds[1]}`, 5],
        [`${tallyDocId(COMMUNE, daysAgo(11))}|${venueIds[2]}`, 2]
      ])
    );
  });

  it('folds revisions left in conflict (two servers writing through different cluster nodes) into one, and deletes them', async () => {
    const day = daysAgo(18);
    const docId = tallyDocId(COMMUNE, day);
    const writer = new TallyWriter(new Store(storeUrl), { venueDayMax: 100_000 });
    const c = (id: string, venue: string, n: number): Contribution => ({ id, docId, communeCode: COMMUNE, day, counts: new Map([[venue, n]]) });
    expect(await writer.add([c('parent00001', venueIds[0]!, 1)])).toBeNull();
    const parent = (await allTallyDocs()).get(docId)!;
    // Two revisions made from the same parent, as a cluster keeps them when two writes reach
    // different nodes first: written with new_edits=false, the way nodes replicate to each other.
    const sibling = (suffix: string, id: string, venue: string, n: number): TallyDoc => ({
      ...parent,
      _rev: `2-${suffix.repeat(32)}`,
      venues: { ...parent.venues, [venue]: (parent.venues[venue] ?? 0) + n },
      reports: parent.reports + 1,
      seen: (parent.seen ?? '') + id,
      recent: { ...parent.recent, [id]: { at: Date.now(), venues: { [venue]: n } } }
    });
    const a = sibling('a', 'branchA0001', venueIds[1]!, 4);
    const b = sibling('b', 'branchB0001', venueIds[2]!, 6);
    const withHistory = (d: TallyDoc) => ({ ...d, _revisions: { start: 2, ids: [d._rev!.slice(2), parent._rev!.split('-')[1]] } });
    const forked = await serverA.store.request('POST', 'lv_reports/_bulk_docs', { body: { new_edits: false, docs: [withHistory(a), withHistory(b)] } });
    expect(forked.status).toBe(201);
    const read = await serverA.store.request('GET', `lv_reports/${encodeURIComponent(docId)}`, { query: new URLSearchParams({ conflicts: 'true' }) });
    expect((read.body as TallyDoc)._conflicts).toHaveLength(1);

    // A new report on the document: the writer folds the loser in, adds the report, deletes the loser.
    expect(await writer.add([c('afterfork01', venueIds[0]!, 2)])).toBeNull();
    const merged = (await serverA.store.request('GET', `lv_reports/${encodeURIComponent(docId)}`, { query: new URLSearchParams({ conflicts: 'true' }) })).body as TallyDoc;
    expect(merged._conflicts ?? []).toEqual([]);
    expect(merged.venues).toEqual({ [venueIds[0]!]: 3, [venueIds[1]!]: 4, [venueIds[2]!]: 6 });
    expect(merged.reports).toBe(4);

    // A conflict on a document no report touches any more is folded by a check (the aggregates'
    // pass asks for one when it meets a conflict).
    const again = sibling('c', 'branchC0001', venueIds[3]!, 5);
    await serverA.store.request('POST', 'lv_reports/_bulk_docs', { body: { new_edits: false, docs: [withHistory(again)] } });
    expect(await writer.check([docId])).toBeNull();
    const after = (await serverA.store.request('GET', `lv_reports/${encodeURIComponent(docId)}`, { query: new URLSearchParams({ conflicts: 'true' }) })).body as TallyDoc;
    expect(after._conflicts ?? []).toEqual([]);
    // branchC's parent is the first revision: what it shares with the winner (parent00001) counts once.
    expect(after.venues).toEqual({ [venueIds[0]!]: 3, [venueIds[1]!]: 4, [venueIds[2]!]: 6, [venueIds[3]!]: 5 });
    writer.close();

    // With no writer around at all (the server that forked it died), the aggregates' pass over the
    // tallies' changes meets the fork and folds it.
    const late = sibling('d', 'branchD0001', venueIds[4]!, 2);
    await serverA.store.request('POST', 'lv_reports/_bulk_docs', { body: { new_edits: false, docs: [withHistory(late)] } });
    await runAggregatesNow();
    const folded = (await serverA.store.request('GET', `lv_reports/${encodeURIComponent(docId)}`, { query: new URLSearchParams({ conflicts: 'true' }) })).body as TallyDoc;
    expect(folded._conflicts ?? []).toEqual([]);
    expect(folded.venues).toEqual({ [venueIds[0]!]: 3, [venueIds[1]!]: 4, [venueIds[2]!]: 6, [venueIds[3]!]: 5, [venueIds[4]!]: 2 });
  });

  it('answers malformed JSON, schema violations and oversized bodies with clear 4xx', async () => {
    const from = '127.0.4.1';
    const malformed = await post(serverA.url, '{"format":', from);
    expect(malformed.status).toBe(400);
    expect(malformed.json.reason).toMatch(/malformed/);

    const notJson = await post(serverA.url, 'hello', from, 'text/plain');
    expect(notJson.status).toBe(415);
    expect(notJson.json.reason).toMatch(/application\/json/);

    const overCount = await send(serverA.url, tally([{ day: daysAgo(1), venues: [{ venueId: venueIds[0]!, count: 49 }] }]), from);
    expect(overCount.status).toBe(400);
    expect(overCount.json).toMatchObject({ error: 'bad_tally', reason: expect.stringMatching(/count.*at most 48/) });

    const today = await send(serverA.url, tally([{ day: dayKey(Date.now() + 2 * 3600_000), venues: [{ venueId: venueIds[0]!, count: 1 }] }]), from);
    expect(today.status).toBe(400);
    expect(today.json.reason).toMatch(/not over yet/);

    const withId = await send(serverA.url, { ...tally([{ day: daysAgo(1), venues: [{ venueId: venueIds[0]!, count: 1 }] }]), deviceId: 'phone-123' }, from);
    expect(withId.status).toBe(400);

    const huge = await post(serverA.url, JSON.stringify({ ...tally([]), padding: 'x'.repeat(TALLY_BODY_LIMIT) }), from);
    expect(huge.status).toBe(413);
    expect(huge.json.reason).toMatch(/too large/);
  });

  it('ignores counts for venues that are not active venues of the named commune, and says so', async () => {
    const before = await allTallyDocs();
    const day = daysAgo(11);
    const res = await send(
      serverA.url,
      tally([
        {
          day,
          venues: [
            { venueId: venueIds[0]!, count: 2 },
            { venueId: 'zzzzzzzzzzzz', count: 5 },
            // a real demo venue, claimed for another commune (no database there)
            { venueId: venueIds[1]!, communeCode: '99998', count: 4 }
          ]
        }
      ]),
      '127.0.5.1'
    );
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: 2, ignored: 9, ignoredBy: { unknownVenue: 9, venueLimit: 0, venueDayFull: 0 } });
    expect((res.json.unknownVenues as string[]).sort()).toEqual([venueIds[1], 'zzzzzzzzzzzz'].sort());
    expect(delta(before, await allTallyDocs())).toEqual(new Map([[`${tallyDocId(COMMUNE, day)}|${venueIds[0]}`, 2]]));
    const all = await allTallyDocs();
    expect(all.has(tallyDocId('99998', day))).toBe(false);
  });

  it('limits reports per client address with 429, and leaves other addresses alone', async () => {
    const from = '127.0.6.1';
    // The limit counts requests before their bodies are read: invalid ones count too.
    for (let i = 0; i < 60; i++) expect((await post(serverA.url, '{}', from)).status).toBe(400);
    const limited = await send(serverA.url, tally([{ day: daysAgo(1), venues: [{ venueId: venueIds[0]!, count: 1 }] }]), from);
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ error: 'too_many_reports', reason: expect.stringMatching(/try again/) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const neighbour = await send(serverA.url, tally([{ day: daysAgo(1), venues: [{ venueId: venueIds[0]!, count: 1 }] }]), '127.0.6.2');
    expect(neighbour.status).toBe(200);
  });

  it('one address adds no more than is plausible to a venue-day, however fast it sends', async () => {
    const venueId = venueIds[4]!;
    const day = daysAgo(14);
    const from = '127.0.8.1';
    let accepted = 0;
    let capped = 0;
    // 40 reports of 48 check-ins each (1,920): the per-minute limits alone would let them all through.
    for (let i = 0; i < 40; i++) {
      const res = await send(serverA.url, tally([{ day, venues: [{ venueId, count: 48 }] }]), from);
      expect(res.status).toBe(200);
      accepted += res.json.accepted as number;
      capped += (res.json.ignoredBy as { clientVenueDay: number }).clientVenueDay;
    }
    expect(accepted).toBe(300);
    expect(capped).toBe(40 * 48 - 300);
    // Another address, another venue or another day is not held back by it.
    expect((await send(serverA.url, tally([{ day, venues: [{ venueId, count: 5 }] }]), '127.0.8.2')).json).toMatchObject({ accepted: 5 });
    expect((await send(serverA.url, tally([{ day: daysAgo(15), venues: [{ venueId, count: 5 }] }]), from)).json).toMatchObject({ accepted: 5 });
  });

  it('caps the counts one venue takes per minute, and reports the rest as ignored', async () => {
    const venueId = venueIds[2]!;
    const first = await send(serverC.url, tally([{ day: daysAgo(12), venues: [{ venueId, count: 8 }] }]), '127.0.7.1');
    expect(first.json).toMatchObject({ accepted: 8, ignored: 0 });
    const second = await send(serverC.url, tally([{ day: daysAgo(13), venues: [{ venueId, count: 8 }, { venueId: venueIds[3]!, count: 1 }] }]), '127.0.7.2');
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ accepted: 3, ignored: 6, ignoredBy: { venueLimit: 6 } });
  });

  it('holds the per-venue limit across server instances: reports spread over two count as one', async () => {
    const venueId = venueIds[4]!;
    const day = daysAgo(11);
    let accepted = 0;
    let paced = 0;
    const reports: TallyReport[] = [];
    // Sent in turn to C and D, each from its own address: each instance alone would take 10.
    for (let i = 0; i < 6; i++) {
      const report = tally([{ day, venues: [{ venueId, count: 4 }] }]);
      reports.push(report);
      const res = await send((i % 2 ? serverD : serverC).url, report, `127.0.9.${i + 1}`);
      expect(res.status).toBe(200);
      expect(res.json.accepted).toBe([4, 4, 2, 0, 0, 0][i]);
      accepted += res.json.accepted as number;
      paced += (res.json.ignoredBy as { venueLimit: number }).venueLimit;
    }
    expect(accepted).toBe(10);
    expect(paced).toBe(24 - 10);
    expect((await allTallyDocs()).get(tallyDocId(COMMUNE, day))?.venues[venueId]).toBe(10);
    // The third report, whose answer a phone lost, sent again to the other instance: it is told
    // what was stored then (2, and 2 over the pace), and nothing more is added.
    const again = await send(serverD.url, reports[2], '127.0.9.3');
    expect(again.json).toMatchObject({ duplicate: true, accepted: 2, ignored: 2, ignoredBy: { venueLimit: 2 } });
    expect((await allTallyDocs()).get(tallyDocId(COMMUNE, day))?.venues[venueId]).toBe(10);
  });

  it('stores counts only: no address, no batch id, nothing else', async () => {
    const res = await serverA.store.request('GET', 'lv_reports/_all_docs', { query: new URLSearchParams({ include_docs: 'true' }) });
    const rows = (res.body as { rows: { id: string; doc: Record<string, unknown> }[] }).rows;
    expect(rows.length).toBeGreaterThan(0);
    const text = JSON.stringify(rows);
    expect(text).not.toMatch(/127\.0\.|::1|batch/);
    expect(batchesMade.size).toBeGreaterThan(100);
    for (const batch of batchesMade) expect(text).not.toContain(batch);
    for (const { id, doc } of rows) {
      if (!id.startsWith('tally:')) continue;
      expect(Object.keys(doc).sort()).toEqual(['_id', '_rev', 'communeCode', 'day', 'recent', 'reports', 'schema', 'seen', 'type', 'venues']);
      // Contribution ids: HMACs of 11 characters, unlinkable across documents.
      expect(doc.seen).toMatch(/^([A-Za-z0-9_-]{11})+$/);
      for (const [cid, entry] of Object.entries(doc.recent as Record<string, unknown>)) {
        expect(cid).toMatch(/^[A-Za-z0-9_-]{11}$/);
        // `first`: a contribution folded in from a forked revision (the fork tests above).
        expect(['at,venues', 'at,first,venues']).toContain(Object.keys(entry as object).sort().join());
      }
    }
  });

  it('groups IPv6 clients by their /64 and IPv4 by address', () => {
    expect(clientOf('203.113.1.2')).toBe('203.113.1.2');
    expect(clientOf('::ffff:203.113.1.2')).toBe('203.113.1.2');
    expect(clientOf('2001:ee0:4f1a:12:a:b:c:d')).toBe(clientOf('2001:0ee0:4f1a:0012::1'));
    expect(clientOf('2001:ee0::1')).toBe('2001:ee0:0:0::/64');
    expect(clientOf('2001:ee0:4f1a:12::1')).not.toBe(clientOf('2001:ee0:4f1a:13::1'));
  });
});

describe('tally writes when the store fails', () => {
  it('recognises a write whose answer was lost, and does not add it twice', async () => {
    // A real HTTP hop in front of the store that forwards the first `_bulk_docs` and then drops
    // the connection instead of answering: the write landed, the writer does not know.
    let dropped = 0;
    const target = new URL(storeUrl);
    const proxy = http.createServer((req, res) => {
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
        const chunks: Uint8Array[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(new Uint8Array(c)));
        upRes.on('end', () => {
          if (req.url?.includes('_bulk_docs') && dropped === 0) {
            dropped++;
            res.socket?.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(Buffer.concat(chunks));
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const writer = new TallyWriter(new Store(`http://${target.username}:${target.password}@127.0.0.1:${port}`), { venueDayMax: 20 });
      const day = daysAgo(14);
      const before = await allTallyDocs();
      const c: Contribution = { id: 'lostanswer1', docId: tallyDocId(COMMUNE, day), communeCode: COMMUNE, day, counts: new Map([[venueIds[0]!, 15]]) };
      expect(await writer.add([c])).toBeNull();
      expect(dropped).toBe(1);
      // A second report passes the venue-day ceiling of 20 given to this writer.
      const d: Contribution = { id: 'lostanswer2', docId: tallyDocId(COMMUNE, day), communeCode: COMMUNE, day, counts: new Map([[venueIds[0]!, 15]]) };
      expect(await writer.add([d])).toBeNull();
      expect(d.result).toEqual({ accepted: 5, overCap: 10, overPace: 0 });
      expect(delta(before, await allTallyDocs())).toEqual(new Map([[`${tallyDocId(COMMUNE, day)}|${venueIds[0]}`, 20]]));
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('after a partial failure, a retry of the same batch adds only what was not stored', async () => {
    // A real HTTP hop in front of the store that, while `contended` is set, keeps one document from
    // being written and answers `conflict` for it, as if other servers kept changing it.
    const target = new URL(storeUrl);
    const dayOk = daysAgo(15);
    const dayHot = daysAgo(16);
    const hotId = tallyDocId(COMMUNE, dayHot);
    let contended = true;
    const proxy = http.createServer((req, res) => {
      const chunks: Uint8Array[] = [];
      req.on('data', (c: Buffer) => chunks.push(new Uint8Array(c)));
      req.on('end', () => {
        let body = Buffer.concat(chunks).toString('utf8');
        const held = contended && req.method === 'POST' && req.url?.startsWith('/lv_reports/_bulk_docs');
        if (held) body = JSON.stringify({ docs: (JSON.parse(body) as { docs: { _id: string }[] }).docs.filter((d) => d._id !== hotId) });
        const headers = { ...req.headers, 'content-length': String(Buffer.byteLength(body)) };
        const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (upRes) => {
          const out: Uint8Array[] = [];
          upRes.on('data', (c: Buffer) => out.push(new Uint8Array(c)));
          upRes.on('end', () => {
            let text = Buffer.concat(out).toString('utf8');
            if (held) text = JSON.stringify([...(JSON.parse(text) as unknown[]), { id: hotId, error: 'conflict', reason: 'Document update conflict.' }]);
            res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
            res.end(text);
          });
        });
        up.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const app = Fastify();
    try {
      const port = (proxy.address() as { port: number }).port;
      const store = new Store(`http://${target.username}:${target.password}@127.0.0.1:${port}`);
      await app.register(async (api) => void registerTallies(api, store, { clientReportsPerMinute: 60, venueCountsPerMinute: 1200, flushAttempts: 6 }), { prefix: '/api' });
      const before = await allTallyDocs();
      const report = tally([
        { day: dayOk, venues: [{ venueId: venueIds[0]!, count: 4 }] },
        { day: dayHot, venues: [{ venueId: venueIds[1]!, count: 6 }] }
      ]);
      const failed = await app.inject({ method: 'POST', url: '/api/tallies', payload: report });
      expect(failed.statusCode).toBe(503);
      expect(failed.json()).toMatchObject({ error: 'store_unavailable', reason: expect.stringMatching(/kept changing.*again later/) });
      expect(delta(before, await allTallyDocs())).toEqual(new Map([[`${tallyDocId(COMMUNE, dayOk)}|${venueIds[0]}`, 4]]));

      contended = false;
      const retried = await app.inject({ method: 'POST', url: '/api/tallies', payload: report });
      expect(retried.statusCode).toBe(200);
      expect(retried.json()).toMatchObject({ ok: true, accepted: 10, ignored: 0 });
      const again = await app.inject({ method: 'POST', url: '/api/tallies', payload: report });
      expect(again.json()).toMatchObject({ duplicate: true, accepted: 10 });
      expect(delta(before, await allTallyDocs())).toEqual(
        new Map([
          [`${tallyDocId(COMMUNE, dayOk)}|${venueIds[0]}`, 4],
          [`${hotId}|${venueIds[1]}`, 6]
        ])
      );
    } finally {
      await app.close();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('forgets client addresses each Vietnamese day: the limit starts afresh with a new salt', async () => {
    let clock = Date.UTC(2021, 7, 20, 16, 59); // 23:59 in Vietnam
    const app = Fastify();
    await app.register(async (api) => void registerTallies(api, new Store(storeUrl), { clientReportsPerMinute: 0.1, venueCountsPerMinute: 1200, now: () => clock }), {
      prefix: '/api'
    });
    const post = () => app.inject({ method: 'POST', url: '/api/tallies', payload: {} }).then((r) => r.statusCode);
    expect(await post()).toBe(400); // one report per ten minutes: the bucket holds one
    expect(await post()).toBe(429);
    clock += 2 * 60_000; // 00:01: a new day, a new salt, no memory of yesterday's keys
    expect(await post()).toBe(400);
    expect(await post()).toBe(429);
    await app.close();
  });

  it('answers 503 with a reason when the store is down', async () => {
    const app = Fastify();
    await app.register(async (api) => void registerTallies(api, new Store('http://127.0.0.1:9'), { clientReportsPerMinute: 60, venueCountsPerMinute: 1200 }), { prefix: '/api' });
    const res = await app.inject({ method: 'POST', url: '/api/tallies', payload: tally([{ day: daysAgo(1), venues: [{ venueId: venueIds[0]!, count: 1 }] }]) });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'store_unavailable', reason: expect.stringMatching(/again later/) });
    await app.close();
  });
});

describe('the PWA side: sendTalliesIfDue against the real server', () => {
  it('sends verified counts once a day, keeps a failed report with its batch id for the retry, and stops when turned off', async () => {
    // The browser pieces the module uses: IndexedDB (for Dexie), localStorage, and fetch of a
    // same-origin path (here: the test server's origin; "unreachable" is a closed local port).
    const fake = await import('fake-indexeddb');
    Object.assign(globalThis, { indexedDB: fake.indexedDB, IDBKeyRange: fake.IDBKeyRange });
    const storage = new Map<string, string>();
    const g = globalThis as unknown as { localStorage: Storage; fetch: typeof fetch };
    const realFetch = g.fetch;
    const hadStorage = 'localStorage' in globalThis;
    g.localStorage = {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, String(v)),
      removeItem: (k: string) => void storage.delete(k),
      clear: () => storage.clear(),
      key: (i: number) => [...storage.keys()][i] ?? null,
      get length() {
        return storage.size;
      }
    };
    let origin = 'http://127.0.0.1:9';
    g.fetch = (input, init) => realFetch(new URL(String(input), origin), init);
    try {
      const { sendTalliesIfDue, setTalliesEnabled, talliesEnabled } = await import('../../src/lib/client/tallies');
      const { diaryDb } = await import('../../src/lib/client/diary');
      const { makeVisit } = await import('../../src/lib/core/testing');
      const HOUR_MS = 3600_000;
      const { dayKey, fromVietnamLocal } = await import('../../src/lib/core/time');
      const now = Date.now();
      // Morning visits, two and three days ago: an hour later is still the same Vietnamese day,
      // whatever the time the test runs (from 23:00 Vietnam time, now − 2 days + 1 h was not).
      const twoDaysAgo = fromVietnamLocal(dayKey(now - 2 * DAY), '09:00')!;
      const threeDaysAgo = fromVietnamLocal(dayKey(now - 3 * DAY), '09:00')!;
      const [market, school] = [venueIds[0]!, venueIds[1]!];
      await diaryDb.visits.bulkAdd([
        makeVisit({ id: 'a', venueId: market, checkin: twoDaysAgo }),
        makeVisit({ id: 'b', venueId: market, checkin: twoDaysAgo + HOUR_MS }),
        makeVisit({ id: 'c', venueId: school, checkin: threeDaysAgo }),
        makeVisit({ id: 'd', venueId: school, checkin: threeDaysAgo, verification: 'unverified' }),
        makeVisit({ id: 'e', venueId: null, communeCode: null, checkin: twoDaysAgo, verification: 'manual' })
      ]);
      expect(talliesEnabled()).toBe(true);
      const before = await allTallyDocs();

      const offline = await sendTalliesIfDue(now);
      expect(offline).toMatchObject({ status: 'failed', reason: expect.stringMatching(/offline/) });
      const kept = JSON.parse(storage.get('lv.tallies.pending')!) as { report: TallyReport };
      expect(kept.report.days.map((d) => d.venues.reduce((a, v) => a + v.count, 0))).toEqual([1, 2]);
      expect(await sendTalliesIfDue(now + 1000)).toMatchObject({ status: 'waiting' });

      origin = serverA.url;
      const later = now + HOUR_MS + 1000;
      const sent = await sendTalliesIfDue(later);
      expect(sent).toMatchObject({ status: 'sent', accepted: 3, ignored: 0, days: 2, duplicate: false });
      // The retry carried the batch id of the failed attempt: posting that report again is a duplicate.
      const again = await send(serverA.url, kept.report, '127.0.8.1');
      expect(again.json).toMatchObject({ duplicate: true });
      expect(delta(before, await allTallyDocs())).toEqual(
        new Map([
          [`${tallyDocId(COMMUNE, dayKey(now - 2 * DAY))}|${market}`, 2],
          [`${tallyDocId(COMMUNE, dayKey(now - 3 * DAY))}|${school}`, 1]
        ])
      );
      // Nothing new until a new day is complete (near midnight that new day has no check-in).
      expect(['up-to-date', 'nothing-to-send']).toContain((await sendTalliesIfDue(later + 1000)).status);

      setTalliesEnabled(false);
      expect(await sendTalliesIfDue(later + 2 * DAY)).toEqual({ status: 'disabled' });
      // Back on: the days it was off are not sent.
      setTalliesEnabled(true, later + 2 * DAY);
      expect(await sendTalliesIfDue(later + 2 * DAY)).toMatchObject({ status: 'up-to-date' });
      diaryDb.close();
    } finally {
      g.fetch = realFetch;
      if (!hadStorage) delete (globalThis as { localStorage?: Storage }).localStorage;
    }
  });
});
