/**
 * `GET /api/reports/stats?unit=&from=&to=`: the officials' statistics of a unit for a period
 * (StatsAnswer, src/lib/core/reports/figures.ts), read from the `agg:<unit>:<day>` documents the
 * aggregates job keeps. Counts only: no name, phone, ID number or document id is in an answer.
 *
 * Who may ask: an admin for any unit at or below its own (its unit is on its account); a commune
 * team member for one of its communes (then without rows); nobody else. One key range of lv_reports
 * per answer (a day's document of a unit holds its children's figures and its communes' bitmaps),
 * so a province of 200 communes over a week is 7 documents.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import type { Session } from '../auth';
import { DB, type Store } from '../store/couch';
import { getUser } from '../users';
import { directoryReader } from '../directory';
import { activeByCommune, ancestorsOf, periodFigures, type DayAggregate, type UnitTree } from '../../src/lib/core/reports/aggregate';
import { READ_REFUSAL_REASONS, unitReadRefusal } from '../../src/lib/core/reports/access';
import { zeroFigures, type StatsAnswer } from '../../src/lib/core/reports/figures';
import { LOW_RULE, lowRuleText, rankRows, statsRow } from '../../src/lib/core/reports/low-activity';
import { currentWeek, daysBetween, isReportDay, scheduleFor } from '../../src/lib/core/reports/period';
import { dayKey } from '../../src/lib/core/time';
import { unitPath } from '../../src/lib/core/units';
import { AGG_JOB_ID, aggDocId, type AggDoc } from './aggregates';

/** The longest period one answer covers: a year and a month, for a yearly table with its margins. */
export const STATS_MAX_DAYS = 400;

const Day = v.pipe(v.string(), v.check(isReportDay, 'a day is written YYYY-MM-DD'));
const QuerySchema = v.strictObject({
  unit: v.optional(v.pipe(v.string(), v.regex(/^[0-9]{2,5}$/, 'a unit is a code of 2, 3 or 5 digits'))),
  from: v.optional(Day),
  to: v.optional(Day)
});

export function registerReportStats(
  api: FastifyInstance,
  store: Store,
  sessionOf: (req: FastifyRequest) => Promise<{ session: Session | null }>,
  now: () => number = Date.now
): void {
  const readDirectory = directoryReader(store, now);

  const bad = (reply: FastifyReply, reason: string) => reply.status(400).send({ error: 'bad_request', reason });

  api.get('/reports/stats', async (req, reply) => {
    const { session } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'unauthorized', reason: 'log in to read statistics' });
    if (session.role !== 'admin' && session.role !== 'team') return reply.status(403).send({ error: 'forbidden', reason: 'statistics are for admins and commune teams' });
    const parsed = v.safeParse(QuerySchema, req.query ?? {});
    if (!parsed.success) {
      const issue = parsed.issues[0];
      return bad(reply, `${v.getDotPath(issue) ?? 'query'}: ${issue.message}`);
    }
    const query = parsed.output;
    // An admin's unit missing from the cached tree may be new: read the tree again (admins only).
    const dir = await readDirectory(session.role === 'admin' ? query.unit : undefined);

    // Whose unit: an admin's from its account as it is now (its own by default); a team's first commune by default.
    const own = session.role === 'admin' ? ((await getUser(store, session.userId))?.unit ?? null) : null;
    const code = query.unit ?? (session.role === 'admin' ? (own ?? '') : (session.communes[0] ?? ''));
    if (session.role === 'admin' && own && !dir.tree.byCode.has(code)) return bad(reply, `unit: no unit ${code} in the directory`);
    const refusal = unitReadRefusal({ role: session.role, communes: session.communes, unit: own }, code, dir.tree.byCode);
    if (refusal) return reply.status(403).send({ error: 'forbidden', reason: READ_REFUSAL_REASONS[refusal] });
    const unit = dir.tree.byCode.get(code) ?? { code, name: code, level: 'commune' as const, parent: null };

    // The period: as asked, or the unit's current report week.
    let from: string;
    let to: string;
    if (query.from === undefined && query.to === undefined) {
      const week = currentWeek(scheduleFor(unitPath(dir.units, code), dir.schedules), dayKey(now()));
      ({ from, to } = week);
    } else if (query.from === undefined || query.to === undefined) {
      return bad(reply, 'give both from and to, or neither for the current report week');
    } else {
      ({ from, to } = query as { from: string; to: string });
      if (from > to) return bad(reply, 'from must not be after to');
      if (daysBetween(from, to).length > STATS_MAX_DAYS) return bad(reply, `a period is at most ${STATS_MAX_DAYS} days`);
    }

    const [aggs, job] = await Promise.all([readAggs(store, code, from, to), readJob(store)]);
    // Days up to today: a week still running ends today in the chart, not with days of zeros.
    const today = dayKey(now());
    const byDay = new Map(aggs.map((a) => [a.day, a]));
    const days = daysBetween(from, to < today ? to : today).map((day) => ({ day, figures: byDay.get(day)?.figures ?? zeroFigures() }));

    // Rows: the unit's children by the current tree; each child's venues from its communes' bitmaps.
    const children = session.role === 'admin' ? (dir.tree.children.get(code) ?? []) : [];
    const active = activeByCommune(aggs);
    const childOf = new Map<string, string>();
    if (children.length) {
      const kids = new Set(children.map((c) => c.code));
      for (const commune of active.keys()) {
        const child = commune === code ? null : [commune, ...ancestorsBelow(dir.tree, commune, code)].find((c) => kids.has(c));
        if (child) childOf.set(commune, child);
      }
    }
    const rows = rankRows(children.map((child) => statsRow(child, periodFigures(aggs, (d) => d.children[child.code], (commune) => childOf.get(commune) === child.code, active))));
    const answer: StatsAnswer = {
      unit: { code: unit.code, name: unit.name, level: unit.level },
      from,
      to,
      updatedAt: job?.updatedAt ?? null,
      totals: periodFigures(aggs, undefined, undefined, active),
      rows,
      days,
      lowRule: { minShareActive: LOW_RULE.minShareActive, text: lowRuleText(LOW_RULE) }
    };
    reply.header('Cache-Control', 'private, no-store');
    return answer;
  });
}

/** The commune's ancestors strictly below `top`, nearest first. */
function ancestorsBelow(tree: UnitTree, commune: string, top: string): string[] {
  const up = ancestorsOf(tree, commune);
  const at = up.indexOf(top);
  return at < 0 ? up : up.slice(0, at);
}

async function readAggs(store: Store, unit: string, from: string, to: string): Promise<DayAggregate[]> {
  const res = await store.request('GET', `${DB.reports}/_all_docs`, {
    query: new URLSearchParams({ startkey: JSON.stringify(aggDocId(unit, from)), endkey: JSON.stringify(aggDocId(unit, to)), include_docs: 'true' })
  });
  if (res.status !== 200) throw new Error(`reading aggregates answered ${res.status}`);
  return ((res.body as { rows?: { doc?: AggDoc | null }[] }).rows ?? [])
    .map((r) => r.doc)
    .filter((d): d is AggDoc => d?.type === 'agg' && d.unit === unit)
    .sort((a, b) => (a.day < b.day ? -1 : 1));
}

async function readJob(store: Store): Promise<{ updatedAt: string | null } | null> {
  const res = await store.request('GET', `${DB.reports}/${AGG_JOB_ID}`);
  return res.status === 200 ? (res.body as { updatedAt: string | null }) : null;
}
