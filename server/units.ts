/**
 * Administrative units and zone levels in `lv_directory` (DESIGN §4): bulk import of what
 * src/lib/core/units.ts parsed, and the demo units a newcomer's server starts with.
 */
import { readFile } from 'node:fs/promises';
import type { DocumentScope } from 'nano';
import { parseUnitsCsv, parseZonesCsv, unitDocId, zoneDocId, type UnitDoc, type ZoneDoc } from '../src/lib/core/units';
import { DB, getOrNull, type Store } from './store/couch';

export interface ImportCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** Documents a _bulk_docs request carries; CouchDB's own limit is far above, this keeps requests around 100 kB. */
const BATCH = 500;
/** Rounds of retry for documents that another writer changed between our read and our write. */
const CONFLICT_ROUNDS = 3;

/** Writes units into lv_directory: new ones created, changed ones updated, the same ones left alone. */
export function importUnits(store: Store, units: readonly UnitDoc[]): Promise<ImportCounts> {
  return upsertDocs(store.db<UnitDoc>(DB.directory), units);
}

/** Writes zone levels into lv_directory, as importUnits does units. */
export function importZones(store: Store, zones: readonly ZoneDoc[]): Promise<ImportCounts> {
  return upsertDocs(store.db<ZoneDoc>(DB.directory), zones);
}

/** All units in lv_directory (the whole country is about 11,000), in code order. */
export async function loadUnits(store: Store): Promise<UnitDoc[]> {
  const db = store.db<UnitDoc>(DB.directory);
  const out: UnitDoc[] = [];
  const page = 5000;
  let startkey = 'unit:';
  for (;;) {
    const res = await db.list({ startkey, endkey: 'unit:\ufff0', include_docs: true, limit: page + 1 });
    const rows = res.rows;
    for (const row of rows.slice(0, page)) {
      const doc = row.doc as (UnitDoc & { _deleted?: boolean }) | undefined;
      if (doc && doc.type === 'unit') out.push(stripRev(doc));
    }
    if (rows.length <= page) return out;
    startkey = rows[page]!.id;
  }
}

function stripRev<T extends { _rev?: string }>(doc: T): T {
  const { _rev: _ignored, ...rest } = doc;
  return rest as T;
}

/** Content of a document without CouchDB's own fields, with keys in a stable order, for comparing. */
function content(doc: object): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([k]) => !k.startsWith('_'))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => [k, sorted(v)])
      );
    }
    return value;
  };
  return JSON.stringify(sorted(doc));
}

type Writable = { _id: string; _rev?: string };

async function upsertDocs<T extends Writable>(db: DocumentScope<T>, docs: readonly T[]): Promise<ImportCounts> {
  const ids = new Set<string>();
  for (const doc of docs) {
    if (ids.has(doc._id)) throw new Error(`import: ${doc._id} appears twice`);
    ids.add(doc._id);
  }
  const counts: ImportCounts = { created: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < docs.length; i += BATCH) await upsertBatch(db, docs.slice(i, i + BATCH), counts);
  return counts;
}

async function upsertBatch<T extends Writable>(db: DocumentScope<T>, batch: readonly T[], counts: ImportCounts): Promise<void> {
  let pending = batch;
  for (let round = 1; pending.length; round++) {
    // What is stored now (POST _all_docs with keys, bodies included to skip unchanged documents).
    const found = await db.fetch({ keys: pending.map((d) => d._id) }, { include_docs: true });
    const stored = new Map<string, { rev: string; doc: object | null }>();
    for (const row of found.rows) {
      if ('value' in row && row.value && !('error' in row && row.error)) {
        const deleted = (row.value as { deleted?: boolean }).deleted === true;
        stored.set(row.id, { rev: row.value.rev, doc: deleted ? null : (row.doc ?? null) });
      }
    }
    const writes: { doc: T; kind: 'created' | 'updated' }[] = [];
    for (const doc of pending) {
      const { _rev: _ignored, ...body } = doc;
      const current = stored.get(doc._id);
      if (current?.doc && content(current.doc) === content(body)) counts.unchanged++;
      else if (current?.doc) writes.push({ doc: { ...body, _rev: current.rev } as T, kind: 'updated' });
      // New, or deleted: written without a _rev. A deleted document comes back on top of its
      // tombstone as a creation; CouchDB refuses the tombstone's _rev there as a conflict (PouchDB
      // takes either).
      else writes.push({ doc: body as T, kind: 'created' });
    }
    if (!writes.length) return;
    const results = await db.bulk({ docs: writes.map((w) => w.doc) });
    const byId = new Map(results.map((r) => [r.id, r]));
    const conflicts: T[] = [];
    const failures: string[] = [];
    for (const w of writes) {
      const r = byId.get(w.doc._id);
      if (r && !r.error) counts[w.kind]++;
      else if (r?.error === 'conflict') conflicts.push(pending.find((d) => d._id === w.doc._id)!);
      else failures.push(`${w.doc._id}: ${r ? `${r.error} ${r.reason ?? ''}`.trim() : 'no answer'}`);
    }
    if (failures.length) throw new Error(`import: ${failures.length} document(s) not written (${failures.slice(0, 3).join('; ')})`);
    if (conflicts.length && round >= CONFLICT_ROUNDS) {
      throw new Error(`import: ${conflicts.length} document(s) kept changing while being imported (${conflicts[0]!._id}…)`);
    }
    pending = conflicts;
  }
}

/**
 * Reads a file of server/data/, from the sources (server/units.ts) or from the bundle
 * (dist/server.mjs, next to server/ in the project).
 */
async function readDataFile(name: string): Promise<string> {
  const candidates = [new URL(`./data/${name}`, import.meta.url), new URL(`../server/data/${name}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return await readFile(url, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error(`demo data server/data/${name} not found`);
}

export interface DemoUnitsResult {
  units: ImportCounts;
  zones: ImportCounts;
}

/**
 * Imports server/data/units-demo.csv and zones-demo.csv when the directory has no unit 42 (Tỉnh Hà
 * Tĩnh), i.e. on a fresh store; returns null when there was nothing to do. Call after store.bootstrap().
 * Once an admin has imported the official list (which has unit 42), it never runs again.
 */
export async function seedDemoUnits(store: Store): Promise<DemoUnitsResult | null> {
  if (await getOrNull(store.db<UnitDoc>(DB.directory), unitDocId('42'))) return null;
  const parsedUnits = parseUnitsCsv(await readDataFile('units-demo.csv'));
  if (parsedUnits.errors.length) throw new Error(`units-demo.csv: ${formatErrors(parsedUnits.errors)}`);
  const codes = new Set(parsedUnits.units.map((u) => u.code));
  const parsedZones = parseZonesCsv(await readDataFile('zones-demo.csv'), codes);
  if (parsedZones.errors.length) throw new Error(`zones-demo.csv: ${formatErrors(parsedZones.errors)}`);
  // Zones first, units last: unit:42 is the "already seeded" mark, so an interrupted seed runs again.
  const zones = await importZones(store, parsedZones.zones);
  const units = await importUnits(store, parsedUnits.units);
  return { units, zones };
}

/** The demo's made-up province (units-demo.csv): a code the national list does not use. */
const EXAMPLE_PROVINCE = '99';

/**
 * With demo data off, the demo's made-up province leaves the directory: a server that once ran the
 * demo (the default of `npm start`) would otherwise offer "Tỉnh Ví Dụ" in every province and commune
 * list. Only documents that are still exactly the demo's are deleted (an admin's own unit 99 stays),
 * and their zone levels with them. The real provinces of the demo are left to the official import.
 * Returns how many documents went.
 */
export async function removeExampleProvince(store: Store): Promise<number> {
  const parsed = parseUnitsCsv(await readDataFile('units-demo.csv'));
  const example = new Map<string, UnitDoc>();
  for (const unit of parsed.units) {
    if (unit.code === EXAMPLE_PROVINCE || (unit.parent !== null && example.has(unit.parent))) example.set(unit.code, unit);
  }
  const db = store.db<UnitDoc | ZoneDoc>(DB.directory);
  const units = await db.fetch({ keys: [...example.keys()].map(unitDocId) });
  const gone = units.rows.flatMap((row) => {
    const doc = 'doc' in row ? (row.doc as (UnitDoc & { _rev: string }) | null | undefined) : undefined;
    const demo = doc ? example.get(doc.code) : undefined;
    return doc && demo && content(demo) === content(doc) ? [doc] : [];
  });
  if (gone.length === 0) return 0;
  const zones = await db.fetch({ keys: gone.map((u) => zoneDocId(u.code)) });
  const deletions = [...gone, ...zones.rows.flatMap((row) => ('doc' in row && row.doc ? [row.doc as ZoneDoc & { _rev: string }] : []))].map((d) => ({
    _id: d._id,
    _rev: d._rev,
    _deleted: true
  }));
  await db.bulk({ docs: deletions as never[] });
  return deletions.length;
}

function formatErrors(errors: readonly { line: number; message: string }[]): string {
  return errors.map((e) => `line ${e.line}: ${e.message}`).join('; ');
}
