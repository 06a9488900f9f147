/**
 * Documents at the gateway, fuzzed: valid documents of every kind, changed at random by fast-check
 * (fields dropped, wrong types, huge strings, deep nesting, unknown `_` fields, malformed
 * `_revisions` with new_edits=false, odd `_deleted`), pushed raw to `_bulk_docs` as the commune team
 * and as a registered venue owner. Whatever is pushed: never a 5xx, every refused document has a
 * reason, and the team can still read the database's changes afterwards (a poisoned store used to
 * take the server down at the next read).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServerConfig } from './test-server';
import { startServer, type RunningServer } from '../../server/main';
import { entryDocId } from '../../src/lib/core/documents';
import { login, register } from './sync-helpers';

const COMMUNE = '18070';
const DB = `lv_c_${COMMUNE}`;
const PASSWORD = 'mat-khau-fuzz-18070';
const OWNER_VENUE = 'fuzzownerven';
let server: RunningServer;
let dataDir: string;
let team: string;
let owner: { cookie: string; userId: string };

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'lv-fuzz-'));
  const staticDir = path.join(dataDir, 'build');
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, '200.html'), 'x');
  server = await startServer(await testServerConfig({ PORT: '0', DATA_DIR: path.join(dataDir, 'data'), LOG: '0', STATIC_DIR: staticDir, DEMO_TEAM_PASSWORD: PASSWORD }));
  team = (await login(server.url, server.demoTeam!.phone, PASSWORD)).cookie;
  owner = await register(server.url, '0911000077');
  const res = await push(owner.cookie, JSON.stringify({ docs: [venue(OWNER_VENUE, owner.userId)] }));
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual([expect.objectContaining({ ok: true })]);
});

afterAll(async () => {
  // A store that a push broke may never finish closing: the test ends all the same.
  await Promise.race([server?.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  rmSync(dataDir, { recursive: true, force: true });
});

function push(cookie: string, body: string): Promise<Response> {
  return fetch(`${server.url}/sync/${DB}/_bulk_docs`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', origin: server.url }, body, signal: AbortSignal.timeout(5_000) });
}

const ISO = () => new Date().toISOString();
let serial = 0;
const unique = (n: number) => (Date.now().toString(36) + (serial++).toString(36).padStart(4, '0') + 'abcdefghijklmnop').slice(0, n);

function venue(venueId: string, ownerId?: string) {
  return { _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name: 'Quán Phở Thử', venueType: 'food', communeCode: COMMUNE, address: 'Thị trấn Đức Thọ', status: 'active', ...(ownerId ? { owner: ownerId } : {}), createdAt: ISO(), updatedAt: ISO() };
}

function entry(venueId: string) {
  const time = Date.now() - 60_000 - (serial % 1000) * 1000;
  return { _id: entryDocId(venueId, time, unique(8)), type: 'entry', schema: 1, venueId, communeCode: COMMUNE, time, direction: 'in', person: { source: 'manual', name: 'Nguyễn Văn Thử', phone: '0912345678' }, deviceId: 'fuzz', declaration: { symptoms: ['fever'], contactWithCase: false, travelledUnits: ['18073'] } };
}

function exposure() {
  const eventId = unique(16);
  const to = Date.now() - 3_600_000;
  return { _id: `exposure:demochoducth:${eventId}`, type: 'exposure', schema: 1, eventId, venueId: 'demochoducth', venueName: 'Chợ Đức Thọ', communeCode: COMMUNE, from: to - 7_200_000, to, widenMinutes: 60, level: 'high', message: 'Ca F0', advice: 'Theo dõi sức khoẻ', contactPhone: '0239123456', state: 'draft', updatedAt: ISO() };
}

function caseDoc() {
  const caseId = unique(16);
  const from = Date.now() - 86_400_000;
  return { _id: `case:${caseId}`, type: 'case', schema: 1, caseId, communeCode: COMMUNE, person: { source: 'manual', name: 'Trần Thị Thử' }, confirmedOn: ISO().slice(0, 10), status: 'open', visits: [{ venueId: 'demochoducth', communeCode: COMMUNE, place: 'Chợ Đức Thọ', from, to: from + 3_600_000, source: 'typed' }], notes: 'ghi chú', createdAt: ISO(), updatedAt: ISO() };
}

function followup() {
  const e = entry('demochoducth');
  return { _id: `followup:a:${e._id.slice('entry:'.length)}`, type: 'followup', schema: 1, communeCode: COMMUNE, kind: 'arrival', entryId: e._id, person: e.person, at: e.time, fromUnit: '18073', fromZone: 3, test: 'none', state: 'open', updatedAt: ISO() };
}

type Doc = Record<string, unknown>;
const DEEP = 'DEEP_NESTING_HERE';

/** A change to a document that fast-check prints by what it does, so a counterexample reads. */
type Mutation = ((doc: Doc) => Doc) & { [fc.toStringMethod]: () => string };
function named(label: string, apply: (doc: Doc) => Doc): Mutation {
  return Object.assign(apply, { [fc.toStringMethod]: () => label });
}
const fieldOf = (doc: Doc, i: number) => {
  const keys = Object.keys(doc);
  return keys[i % keys.length]!;
};
const show = (value: unknown) => (typeof value === 'string' && value.length > 20 ? `${JSON.stringify(value.slice(0, 3))}×${value.length}` : JSON.stringify(value));

/** One way of breaking a document; a field is picked among the document's own by its position. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat({ max: 30 }).map((i) =>
    named(`drop field #${i}`, (doc) => {
      const { [fieldOf(doc, i)]: _, ...rest } = doc;
      return rest;
    })
  ),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom<unknown>(null, 0, -1, 1.5, 1e308, '', 'x', true, [], {}, [1, 2], { a: 1 })).map(([i, value]) =>
    named(`field #${i} = ${show(value)}`, (doc) => ({ ...doc, [fieldOf(doc, i)]: value }))
  ),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom(' ', 'x', 'ọ', '\u202e', '\u200b', '\ud800', '\0'), fc.constantFrom(1_000, 100_000, 1_000_000)).map(([i, c, n]) =>
    named(`field #${i} = ${JSON.stringify(c)}×${n} + "X"`, (doc) => ({ ...doc, [fieldOf(doc, i)]: c.repeat(n) + 'X' }))
  ),
  fc.tuple(
    fc.constantFrom('_attachments', '_conflicts', '_local_seq', '_foo', '_revs_info', '_deleted_conflicts', '__proto__', 'constructor'),
    fc.constantFrom<unknown>({ a: { content_type: 'text/plain', data: 'QQ==' } }, ['1-abc'], 1, 'x', null)
  ).map(([name, value]) => named(`${name} = ${show(value)}`, (doc) => ({ ...doc, [name]: value }))),
  fc.tuple(
    fc.constantFrom<unknown>('2-abc', '1-abc', 'abc', 2, undefined),
    fc.constantFrom<unknown>(
      { start: 2, ids: [] },
      { start: 2, ids: 3 },
      { start: '2', ids: ['abc'] },
      { start: 2, ids: ['abc'] },
      { start: 1, ids: ['abc', 'def', 'ghi'] },
      { start: -1, ids: ['abc'] },
      { start: 2 },
      { ids: ['abc'] },
      [],
      'x',
      null,
      { start: 2, ids: [null, 1] },
      { start: 1e300, ids: ['abc'] }
    )
  ).map(([rev, revisions]) => named(`_rev = ${show(rev)}, _revisions = ${show(revisions)}`, (doc) => ({ ...doc, _rev: rev, _revisions: revisions }))),
  fc.constantFrom<unknown>('yes', 1, 0, null, {}, [], 'true', false, true).map((value) => named(`_deleted = ${show(value)}`, (doc) => ({ ...doc, _deleted: value }))),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom(100, 1_000, 10_000, 100_000)).map(([i, depth]) =>
    named(`field #${i} = nested ${depth} deep`, (doc) => ({ ...doc, [fieldOf(doc, i)]: `${DEEP}${depth}` }))
  )
);

/** The JSON text of a batch, deep nesting written in as text (JSON.stringify of it would overflow). */
function batchText(docs: Doc[], newEdits: boolean | undefined): string {
  const text = JSON.stringify({ docs, ...(newEdits === undefined ? {} : { new_edits: newEdits }) });
  return text.replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_, depth: string) => '['.repeat(Number(depth)) + ']'.repeat(Number(depth)));
}

async function check(cookie: string, docs: Doc[], newEdits: boolean | undefined): Promise<void> {
  const res = await push(cookie, batchText(docs, newEdits));
  expect(res.status, `push answered ${res.status}`).toBeLessThan(500);
  const body = (await res.json()) as unknown;
  if (res.status === 201) {
    expect(Array.isArray(body)).toBe(true);
    for (const result of body as { error?: unknown; reason?: unknown }[]) if (result.error !== undefined) expect(typeof result.reason === 'string' && result.reason.length > 0, JSON.stringify(result)).toBe(true);
  } else {
    expect(typeof (body as { reason?: unknown }).reason, JSON.stringify(body)).toBe('string');
  }
  const changes = await fetch(`${server.url}/sync/${DB}/_changes?style=all_docs&limit=5`, { headers: { cookie: team }, signal: AbortSignal.timeout(5_000) });
  expect(changes.status, 'the team can still read the changes').toBe(200);
  await changes.arrayBuffer();
}

type Maker = (() => Doc) & { [fc.toStringMethod]: () => string };
const maker = (label: string, make: () => Doc): Maker => Object.assign(make, { [fc.toStringMethod]: () => label });
const kinds = [
  maker('a team venue', () => venue(unique(12).replace(/[^a-z2-7]/g, 'a'))),
  maker('an entry', () => entry('demochoducth')),
  maker('an exposure draft', exposure),
  maker('a case', caseDoc),
  maker('a follow-up', followup)
];

const batch = (makers: Maker[]) =>
  fc.tuple(
    fc.array(fc.tuple(fc.constantFrom(...makers), fc.array(mutation, { maxLength: 3 })), { minLength: 1, maxLength: 4 }),
    fc.constantFrom<boolean | undefined>(undefined, true, false)
  );

// Both properties fail against the gateway as it is (issue 10, items 1 and 6): it stores the raw
// document, so an unknown `_` field (`_foo`) is relayed to the store and answered 500, and a
// malformed `_revisions` with new_edits=false breaks the embedded store (an uncaught TypeError in
// pouchdb-node), after which every request hangs. Remove `.fails` when the gateway stores
// checkCommuneDoc's `doc` and checks replication metadata.
describe('the gateway under documents changed at random', () => {
  it('as the commune team: never a 5xx, a reason for every refusal, the changes readable after each batch', async () => {
    await fc.assert(
      fc.asyncProperty(batch(kinds), async ([items, newEdits]) => {
        await check(team, items.map(([make, changes]) => changes.reduce((doc, change) => change(doc), make())), newEdits);
      }),
      { numRuns: 40 }
    );
  }, 60_000);

  it('as a venue owner: the same', async () => {
    const makers = [
      maker('a new venue of the owner', () => venue(unique(12).replace(/[^a-z2-7]/g, 'b'), owner.userId)),
      maker("an entry of the owner's venue", () => entry(OWNER_VENUE)),
      maker("the owner's venue again", () => venue(OWNER_VENUE, owner.userId))
    ];
    await fc.assert(
      fc.asyncProperty(batch(makers), async ([items, newEdits]) => {
        await check(owner.cookie, items.map(([make, changes]) => changes.reduce((doc, change) => change(doc), make())), newEdits);
      }),
      { numRuns: 40 }
    );
  }, 60_000);
});
