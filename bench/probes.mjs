#!/usr/bin/env node
/**
 * Hostile probes by class: what a careless or hostile client can send, counted by the answer's status
 * class, with the crashes it caused. Target: 0 5xx, 0 crashes, a reason with every refusal.
 *
 * The server runs in a child process (dist/server.mjs, or --bundle; embedded store in its own
 * process, a temp DATA_DIR, the demo commune 18070 and its team), so a probe that kills it is
 * counted, not fatal. Every request goes through node:http with its path exactly as written (fetch
 * would resolve `..`), one at a time. After each probe: did the server process exit, did the
 * store's process change pid? After each class: does /api/health answer 200? Any of these is a crash
 * (the probe is named, the server is restarted on the same data, the run goes on).
 *
 * Classes: malformed JSON bodies; deep nesting; replication metadata with new_edits:false; bad query
 * values; dot segments; forged and garbled session cookies; oversized bodies; duplicate submissions;
 * valid documents mutated at random (fast-check, seeded: the same probes every run, --seed to vary);
 * exposure events outside the rules; anonymous writes.
 *
 * "no reason" counts the refusals without a reason in words: a 4xx/5xx whose JSON body has no
 * string `reason`, or a document refused inside a 201 `_bulk_docs` answer without one. "no answer"
 * counts probes that got no status (timed out after --timeout s, or the connection was cut).
 *
 * "docs stored" counts the documents a 201 of `_bulk_docs` says were stored (ok: true); in the
 * classes where nothing should be stored or accepted (exposures outside the rules, anonymous
 * writes), every 2xx probe is listed.
 *
 * Usage: node bench/probes.mjs [--mutations 150] [--seed 10] [--timeout 20] [--verbose] [--bundle file]
 *   --verbose  lists every 2xx probe of every class
 * Prints a table, every 5xx and crash with the request that caused it, and a final `RESULT {json}`
 * line; exits 0 when there was no 5xx and no crash, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { exitWith, httpRequest, parseFlags, printResult, serverBundle, sessionCookie, spawnBenchServer, tableRow, tempDirs } from './lib.mjs';

const OPTIONS = {
  usage: 'node bench/probes.mjs [--mutations 150] [--seed 10] [--timeout 20] [--verbose] [--bundle dist/server.mjs]',
  spec: { mutations: 'whole', seed: 'whole', timeout: 'number', bundle: 'path', verbose: 'switch' },
  defaults: { mutations: 150, seed: 10, timeout: 20, bundle: null, verbose: false },
  check(opts) {
    if (opts.timeout <= 0) throw new Error('--timeout must be positive');
  }
};

const COMMUNE = '18070'; // the demo commune, with its team
const OTHER = '18073'; // another commune: a venue of it is written as a fixture
const DB = `lv_c_${COMMUNE}`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OWNED = 'probeownerv2'; // the owner's venue
const OWNED2 = 'probeownerw3'; // the second owner's venue
const OTHER_VENUE = 'probeotherv4'; // a venue of commune 18073
const TEAM_PASSWORD = 'mat-khau-doi-probe-18070';
const DEEP = 'DEEP_NESTING_HERE';

// ---------------------------------------------------------------------------------------------
// Documents, as the PWA builds them (tests/integration/gateway-fuzz.test.ts builds the same)
// ---------------------------------------------------------------------------------------------
let serial = 0;
const unique = (n) => (Date.now().toString(36) + (serial++).toString(36).padStart(4, '0') + 'abcdefghijklmnop').slice(0, n);
const ISO = () => new Date().toISOString();
const venueIdOf = (s) => s.replace(/[^a-z2-7]/g, 'a').slice(0, 12).padEnd(12, 'a');

function venue(venueId, owner, communeCode = COMMUNE) {
  return { _id: `venue:${venueId}`, type: 'venue', schema: 1, venueId, name: 'Quán Phở Thử', venueType: 'food', communeCode, address: 'Thị trấn Đức Thọ', status: 'active', ...(owner ? { owner } : {}), createdAt: ISO(), updatedAt: ISO() };
}

function entry(venueId, time = Date.now() - 60_000 - (serial % 1000) * 1000) {
  return {
    // A random tail, as a station makes one: entries of one millisecond must not share an id.
    _id: `entry:${venueId}:${String(time).padStart(13, '0')}:${randomBytes(6).toString('hex')}`,
    type: 'entry',
    schema: 1,
    venueId,
    communeCode: COMMUNE,
    time,
    direction: 'in',
    person: { source: 'manual', name: 'Nguyễn Văn Thử', phone: '0912345678' },
    deviceId: 'probe',
    declaration: { symptoms: ['fever'], contactWithCase: false, travelledUnits: ['18073'] }
  };
}

function exposure(venueId, from, to, extra = {}) {
  const eventId = unique(16);
  return { _id: `exposure:${venueId}:${eventId}`, type: 'exposure', schema: 1, eventId, venueId, venueName: 'Chợ Đức Thọ', communeCode: COMMUNE, from, to, widenMinutes: 60, level: 'high', message: 'Ca F0', advice: 'Theo dõi sức khoẻ', contactPhone: '0239123456', state: 'published', updatedAt: ISO(), ...extra };
}

function caseDoc() {
  const caseId = unique(16);
  const from = Date.now() - DAY;
  return { _id: `case:${caseId}`, type: 'case', schema: 1, caseId, communeCode: COMMUNE, person: { source: 'manual', name: 'Trần Thị Thử' }, confirmedOn: ISO().slice(0, 10), status: 'open', visits: [{ venueId: 'demochoducth', communeCode: COMMUNE, place: 'Chợ Đức Thọ', from, to: from + HOUR, source: 'typed' }], notes: 'ghi chú', createdAt: ISO(), updatedAt: ISO() };
}

function followup() {
  const e = entry('demochoducth');
  return { _id: `followup:a:${e._id.slice('entry:'.length)}`, type: 'followup', schema: 1, communeCode: COMMUNE, kind: 'arrival', entryId: e._id, person: e.person, at: e.time, fromUnit: '18073', fromZone: 3, test: 'none', state: 'open', updatedAt: ISO() };
}

const deep = (levels, open = '[', close = ']') => open.repeat(levels) + close.repeat(levels);
const deepObject = (levels) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/** The JSON text of a batch, deep nesting written in as text (JSON.stringify of it would overflow). */
function batchText(docs, newEdits) {
  const text = JSON.stringify({ docs, ...(newEdits === undefined ? {} : { new_edits: newEdits }) });
  return text.replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_, depth) => deep(Number(depth)));
}

/** Yesterday in Vietnam (UTC+7, no daylight saving): the newest complete day a tally may carry. */
const vietnamDay = (msAgo) => new Date(Date.now() + 7 * HOUR - msAgo).toISOString().slice(0, 10);

function tally(batch, venues = [{ venueId: 'demochoducth', communeCode: COMMUNE, count: 1 }], day = vietnamDay(DAY)) {
  return JSON.stringify({ format: 'luu-vet-tally', version: 1, batch, days: [{ day, venues }] });
}

// ---------------------------------------------------------------------------------------------
// Random mutations of valid documents (the mutations of gateway-fuzz.test.ts)
// ---------------------------------------------------------------------------------------------
const fieldOf = (doc, i) => {
  const keys = Object.keys(doc);
  return keys[i % keys.length];
};

const mutation = fc.oneof(
  fc.nat({ max: 30 }).map((i) => (doc) => {
    const { [fieldOf(doc, i)]: _, ...rest } = doc;
    return rest;
  }),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom(null, 0, -1, 1.5, 1e308, '', 'x', true, [], {}, [1, 2], { a: 1 })).map(([i, value]) => (doc) => ({ ...doc, [fieldOf(doc, i)]: value })),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom(' ', 'x', 'ọ', '\u202e', '\u200b', '\ud800', '\0'), fc.constantFrom(1_000, 100_000, 1_000_000)).map(([i, c, n]) => (doc) => ({ ...doc, [fieldOf(doc, i)]: c.repeat(n) + 'X' })),
  fc
    .tuple(
      fc.constantFrom('_attachments', '_conflicts', '_local_seq', '_foo', '_revs_info', '_deleted_conflicts', '__proto__', 'constructor', '_id'),
      fc.constantFrom({ a: { content_type: 'text/plain', data: 'QQ==' } }, ['1-abc'], 1, 'x', null, 'venue:demochoducth', '_design/x')
    )
    .map(([name, value]) => (doc) => ({ ...doc, [name]: value })),
  fc
    .tuple(
      fc.constantFrom('2-abc', '1-abc', 'abc', 2, undefined),
      fc.constantFrom({ start: 2, ids: [] }, { start: 2, ids: 3 }, { start: '2', ids: ['abc'] }, { start: 2, ids: ['abc'] }, { start: 1, ids: ['abc', 'def', 'ghi'] }, { start: -1, ids: ['abc'] }, { start: 2 }, { ids: ['abc'] }, [], 'x', null, { start: 2, ids: [null, 1] }, { start: 1e300, ids: ['abc'] })
    )
    .map(([rev, revisions]) => (doc) => ({ ...doc, _rev: rev, _revisions: revisions })),
  fc.constantFrom('yes', 1, 0, null, {}, [], 'true', false, true).map((value) => (doc) => ({ ...doc, _deleted: value })),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom(100, 1_000, 10_000, 100_000)).map(([i, depth]) => (doc) => ({ ...doc, [fieldOf(doc, i)]: `${DEEP}${depth}` })),
  fc.tuple(fc.nat({ max: 30 }), fc.constantFrom('communeCode', 'venueId', 'owner', 'type', 'time', 'schema')).map(([_, field]) => (doc) => ({ ...doc, [field]: field === 'communeCode' ? OTHER : field === 'venueId' ? 'demochoducth' : field === 'owner' ? 'u-someone-else' : field === 'type' ? 'user' : field === 'time' ? Date.now() + 10 * DAY : 2 }))
);

function mutatedBatches(makers, n, seed) {
  const arb = fc.tuple(fc.array(fc.tuple(fc.constantFrom(...makers), fc.array(mutation, { maxLength: 3 })), { minLength: 1, maxLength: 4 }), fc.constantFrom(undefined, true, false));
  return fc.sample(arb, { numRuns: n, seed }).map(([items, newEdits]) => batchText(items.map(([make, changes]) => changes.reduce((doc, change) => change(doc), make())), newEdits));
}

// ---------------------------------------------------------------------------------------------
// Sending one probe and judging its answer
// ---------------------------------------------------------------------------------------------
function send(base, probe, cookies, timeoutMs) {
  const { hostname, port } = new URL(base);
  const body = probe.body === undefined ? undefined : Buffer.isBuffer(probe.body) ? probe.body : Buffer.from(probe.body);
  const headers = { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': body.length } : {}), ...(probe.who && probe.who !== 'anonymous' ? { cookie: cookies[probe.who] } : {}), ...probe.headers };
  for (const [k, v] of Object.entries(headers)) if (v === null) delete headers[k];
  return new Promise((resolve) => {
    let done = false;
    let answer = null; // status and headers, once they came
    const chunks = [];
    const text = () => Buffer.concat(chunks).toString('utf8');
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    // A connection of its own per probe (agent: false): a kept-alive socket the server closed after
    // its last answer (a 431, a 413) would fail the next probe for a reason of the client's making.
    const req = http.request({ hostname, port, path: probe.path, method: probe.method ?? 'GET', headers, localAddress: probe.from, agent: false }, (res) => {
      answer = { status: res.statusCode, headers: res.headers };
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size < 2_000_000) chunks.push(c);
      });
      res.on('end', () => finish({ ...answer, text: text() }));
      res.on('error', () => finish({ ...answer, text: text(), cut: true }));
      res.on('close', () => finish({ ...answer, text: text(), cut: true }));
    });
    // A feed that streams (continuous) keeps going: what counts is the status it began with.
    const timer = setTimeout(() => {
      finish(answer ? { ...answer, text: text(), cut: true } : { error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    // A server may answer (413, 401) before it has read the whole body and close the connection:
    // the upload then fails, but the answer counts. Give it a moment to be read.
    req.on('error', (err) => setTimeout(() => finish(answer ? { ...answer, text: text(), cut: true } : { error: err.code ?? err.message }), 200));
    if (body === undefined || body.length <= 64 * 1024) return void req.end(body);
    // Large bodies: the headers first, and a moment for an answer decided on them alone (413 for
    // the declared length, 401 before any body is read); then the body in pieces, stopping once an
    // answer has come. Writing on regardless would have the server's close reset the connection and
    // lose its answer (curl, which reads while it sends, sees it).
    let offset = 0;
    const pump = () => {
      while (offset < body.length && !answer && !done) {
        const piece = body.subarray(offset, offset + 64 * 1024);
        offset += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (offset >= body.length || answer) req.end();
    };
    req.flushHeaders();
    setTimeout(pump, 300);
  });
}

/** Whether a refusal says why: a JSON body with a string reason (4xx/5xx), or per document in a 201 of _bulk_docs. */
function missingReasons(res) {
  let json = null;
  try {
    json = JSON.parse(res.text);
  } catch {
    // not JSON
  }
  if (res.status >= 400) return typeof json?.reason === 'string' && json.reason.trim() ? 0 : 1;
  if (Array.isArray(json)) return json.filter((r) => r && typeof r === 'object' && r.error !== undefined && !(typeof r.reason === 'string' && r.reason.trim())).length;
  return 0;
}

/** Documents a 201 of _bulk_docs reports stored. */
function docsStored(res) {
  if (res.status !== 201) return 0;
  try {
    const json = JSON.parse(res.text);
    return Array.isArray(json) ? json.filter((r) => r?.ok === true).length : 0;
  } catch {
    return 0;
  }
}

const describe = (p) => {
  const body = p.body === undefined ? '' : Buffer.isBuffer(p.body) ? ` body ${p.body.length} bytes` : ` body ${p.body.length > 400 ? `${JSON.stringify(p.body.slice(0, 200))}…${JSON.stringify(p.body.slice(-150))} (${p.body.length} chars)` : JSON.stringify(p.body)}`;
  const headers = p.headers ? ` headers ${JSON.stringify(p.headers).slice(0, 300)}` : '';
  return `${p.method ?? 'GET'} ${p.path.length > 200 ? p.path.slice(0, 200) + '…' : p.path} as ${p.who ?? 'anonymous'}${headers}${body}`;
};

// ---------------------------------------------------------------------------------------------
// The classes
// ---------------------------------------------------------------------------------------------
function classes(ctx, opts) {
  const now = Date.now();
  const P = (who, method, pathname, body, headers) => ({ who, method, path: pathname, body, headers });
  const jsonTargets = [
    ['team', 'POST', `/sync/${DB}/_bulk_docs`],
    ['owner', 'POST', `/sync/${DB}/_bulk_docs`],
    ['team', 'POST', `/sync/${DB}/_revs_diff`],
    ['team', 'POST', `/sync/${DB}/_bulk_get`],
    ['team', 'PUT', `/sync/${DB}/_local/probe`],
    ['team', 'POST', `/sync/${DB}/_all_docs`],
    ['team', 'POST', `/sync/${DB}/_changes`],
    ['team', 'PUT', `/sync/${DB}/entry%3A${OWNED}%3A0001700000000000%3Aabc`],
    ['anonymous', 'POST', '/sync/lv_directory/_bulk_get'],
    ['anonymous', 'POST', '/sync/lv_directory/_revs_diff'],
    ['anonymous', 'PUT', '/sync/lv_directory/_local/probe'],
    ['anonymous', 'POST', '/api/auth/login'],
    ['anonymous', 'POST', '/api/auth/register'],
    ['owner', 'POST', '/api/auth/password'],
    ['anonymous', 'POST', '/api/tallies'],
    ['anonymous', 'POST', '/api/share-codes'],
    ['anonymous', 'POST', '/api/diary-share']
  ];
  const malformed = ['{"docs": [', '', 'null', '[]', '"x"', '{', '}', 'nan', '1e999', '{"docs":{}}', '{"docs":null}', '{"a":1,"a":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\ufeff{}', '{"docs":[1,2,3]}', '{"docs":["x"]}', '{"docs":[null]}', '{"phone":null,"password":null}', '{"phone":1,"password":[]}', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), '\u0000'];
  const contentTypes = [undefined, 'text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'];

  return [
    {
      name: 'malformed JSON bodies',
      probes: [
        ...jsonTargets.flatMap(([who, method, p]) => malformed.map((body) => P(who, method, p, body))),
        ...jsonTargets.flatMap(([who, method, p]) => contentTypes.slice(1).map((ct) => P(who, method, p, '{"docs":[]}', { 'content-type': ct }))),
        ...jsonTargets.map(([who, method, p]) => P(who, method, p, '{}', { 'content-type': null, 'content-length': '2' }))
      ]
    },
    {
      name: 'deep nesting',
      probes: [1_000, 10_000, 100_000].flatMap((d) => [
        P('team', 'POST', `/sync/${DB}/_bulk_docs`, `{"docs":${deep(d)}}`),
        P('team', 'POST', `/sync/${DB}/_bulk_docs`, `{"docs":[{"_id":"x","a":${deepObject(d)}}]}`),
        P('team', 'POST', `/sync/${DB}/_bulk_docs`, batchText([{ ...entry(OWNED), person: `${DEEP}${d}` }])),
        P('team', 'POST', `/sync/${DB}/_revs_diff`, `{"a":${deep(d)}}`),
        P('team', 'PUT', `/sync/${DB}/_local/x`, `{"a":${deep(d)}}`),
        P('team', 'PUT', `/sync/${DB}/_local/x`, deepObject(d)),
        P('team', 'POST', `/sync/${DB}/_bulk_get`, `{"docs":${deep(d)}}`),
        P('anonymous', 'POST', '/sync/lv_directory/_bulk_get', `{"docs":${deep(d)}}`),
        P('anonymous', 'PUT', '/sync/lv_directory/_local/x', `{"a":${deep(d)}}`),
        P('anonymous', 'POST', '/api/auth/login', `{"phone":${deep(d)}}`),
        P('anonymous', 'POST', '/api/auth/register', deepObject(d)),
        P('anonymous', 'POST', '/api/tallies', `{"days":${deep(d)}}`),
        P('owner', 'POST', `/sync/${DB}/_bulk_docs`, `{"docs":${deep(d)}}`)
      ])
    },
    {
      name: 'replication metadata (new_edits:false)',
      probes: (() => {
        const revisions = [{ start: 2, ids: [] }, { start: 2, ids: 5 }, { start: '2', ids: ['abc'] }, { start: 2, ids: ['def', 'abc'] }, { start: 3, ids: ['abc'] }, { start: 2 }, { ids: ['abc'] }, [], 'x', null, { start: 2, ids: [null, 1] }, { start: 1e300, ids: ['abc'] }, { start: -1, ids: ['abc'] }, { start: 2, ids: Array(5000).fill('abc') }];
        const revs = ['2-abc', '1-abc', 'abc', 2, '', '0-abc', '99999999999999999999-abc', '2-' + 'a'.repeat(10_000), undefined];
        const extras = [{ _attachments: { 'a.txt': { content_type: 'text/plain', data: 'eA==' } } }, { _attachments: { 'a.txt': { stub: true, revpos: 1 } } }, { _foo: 1 }, { _conflicts: ['1-x'] }, { _deleted: 'yes' }, { _deleted: true }, { _local_seq: 5 }, { _revs_info: [] }, { _deleted_conflicts: ['1-x'] }];
        const out = [];
        for (const who of ['owner', 'team']) {
          const id = who === 'owner' ? OWNED : 'demochoducth';
          for (const r of revisions) out.push(P(who, 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [{ ...entry(id), _rev: '2-abc', _revisions: r }], new_edits: false })));
          for (const rev of revs) out.push(P(who, 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [{ ...entry(id), _rev: rev }], new_edits: false })));
          for (const x of extras) out.push(P(who, 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [{ ...entry(id), _rev: '1-abc', ...x }], new_edits: false })));
          for (const ne of ['no', 0, null, 'false', {}, []]) out.push(P(who, 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [entry(id)], new_edits: ne })));
        }
        // The team reads after each kind, as PouchDB does after a push: a poisoned store died here.
        out.push(P('team', 'GET', `/sync/${DB}/_changes?style=all_docs&since=0`));
        out.push(P('team', 'GET', `/sync/${DB}/_changes?style=all_docs&since=0&include_docs=true&conflicts=true`));
        return out;
      })()
    },
    {
      name: 'bad query values',
      probes: (() => {
        const doc = `/sync/${DB}/venue:${OWNED}`;
        const queries = [
          `/sync/${DB}/_changes?filter=_doc_ids&doc_ids=%5B`,
          `/sync/${DB}/_changes?filter=_doc_ids&doc_ids=%7B%7D`,
          `/sync/${DB}/_changes?filter=_doc_ids&doc_ids=%5B1%2C2%5D`,
          `/sync/${DB}/_changes?filter=_doc_ids&doc_ids=${encodeURIComponent(JSON.stringify(Array(10000).fill('venue:x')))}`,
          `/sync/${DB}/_changes?filter=_view&view=a/b`,
          `/sync/${DB}/_changes?filter=x/y`,
          `/sync/${DB}/_changes?filter=_selector`,
          `${doc}?open_revs=notjson`,
          `${doc}?open_revs=%5B1%5D`,
          `${doc}?open_revs=all&revs=maybe`,
          `${doc}?open_revs=%5B%22${'1-a'.repeat(3000)}%22%5D`,
          `${doc}?rev=zzz`,
          `${doc}?rev=`,
          `${doc}?rev=1-abc&rev=2-abc`,
          `${doc}?revs=true&revs_info=true&conflicts=true&deleted_conflicts=true&local_seq=true&meta=true`,
          `${doc}?attachments=true&att_encoding_info=true&atts_since=%5B`,
          `${doc}?latest=maybe`,
          `/sync/${DB}/_changes?limit=abc`,
          `/sync/${DB}/_changes?limit=-1`,
          `/sync/${DB}/_changes?limit=1e30`,
          `/sync/${DB}/_changes?limit=0`,
          `/sync/${DB}/_changes?since=0&since=1`,
          `/sync/${DB}/_changes?since=-1`,
          `/sync/${DB}/_changes?since=%5B`,
          `/sync/${DB}/_changes?since=abc`,
          `/sync/${DB}/_changes?since=1e400`,
          `/sync/${DB}/_changes?style=everything`,
          `/sync/${DB}/_changes?feed=eventsource`,
          `/sync/${DB}/_changes?feed=continuous&timeout=100`,
          // since=0: there are changes, so a long-poll that is taken answers at once.
          `/sync/${DB}/_changes?feed=longpoll&timeout=abc&since=0`,
          `/sync/${DB}/_changes?feed=longpoll&timeout=-5&since=0`,
          `/sync/${DB}/_changes?feed=longpoll&heartbeat=abc&since=0&timeout=100`,
          `/sync/${DB}/_changes?include_docs=maybe`,
          `/sync/${DB}/_changes?descending=maybe`,
          `/sync/${DB}/_changes?seq_interval=abc`,
          `/sync/${DB}/_changes?%ZZ=1`,
          `/sync/${DB}/_changes?a=%E0%A4%A`,
          `/sync/${DB}/_changes?${'x=1&'.repeat(2000)}`,
          `/sync/${DB}/_all_docs?startkey=%5B`,
          `/sync/${DB}/_all_docs?keys=notjson`,
          `/sync/${DB}/_all_docs?keys=${encodeURIComponent(JSON.stringify([1, {}, null]))}`,
          `/sync/${DB}/_all_docs?limit=abc&skip=-1`,
          `/sync/${DB}/_all_docs?start_key=%22a%22&startkey=%22b%22`,
          `/sync/${DB}/_design/x/_view/y`,
          `/sync/${DB}/_local/x?rev=notarev`,
          `/sync/${DB}/%00`,
          `/sync/${DB}/venue%3A${'x'.repeat(20000)}`
        ];
        return [...queries.map((q) => P('team', 'GET', q)), ...queries.map((q) => P('owner', 'GET', q)), ...queries.map((q) => P('anonymous', 'GET', q.replaceAll(`/sync/${DB}/`, '/sync/lv_directory/')))];
      })()
    },
    {
      name: 'dot segments',
      probes: (() => {
        const paths = [
          '/sync/lv_directory/..',
          '/sync/lv_directory/.',
          '/sync/lv_directory/%2e%2e',
          '/sync/lv_directory/%2E',
          '/sync/lv_directory/%2e%2E/',
          `/sync/${DB}/..`,
          '/sync/lv_directory/_local/..',
          '/sync/lv_directory/_local/%2e%2e',
          '/sync/lv_directory/./_changes',
          '/sync/lv_directory/../lv_users/_all_docs',
          '/sync/lv_directory/%2e%2e/lv_users/_all_docs',
          '/sync/lv_directory/..%2flv_users%2f_all_docs',
          '/sync/lv_directory/%2e%2e%2f_all_dbs',
          '/sync/lv_directory/..%5c',
          '/sync/lv_directory/..;/_all_dbs',
          '/sync/../api/keys',
          '/sync/%2e%2e/_all_dbs',
          '/sync/./lv_directory',
          '/sync/lv_users/_all_docs',
          '/sync/_users/_all_docs',
          '/sync/_all_dbs',
          '/sync/_config',
          '/sync/_session',
          '/sync/_replicator',
          '/sync/',
          '/sync/lv_directory%2f..',
          '/sync//lv_directory//_changes',
          '/sync/lv_directory/\\..\\',
          `/sync/${DB}/_local/../../lv_users`,
          `/sync/${DB}/entry%3A..%3A..`,
          '/api/../sync/lv_users/_all_docs',
          '/api/%2e%2e/sync/lv_users',
          '/..',
          '/./api/keys',
          '/%2e%2e/%2e%2e/etc/passwd',
          '/_app/../../../../etc/passwd'
        ];
        return ['anonymous', 'team', 'owner'].flatMap((who) => [...paths.map((p) => P(who, 'GET', p)), P(who, 'PUT', '/sync/lv_directory/..', '{}'), P(who, 'POST', '/sync/lv_directory/../lv_users/_bulk_docs', '{"docs":[]}'), P(who, 'DELETE', '/sync/lv_directory/..'), P(who, 'PUT', `/sync/${DB}/_local/..`, '{}')]);
      })()
    },
    {
      name: 'forged and garbled session cookies',
      probes: (() => {
        // Variants of a real team session of its own: a probe that logs it out ends only that one.
        const real = ctx.cookies.team2.slice('lv_session='.length);
        const [h, pl, sig] = real.split('.');
        const flip = (s) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
        const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const claims = JSON.parse(Buffer.from(pl, 'base64url').toString('utf8'));
        const values = [
          '',
          'abc',
          real.slice(0, real.length >> 1),
          `${h}.${pl}.${flip(sig)}`,
          `${h}.${b64({ ...claims, role: 'admin' })}.${sig}`,
          `${h}.${b64({ ...claims, communes: ['18073', '18070'] })}.${sig}`,
          `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, role: 'admin' })}.`,
          `${b64({ alg: 'HS512' })}.${pl}.${sig}`,
          `${b64({ alg: 'RS256' })}.${pl}.${sig}`,
          `${h}.${pl}`,
          `${h}..${sig}`,
          '...',
          'a'.repeat(8 * 1024),
          // UTF-8 bytes sent as they are (Node's client refuses characters past U+00FF in a header).
          Buffer.from('é✓\u202e', 'utf8').toString('latin1'),
          `${real}; lv_session=abc`,
          `"${real}"`,
          `${real}%00`,
          ...ctx.forged
        ];
        const targets = [
          ['GET', '/api/auth/me'],
          ['GET', `/sync/${DB}/_changes?since=0&limit=1`],
          ['POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR)] })],
          ['POST', '/api/auth/logout'],
          ['POST', '/api/auth/password', JSON.stringify({ password: 'mat-khau-dai', newPassword: 'mat-khau-moi-dai' })],
          ['POST', '/api/accounts/u-x/disable', '{}'],
          ['GET', `/api/communes/${COMMUNE}/activity`]
        ];
        const out = [];
        for (const v of values) for (const [m, p, b] of targets) out.push({ who: 'anonymous', method: m, path: p, body: b, headers: { cookie: `lv_session=${v}` } });
        // Headers past what a server reads: an enormous cookie, many cookies.
        out.push({ who: 'anonymous', method: 'GET', path: '/api/auth/me', headers: { cookie: `lv_session=${'a'.repeat(100_000)}` } });
        out.push({ who: 'anonymous', method: 'GET', path: '/api/auth/me', headers: { cookie: Array.from({ length: 2000 }, (_, i) => `c${i}=1`).join('; ') } });
        return out;
      })()
    },
    {
      name: 'oversized bodies',
      probes: (() => {
        const mb = (n, c = 'x') => `{"docs":[{"_id":"venue:${OWNED}","name":"${c.repeat(n * 1024 * 1024)}"}]}`;
        const bigDocs = (n) => JSON.stringify({ docs: Array.from({ length: n }, () => entry(OWNED)) });
        return [
          P('anonymous', 'POST', '/api/auth/login', `{"phone":"0912345678","password":"${'x'.repeat(1024 * 1024)}"}`),
          P('anonymous', 'POST', '/api/auth/login', `{"phone":"0912345678","password":"${'x'.repeat(200 * 1024)}"}`),
          P('anonymous', 'POST', '/api/auth/register', `{"phone":"0912345678","password":"${'x'.repeat(10 * 1024 * 1024)}"}`),
          P('anonymous', 'POST', '/api/tallies', `{"x":"${'x'.repeat(1024 * 1024)}"}`),
          P('anonymous', 'POST', '/api/share-codes', `{"x":"${'x'.repeat(100 * 1024)}"}`),
          P('anonymous', 'POST', '/api/diary-share', `{"x":"${'x'.repeat(2 * 1024 * 1024)}"}`),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, mb(9)),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, mb(7)),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, mb(2, 'ọ')),
          P('team', 'POST', `/sync/${DB}/_bulk_docs`, mb(20)),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, bigDocs(10_000)),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [{ ...venue(OWNED, ctx.owner.userId), junk: 'y'.repeat(1_000_000) }] })),
          P('team', 'POST', `/sync/${DB}/_revs_diff`, JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`entry:${i}`, ['1-a']])))),
          P('team', 'POST', `/sync/${DB}/_bulk_get`, JSON.stringify({ docs: Array.from({ length: 100_000 }, (_, i) => ({ id: `venue:${i}` })) })),
          P('team', 'PUT', `/sync/${DB}/_local/big`, `{"x":"${'x'.repeat(5 * 1024 * 1024)}"}`),
          P('anonymous', 'POST', '/sync/lv_directory/_bulk_get', JSON.stringify({ docs: Array.from({ length: 60_000 }, (_, i) => ({ id: `unit:${i}` })) })),
          P('anonymous', 'POST', `/sync/${DB}/_bulk_docs`, '{"docs":[' + '"x",'.repeat(2_000_000) + '"x"]}'),
          P('anonymous', 'POST', '/sync/lv_directory/_bulk_docs', '{"docs":[' + '"x",'.repeat(2_000_000) + '"x"]}'),
          P('anonymous', 'PUT', '/sync/lv_directory/_local/big', `{"x":"${'x'.repeat(100_000)}"}`),
          // A declared length larger than the body sent: the server waits, then times out or refuses.
          { who: 'anonymous', method: 'POST', path: '/api/auth/login', body: '{"phone":"0912345678","password":"x"}', headers: { 'content-length': '999999999' } },
          { who: 'team', method: 'POST', path: `/sync/${DB}/_bulk_docs`, body: '{"docs":[]}', headers: { 'content-length': String(100 * 1024 * 1024) } },
          // A header block too large for Node.
          { who: 'anonymous', method: 'GET', path: '/api/keys', headers: { 'x-junk': 'x'.repeat(64 * 1024) } },
          { who: 'anonymous', method: 'GET', path: `/api/keys?${'x'.repeat(64 * 1024)}` }
        ];
      })()
    },
    {
      name: 'duplicate submissions',
      probes: (() => {
        const e = JSON.stringify({ docs: [entry(OWNED), entry(OWNED)] });
        const ne = JSON.stringify({ docs: [{ ...entry(OWNED), _rev: '1-abcdef0123456789abcdef0123456789', _revisions: { start: 1, ids: ['abcdef0123456789abcdef0123456789'] } }], new_edits: false });
        const v = JSON.stringify({ docs: [venue(OWNED2, ctx.owner2.userId)] });
        const x = JSON.stringify({ docs: [exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR)] });
        const batchId = `probe${unique(11)}`.slice(0, 20).replace(/[^a-z0-9]/g, 'a');
        const t = tally(batchId);
        const dupIds = JSON.stringify({ docs: [entry(OWNED)].flatMap((d) => [d, d]) });
        const twice = (p) => [p, { ...p }];
        return [
          ...twice(P('owner', 'POST', `/sync/${DB}/_bulk_docs`, e)),
          ...twice(P('owner', 'POST', `/sync/${DB}/_bulk_docs`, ne)),
          ...twice(P('owner2', 'POST', `/sync/${DB}/_bulk_docs`, v)),
          ...twice(P('team', 'POST', `/sync/${DB}/_bulk_docs`, x)),
          P('owner', 'POST', `/sync/${DB}/_bulk_docs`, dupIds),
          ...twice(P('anonymous', 'POST', '/api/tallies', t)),
          ...twice(P('team', 'PUT', `/sync/${DB}/_local/probe-dup`, '{"session_id":"s","history":[]}')),
          ...twice(P('anonymous', 'PUT', '/sync/lv_directory/_local/probe-dup', '{"session_id":"s","history":[]}')),
          ...twice({ who: 'anonymous', method: 'POST', path: '/api/auth/register', body: JSON.stringify({ phone: ctx.owner2.phone, password: 'mat-khau-dai-probe' }), from: '127.0.0.9' }),
          ...twice({ who: 'anonymous', method: 'POST', path: '/api/auth/register', body: JSON.stringify({ phone: `+84${ctx.owner2.phone.slice(1)}`, password: 'mat-khau-dai-probe' }), from: '127.0.0.9' }),
          ...twice(P('spare', 'POST', '/api/auth/logout', ''))
        ];
      })()
    },
    {
      name: 'random mutations of valid documents',
      probes: (() => {
        const teamMakers = [() => venue(venueIdOf(unique(12))), () => entry('demochoducth'), () => exposure('demochoducth', Date.now() - 3 * HOUR, Date.now() - 2 * HOUR, { state: 'draft' }), caseDoc, followup];
        const ownerMakers = [() => venue(venueIdOf(unique(12)).replace(/a/g, 'b'), ctx.owner2.userId), () => entry(OWNED2), () => venue(OWNED2, ctx.owner2.userId)];
        const half = Math.ceil(opts.mutations / 2);
        return [
          ...mutatedBatches(teamMakers, half, opts.seed).map((b) => P('team', 'POST', `/sync/${DB}/_bulk_docs`, b)),
          ...mutatedBatches(ownerMakers, opts.mutations - half, opts.seed + 1).map((b) => P('owner2', 'POST', `/sync/${DB}/_bulk_docs`, b)),
          P('team', 'GET', `/sync/${DB}/_changes?style=all_docs&since=0&include_docs=true`)
        ];
      })()
    },
    {
      name: 'exposure events outside the rules',
      listAccepted: true,
      probes: (() => {
        const push = (who, doc) => P(who, 'POST', `/sync/${DB}/_bulk_docs`, JSON.stringify({ docs: [doc] }));
        const bad = [
          exposure(OWNED, now - 8 * DAY, now - DAY),
          exposure(OWNED, 0, HOUR),
          exposure(OWNED, -HOUR, 0),
          exposure(OWNED, now + DAY, now + DAY + 2 * HOUR),
          exposure(OWNED, now - 2 * HOUR, now - 3 * HOUR),
          exposure(OWNED, now - 60 * DAY, now - 60 * DAY + HOUR),
          exposure(OWNED, 8.64e15, 8.64e15 + HOUR),
          exposure(OWNED, 1.5, 2.5),
          exposure(OTHER_VENUE, now - 3 * HOUR, now - 2 * HOUR),
          exposure(OTHER_VENUE, now - 3 * HOUR, now - 2 * HOUR, { communeCode: OTHER }),
          exposure('nosuchvenue2', now - 3 * HOUR, now - 2 * HOUR),
          exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR, { widenMinutes: -60 }),
          exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR, { widenMinutes: 100_000 }),
          exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR, { level: 'apocalyptic' }),
          exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR, { message: 'x'.repeat(100_000) }),
          exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR, { state: 'signed' }),
          { ...exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR), _id: 'exposure:demochoducth:other-id' },
          { ...exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR), _id: `exposure:${OTHER_VENUE}:x${unique(15)}` }
        ];
        return [
          ...bad.map((d) => push('team', d)),
          // An owner publishing at all, and to the public database straight away.
          push('owner', exposure(OWNED, now - 3 * HOUR, now - 2 * HOUR)),
          P('team', 'POST', '/sync/lv_exposures/_bulk_docs', JSON.stringify({ docs: [exposure('demochoducth', now - 3 * HOUR, now - 2 * HOUR)] })),
          P('owner', 'POST', '/sync/lv_exposures/_bulk_docs', JSON.stringify({ docs: [exposure(OWNED, now - 3 * HOUR, now - 2 * HOUR)] }))
        ];
      })()
    },
    {
      name: 'anonymous writes',
      listAccepted: true,
      probes: (() => {
        const docs = JSON.stringify({ docs: [venue(venueIdOf(unique(12)))] });
        const out = [];
        for (const db of [DB, `lv_c_${OTHER}`, 'lv_directory', 'lv_exposures', 'lv_users', 'lv_reports', 'lv_share_codes', '_users', '_replicator', 'lv_c_99999']) {
          out.push(P('anonymous', 'POST', `/sync/${db}/_bulk_docs`, docs));
          out.push(P('anonymous', 'POST', `/sync/${db}/_bulk_docs`, JSON.stringify({ docs: [{ ...venue(venueIdOf(unique(12))), _rev: '1-abc' }], new_edits: false })));
          out.push(P('anonymous', 'PUT', `/sync/${db}/venue%3Aprobeanonymo`, JSON.stringify(venue('probeanonymo'))));
          out.push(P('anonymous', 'POST', `/sync/${db}`, JSON.stringify(venue('probeanonymp'))));
          out.push(P('anonymous', 'DELETE', `/sync/${db}/venue%3Ademochoducth?rev=1-abc`));
          out.push(P('anonymous', 'PUT', `/sync/${db}`));
          out.push(P('anonymous', 'DELETE', `/sync/${db}`));
          out.push(P('anonymous', 'PUT', `/sync/${db}/_security`, '{"members":{"names":[],"roles":[]}}'));
          out.push(P('anonymous', 'PUT', `/sync/${db}/_design/x`, '{"views":{"a":{"map":"function(d){emit(d._id)}"}}}'));
          out.push(P('anonymous', 'POST', `/sync/${db}/_purge`, '{"venue:demochoducth":["1-abc"]}'));
          out.push(P('anonymous', 'POST', `/sync/${db}/_compact`, '{}'));
          out.push(P('anonymous', 'POST', `/sync/${db}/_view_cleanup`, '{}'));
          out.push(P('anonymous', 'POST', `/sync/${db}/_ensure_full_commit`, ''));
          out.push(P('anonymous', 'PUT', `/sync/${db}/_local/probe-anon`, '{"session_id":"s","history":[]}'));
          out.push(P('anonymous', 'PUT', `/sync/${db}/_revs_limit`, '1'));
        }
        // A registered owner writing where only teams or the server write.
        for (const db of ['lv_directory', 'lv_exposures', 'lv_users', 'lv_reports', `lv_c_${OTHER}`]) out.push(P('owner', 'POST', `/sync/${db}/_bulk_docs`, docs));
        out.push(P('anonymous', 'POST', '/api/accounts/u-x/disable', '{}'));
        out.push(P('anonymous', 'POST', '/api/auth/password', '{"password":"a","newPassword":"mat-khau-moi-dai"}'));
        out.push(P('anonymous', 'POST', '/api/auth/logout-all', ''));
        out.push(P('anonymous', 'POST', '/_replicate', '{"source":"a","target":"b"}'));
        out.push(P('anonymous', 'POST', '/sync/_replicate', '{"source":"a","target":"b"}'));
        return out;
      })()
    }
  ];
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
async function login(base, phone, password, from) {
  const res = await httpRequest(`${base}/api/auth/login`, { method: 'POST', body: JSON.stringify({ phone, password }), localAddress: from });
  const cookie = sessionCookie(res.headers['set-cookie']);
  if (res.status !== 200 || !cookie) throw new Error(`login of ${phone}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
  return cookie;
}

async function register(base, phone, from) {
  const res = await httpRequest(`${base}/api/auth/register`, { method: 'POST', body: JSON.stringify({ phone, password: 'mat-khau-dai-probe' }), localAddress: from });
  const text = res.body.toString('utf8');
  if (res.status !== 201) throw new Error(`register ${phone}: ${res.status} ${text.slice(0, 200)}`);
  return { cookie: sessionCookie(res.headers['set-cookie']), userId: JSON.parse(text).userId, phone };
}

async function healthy(base, waitMs) {
  const until = performance.now() + waitMs;
  for (;;) {
    const r = await httpRequest(`${base}/api/health`).catch(() => null);
    if (r?.status === 200) return true;
    if (performance.now() > until) return false;
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function main() {
  const opts = parseFlags('probes', OPTIONS);
  const bundle = serverBundle('probes', { explicit: opts.bundle });
  const dirs = tempDirs('lv-probes-');
  const env = { DATA_DIR: dirs.data, STATIC_DIR: dirs.static, DEMO_TEAM_PASSWORD: TEAM_PASSWORD };
  let server = null;
  const loads = [{ when: 'at start', load: os.loadavg()[0] }];
  try {
    server = await spawnBenchServer(bundle, env);
    const team = server.demoTeam;
    if (!team) throw new Error('the server has no demo team (DEMO=0?)');
    const ctx = { cookies: {}, owner: null, owner2: null, forged: [] };
    // The bench's own logins come from addresses of their own: the probes' login attempts from
    // 127.0.0.1 may reach the login limit, and must not lock the bench out.
    ctx.cookies.team = await login(server.url, team.phone, team.password, '127.0.0.250');
    ctx.owner = await register(server.url, '0911000171', '127.0.0.251');
    ctx.owner2 = await register(server.url, '0911000172', '127.0.0.251');
    ctx.cookies.owner = ctx.owner.cookie;
    ctx.cookies.owner2 = ctx.owner2.cookie;
    ctx.cookies.team2 = await login(server.url, team.phone, team.password, '127.0.0.250');
    ctx.cookies.spare = await login(server.url, ctx.owner.phone, 'mat-khau-dai-probe', '127.0.0.251');
    // Fixtures: each owner's venue, a venue of another commune (written straight to its database).
    const pushVenue = async (who, doc) => {
      const r = await httpRequest(`${server.url}/sync/${DB}/_bulk_docs`, { method: 'POST', headers: { cookie: ctx.cookies[who] }, body: JSON.stringify({ docs: [doc] }) });
      if (r.status !== 201 || !JSON.parse(r.body.toString('utf8'))[0]?.ok) throw new Error(`fixture venue ${doc.venueId}: ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    };
    await pushVenue('owner', venue(OWNED, ctx.owner.userId));
    await pushVenue('owner2', venue(OWNED2, ctx.owner2.userId));
    const other = await server.storeRequest('PUT', `lv_c_${OTHER}/${encodeURIComponent(`venue:${OTHER_VENUE}`)}`, venue(OTHER_VENUE, undefined, OTHER), OTHER);
    if (!other || other.status >= 300) throw new Error(`fixture venue of ${OTHER}: ${JSON.stringify(other)}`);
    // Tokens signed with the server's real secret whose claims are wrong: no session record, odd types.
    const secret = new TextEncoder().encode(readFileSync(path.join(dirs.data, 'session-secret'), 'utf8').trim());
    const sign = (claims, sub = ctx.owner.userId, jti = 'AAAAAAAAAAAAAAAAAAAAAA') => {
      let t = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1d');
      if (sub !== null) t = t.setSubject(sub);
      if (jti !== null) t = t.setJti(jti);
      return t.sign(secret);
    };
    ctx.forged = await Promise.all([
      sign({ role: 'team', communes: [COMMUNE], sv: 0 }),
      sign({ role: 'admin', communes: [], sv: 0 }),
      sign({ role: 'team', communes: 'all', sv: 'x' }),
      sign({ role: 'team', communes: [{}, 5, COMMUNE], sv: 1e308 }),
      sign({ role: ['team'], communes: [COMMUNE] }),
      sign({ role: 'team', communes: [COMMUNE] }, null),
      sign({ role: 'team', communes: [COMMUNE] }, 'x'.repeat(10_000)),
      sign({ role: 'team', communes: [COMMUNE] }, ctx.owner.userId, null),
      sign({ role: 'team', communes: [COMMUNE] }, ctx.owner.userId, '../../lv_users'),
      sign({ role: 'owner', communes: [] }, '_design/x'),
      sign({ role: 'owner', communes: [] }, ctx.owner.userId, 'a'.repeat(64)),
      new SignJWT({ role: 'team' }).setProtectedHeader({ alg: 'HS256' }).setSubject(ctx.owner.userId).setJti('BBBBBBBBBBBBBBBBBBBBBB').setExpirationTime(1).sign(secret)
    ]);

    const all = classes(ctx, opts);
    const total = all.reduce((n, c) => n + c.probes.length, 0);
    console.log(`Lưu Vết hostile probes: ${total} probes in ${all.length} classes, one at a time, ${opts.timeout} s client timeout; mutations seeded ${opts.seed}`);
    console.log(`  server ${server.url} (child pid ${server.pid}${opts.bundle ? `, ${opts.bundle}` : ''}; store ${server.firstStorePid ? `in its own process, pid ${server.firstStorePid}` : 'in the server process'}); ${os.cpus().length} CPUs, Node ${process.version}`);

    const rows = [];
    const fiveXX = [];
    const crashes = [];
    const noReasonSamples = [];
    const noAnswerSamples = [];
    const accepted = [];
    let storePid = server.firstStorePid;
    const restart = async (why) => {
      await server.close().catch(() => {});
      server = await spawnBenchServer(bundle, env);
      storePid = server.firstStorePid;
      ctx.cookies.team = await login(server.url, team.phone, team.password, '127.0.0.250');
      console.log(`  (server restarted after: ${why})`);
    };
    const t0 = performance.now();
    for (const cls of all) {
      const row = { name: cls.name, probes: 0, s2xx: 0, s4xx: 0, s5xx: 0, other: 0, noAnswer: 0, noReason: 0, docsStored: 0, crashes: 0 };
      const c0 = performance.now();
      for (const probe of cls.probes) {
        row.probes++;
        const res = await send(server.url, probe, ctx.cookies, opts.timeout * 1000);
        if (res.error) {
          row.noAnswer++;
          if (noAnswerSamples.length < 20) noAnswerSamples.push(`${cls.name}: ${res.error}: ${describe(probe)}`);
        } else {
          const k = Math.floor(res.status / 100);
          if (k === 2) {
            row.s2xx++;
            row.docsStored += docsStored(res);
            if (cls.listAccepted || opts.verbose) accepted.push(`[${cls.name}] ${res.status} ${res.text.slice(0, 160)}\n      ← ${describe(probe).slice(0, 600)}`);
          }
          else if (k === 4) row.s4xx++;
          else if (k === 5) {
            row.s5xx++;
            fiveXX.push({ cls: cls.name, status: res.status, answer: res.text.slice(0, 200), request: describe(probe) });
          } else row.other++;
          const missing = missingReasons(res);
          if (missing) {
            row.noReason += missing;
            if (noReasonSamples.length < 20) noReasonSamples.push(`${cls.name}: ${res.status} ${res.text.slice(0, 120)} ← ${describe(probe).slice(0, 200)}`);
          }
        }
        // Did it take anything down?
        if (server.exited !== null) {
          row.crashes++;
          crashes.push({ cls: cls.name, what: `server process exited (${server.exited})`, request: describe(probe), log: server.log().slice(-5) });
          await restart('the server process exited');
          continue;
        }
        const pidNow = await server.storePid();
        if (pidNow !== storePid) {
          row.crashes++;
          crashes.push({ cls: cls.name, what: `store process changed (pid ${storePid} → ${pidNow})`, request: describe(probe), log: server.log().slice(-5) });
          if (!(await healthy(server.url, 30_000))) await restart('the store did not come back');
          storePid = await server.storePid();
        }
      }
      if (!(await healthy(server.url, 10_000))) {
        row.crashes++;
        crashes.push({ cls: cls.name, what: '/api/health not 200 within 10 s after the class', request: '(after the class)', log: server.log().slice(-5) });
        await restart('health failed');
      }
      row.seconds = Math.round((performance.now() - c0) / 100) / 10;
      rows.push(row);
      console.log(`  ${cls.name}: ${row.probes} probes, ${row.s5xx} 5xx, ${row.crashes} crashes (${row.seconds} s)`);
    }
    loads.push({ when: 'at end', load: os.loadavg()[0] });

    const sum = (k) => rows.reduce((n, r) => n + r[k], 0);
    const totals = { name: 'total', probes: sum('probes'), s2xx: sum('s2xx'), s4xx: sum('s4xx'), s5xx: sum('s5xx'), other: sum('other'), noAnswer: sum('noAnswer'), noReason: sum('noReason'), docsStored: sum('docsStored'), crashes: sum('crashes') };
    const widths = [40, 7, 6, 6, 6, 6, 10, 10, 12, 8];
    console.log('');
    console.log(tableRow(['class', 'probes', '2xx', '4xx', '5xx', 'other', 'no answer', 'no reason', 'docs stored', 'crashes'], widths));
    for (const r of [...rows, totals]) {
      if (r === totals) console.log('-'.repeat(widths.reduce((a, b) => a + b + 1, 0) - 1));
      console.log(tableRow([r.name, r.probes, r.s2xx, r.s4xx, r.s5xx, r.other, r.noAnswer, r.noReason, r.docsStored, r.crashes], widths));
    }
    console.log(`\n${Math.round((performance.now() - t0) / 1000)} s; target: 0 5xx, 0 crashes: ${totals.s5xx === 0 && totals.crashes === 0 ? 'met' : 'NOT met'}`);
    const n = os.cpus().length;
    console.log(`machine load (1-min average): ${loads.map((x) => `${x.when} ${x.load.toFixed(1)}`).join(', ')} on ${n} CPUs`);
    if (fiveXX.length) {
      console.log(`\n5xx answers (${fiveXX.length}):`);
      for (const f of fiveXX.slice(0, 40)) console.log(`  [${f.cls}] ${f.status} ${f.answer}\n      ← ${f.request}`);
    }
    if (crashes.length) {
      console.log(`\nCrashes (${crashes.length}):`);
      for (const c of crashes) console.log(`  [${c.cls}] ${c.what}\n      ← ${c.request}\n      log: ${c.log.join(' | ').slice(0, 400)}`);
    }
    if (noReasonSamples.length) {
      console.log(`\nRefusals without a reason (first ${noReasonSamples.length}):`);
      for (const s of noReasonSamples) console.log(`  ${s}`);
    }
    if (accepted.length) {
      console.log(`\n2xx answers${opts.verbose ? '' : ' where nothing should be accepted'} (${accepted.length}):`);
      for (const a of accepted) console.log(`  ${a}`);
    }
    if (noAnswerSamples.length) {
      console.log(`\nNo answer (first ${noAnswerSamples.length}):`);
      for (const s of noAnswerSamples) console.log(`  ${s}`);
    }
    console.log('');
    printResult({ probes: { classes: rows, total: totals, fiveXX: fiveXX.slice(0, 40), crashes, bundle: opts.bundle ?? 'dist/server.mjs', seed: opts.seed } });
    await server.close();
    dirs.remove();
    exitWith('probes', [...(totals.s5xx ? [`${totals.s5xx} answers were 5xx`] : []), ...(totals.crashes ? [`${totals.crashes} crashes`] : [])]);
  } catch (err) {
    await server?.close().catch(() => {});
    dirs.remove();
    exitWith('probes', err);
  }
}

await main();
