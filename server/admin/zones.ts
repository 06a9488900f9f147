/**
 * `/api/admin/zones` and `/api/admin/schedule`: an admin sets the zone level (cấp độ 1–4) of a unit
 * at or under its own, with the day it took effect and a note, and the report days of a unit. Both
 * live in lv_directory (`zone:<code>`, `schedule:<code>`), which phones and checkpoints replicate:
 * nothing else carries a change to them. Zone history goes to lv_users (`zonehist:<code>:<ISO>`).
 */
import type { FastifyInstance } from 'fastify';
import * as v from 'valibot';
import type { ZoneHistoryRow, ZoneRow } from '../../src/lib/core/admin';
import { addDays, scheduleDocId, type ScheduleDoc, type Weekday } from '../../src/lib/core/reports/period';
import { cleanLine } from '../../src/lib/core/text';
import { dayKey } from '../../src/lib/core/time';
import { effectiveZoneLevel, isDay, ownZoneOn, unitWithin, ZONE_NOTE_MAX, zoneDocId, type ZoneDoc, type ZoneLevel } from '../../src/lib/core/units';
import { DB, getOrNull, type Store } from '../store/couch';
import { writeAudit } from './audit';
import type { AdminDeps } from './accounts';
import { loadUnitTree, signedInAdmin } from './scope';

interface ZoneHistoryDoc extends ZoneHistoryRow {
  _id: string;
  type: 'zonehist';
  schema: 1;
  /** userId of the admin */
  byUserId: string;
}

/** History rows an answer carries at most, newest first. */
const HISTORY_MAX = 500;
/** How far from today a level's day may lie: a typo of the year is not a decision. */
const SINCE_RANGE_DAYS = 366;

const ZoneChange = v.object({
  code: v.pipe(v.string(), v.regex(/^[0-9]{2,5}$/)),
  level: v.nullable(v.picklist([1, 2, 3, 4])),
  since: v.optional(v.pipe(v.string(), v.maxLength(10)), ''),
  note: v.optional(v.pipe(v.string(), v.maxLength(ZONE_NOTE_MAX * 4)), '')
});

const ScheduleChange = v.object({
  code: v.pipe(v.string(), v.regex(/^[0-9]{2,5}$/)),
  weekday: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7)),
  monthDay: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(28))
});

const LEVEL_WORDS: Record<ZoneLevel, string> = { 1: '1 (xanh)', 2: '2 (vàng)', 3: '3 (cam)', 4: '4 (đỏ)' };

export function registerAdminZones(app: FastifyInstance, { store, sessionOf }: AdminDeps): void {
  const directory = () => store.db<ZoneDoc | ScheduleDoc>(DB.directory);

  app.get('/api/admin/zones', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const { tree, list } = await loadUnitTree(store);
    const zoneDocs = (await store.docsByPrefix<ZoneDoc>(DB.directory, 'zone:')) ?? [];
    const zones = new Map(zoneDocs.filter((z) => z.type === 'zone').map((z) => [z.code, z]));
    const inside = list.filter((u) => unitWithin(tree, u.code, admin.unit));
    const units: ZoneRow[] = inside.map((u) => {
      const own = zones.get(u.code);
      return {
        code: u.code,
        name: u.name,
        level: u.level,
        parent: u.parent,
        zone: own ? { level: own.level, since: own.since, note: own.note ?? '' } : null,
        effective: effectiveZoneLevel(list, zones, u.code)
      };
    });
    const codes = new Set(inside.map((u) => u.code));
    const history = ((await store.docsByPrefix<ZoneHistoryDoc>(DB.users, 'zonehist:')) ?? [])
      .filter((h) => h.type === 'zonehist' && codes.has(h.code))
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .slice(0, HISTORY_MAX)
      .map(({ code, level, since, note, at, by }): ZoneHistoryRow => ({ code, level, since, note, at, by }));
    return { units, history };
  });

  app.post('/api/admin/zones', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const parsed = v.safeParse(ZoneChange, req.body);
    if (!parsed.success) return reply.status(400).send({ error: 'bad_request', reason: 'expected {code, level: 1–4 or null, since: YYYY-MM-DD, note}' });
    const { code, level } = parsed.output;
    const note = cleanLine(parsed.output.note);
    if (note.length > ZONE_NOTE_MAX) return reply.status(400).send({ error: 'bad_note', reason: `the note has more than ${ZONE_NOTE_MAX} characters` });
    const today = dayKey(Date.now());
    const since = parsed.output.since || today;
    if (level !== null) {
      if (!isDay(since)) return reply.status(400).send({ error: 'bad_since', reason: 'since is a day written YYYY-MM-DD' });
      if (since < addDays(today, -SINCE_RANGE_DAYS) || since > addDays(today, SINCE_RANGE_DAYS)) {
        return reply.status(400).send({ error: 'bad_since', reason: 'since lies more than a year from today' });
      }
    }
    const { tree, byCode } = await loadUnitTree(store);
    const unit = byCode.get(code);
    if (!unit) return reply.status(404).send({ error: 'not_found', reason: 'no such unit in the directory' });
    if (!unitWithin(tree, code, admin.unit)) return reply.status(403).send({ error: 'outside_unit', reason: `unit ${code} lies outside your unit ${admin.unit}` });

    const db = directory();
    const current = (await getOrNull(db, zoneDocId(code))) as (ZoneDoc & { _rev: string }) | null;
    if (level === null) {
      if (current) await db.destroy(current._id, current._rev);
    } else {
      // A level from a later day replaces nothing yet: until then the unit keeps the level it has today.
      const before = since > today ? (ownZoneOn(current ?? undefined, today) ?? null) : undefined;
      const doc: ZoneDoc = { _id: zoneDocId(code), type: 'zone', schema: 1, code, level: level as ZoneLevel, since, ...(note ? { note } : {}), ...(before !== undefined ? { before } : {}) };
      await db.insert(current ? { ...doc, _rev: current._rev } : doc);
    }
    const at = new Date().toISOString();
    const history: ZoneHistoryDoc = {
      _id: `zonehist:${code}:${at}`,
      type: 'zonehist',
      schema: 1,
      code,
      level: level as ZoneLevel | null,
      since: level === null ? '' : since,
      note,
      at,
      by: admin.name,
      byUserId: admin.userId
    };
    await store.db<ZoneHistoryDoc>(DB.users).insert(history);
    await writeAudit(store, {
      actor: { userId: admin.userId, name: admin.name },
      unit: code,
      action: level === null ? 'zone.clear' : 'zone.set',
      target: { kind: 'zone', id: code, label: unit.name },
      detail: level === null ? 'own level removed: the unit takes its parent’s' : `level ${LEVEL_WORDS[level as ZoneLevel]} since ${since}${note ? `: ${note}` : ''}`,
      facts: { level: level as ZoneLevel | null, since: level === null ? '' : since, note: level === null ? '' : note }
    });
    return { ok: true };
  });

  app.post('/api/admin/schedule', async (req, reply) => {
    const admin = await signedInAdmin(store, sessionOf, req, reply);
    if (!admin) return reply;
    const parsed = v.safeParse(ScheduleChange, req.body);
    if (!parsed.success) return reply.status(400).send({ error: 'bad_request', reason: 'expected {code, weekday: 1 (Monday) to 7 (Sunday), monthDay: 1 to 28}' });
    const { code, weekday, monthDay } = parsed.output;
    const { tree, byCode } = await loadUnitTree(store);
    const unit = byCode.get(code);
    if (!unit) return reply.status(404).send({ error: 'not_found', reason: 'no such unit in the directory' });
    if (!unitWithin(tree, code, admin.unit)) return reply.status(403).send({ error: 'outside_unit', reason: `unit ${code} lies outside your unit ${admin.unit}` });
    const db = directory();
    const doc: ScheduleDoc = { _id: scheduleDocId(code), type: 'schedule', schema: 1, code, weekday: weekday as Weekday, monthDay };
    for (let attempt = 0; ; attempt++) {
      const current = await getOrNull(db, doc._id);
      try {
        await db.insert(current ? { ...doc, _rev: current._rev } : doc);
        break;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409 || attempt >= 3) throw err;
      }
    }
    await writeAudit(store, {
      actor: { userId: admin.userId, name: admin.name },
      unit: code,
      action: 'schedule.set',
      target: { kind: 'schedule', id: code, label: unit.name },
      detail: `weekly report on ISO weekday ${weekday}, monthly before day ${monthDay}`,
      facts: { weekday, monthDay }
    });
    return { ok: true };
  });
}
