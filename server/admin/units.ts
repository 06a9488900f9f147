/**
 * `/api/admin/units/preview` and `/import`: the units CSV from the browser, read by the same rules
 * as `npm run units:import` (parseUnitsCsv), limited to the admin's unit (diffUnits). The preview
 * writes nothing; the import writes only a file without errors, and removes the stored units a
 * file of the whole subtree leaves out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import type { UnitsPreview } from '../../src/lib/core/admin';
import { diffUnits, parseUnitsCsv, unitDocId, type UnitDoc, type UnitsDiff } from '../../src/lib/core/units';
import { DB, type Store } from '../store/couch';
import { importUnits, loadUnits } from '../units';
import { writeAudit } from './audit';
import type { AdminDeps } from './accounts';
import { signedInAdmin } from './scope';

/** The whole country is about 11,000 rows (~600 kB); room for long names and extra columns. */
export const UNITS_BODY_LIMIT = 4 * 1024 * 1024;

const CsvBody = v.object({ csv: v.string() });

function unitRow(u: UnitDoc) {
  return { code: u.code, name: u.name, level: u.level, parent: u.parent };
}

function preview(parseErrors: { line: number; message: string }[], diff: UnitsDiff): UnitsPreview {
  const errors = [...parseErrors, ...diff.errors].sort((a, b) => a.line - b.line);
  return { errors, added: diff.added.map(unitRow), renamed: diff.renamed, moved: diff.moved, removed: diff.removed.map(unitRow), unchanged: diff.unchanged };
}

/** Deletes units by code (tombstones replicate to phones, which then forget them). */
async function removeUnits(store: Store, units: readonly UnitDoc[]): Promise<number> {
  if (!units.length) return 0;
  const db = store.db<UnitDoc>(DB.directory);
  let removed = 0;
  for (let i = 0; i < units.length; i += 500) {
    const keys = units.slice(i, i + 500).map((u) => unitDocId(u.code));
    const found = await db.fetchRevs({ keys });
    const docs = found.rows.flatMap((r) => ('value' in r && r.value && !(r.value as { deleted?: boolean }).deleted ? [{ _id: r.id, _rev: r.value.rev, _deleted: true }] : []));
    if (!docs.length) continue;
    const results = await db.bulk({ docs: docs as never[] });
    removed += results.filter((r) => !r.error).length;
  }
  return removed;
}

export function registerAdminUnits(app: FastifyInstance, { store, sessionOf }: AdminDeps): void {
  async function read(req: FastifyRequest, reply: FastifyReply) {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return null;
    const parsed = v.safeParse(CsvBody, req.body);
    if (!parsed.success) {
      reply.status(400).send({ error: 'bad_request', reason: 'expected {csv: the text of the file}' });
      return null;
    }
    const existing = await loadUnits(store);
    const result = parseUnitsCsv(parsed.output.csv, existing);
    const diff = diffUnits(existing, result, admin.unit);
    return { admin, result, diff, answer: preview(result.errors, diff) };
  }

  app.post('/api/admin/units/preview', { bodyLimit: UNITS_BODY_LIMIT }, async (req, reply) => {
    const done = await read(req, reply);
    return done ? done.answer : reply;
  });

  app.post('/api/admin/units/import', { bodyLimit: UNITS_BODY_LIMIT }, async (req, reply) => {
    const done = await read(req, reply);
    if (!done) return reply;
    const { admin, result, diff, answer } = done;
    if (answer.errors.length) {
      return reply.status(400).send({ error: 'csv_errors', reason: `${answer.errors.length} error${answer.errors.length > 1 ? 's' : ''} in the file: nothing was written`, ...answer });
    }
    const counts = await importUnits(store, result.units);
    const removed = await removeUnits(store, diff.removed);
    const summary = `${answer.added.length} added, ${answer.renamed.length} renamed, ${answer.moved.length} moved, ${removed} removed, ${answer.unchanged} unchanged`;
    await writeAudit(store, {
      actor: { userId: admin.userId, name: admin.name },
      unit: admin.unit,
      action: 'units.import',
      target: { kind: 'units-import', id: admin.unit, label: `${result.units.length} units` },
      detail: summary,
      facts: { added: answer.added.length, renamed: answer.renamed.length, moved: answer.moved.length, removed, unchanged: answer.unchanged }
    });
    return { ...answer, written: { ...counts, removed } };
  });
}
