/**
 * Anonymous check-in tallies (DESIGN §3): once a day a phone may send how many check-ins its diary
 * holds per venue per day, and nothing else. The server adds them into `lv_reports`, one document per
 * commune per day. This module holds what both sides need: the report's schema and caps, the pure
 * function that builds a report from the diary, and the arithmetic of a tally document.
 *
 * What a report does NOT carry, on purpose: no device or person id, no times within the day, no
 * venue names. Its `batch` is a fresh random id per report, used only so that a POST retried after a
 * lost answer is not counted twice; a stable id would let the server link a phone's days together.
 */
import * as v from 'valibot';
import { DAY, dayKey, fromVietnamLocal } from '../time';
import { UNIT_CODE_PATTERN, VENUE_ID_PATTERN } from '../venue/venue';
import { RETENTION_MAX_DAYS } from './retention';
import type { Visit } from './visit';

export const TALLY_FORMAT = 'luu-vet-tally';
export const TALLY_VERSION = 1;

/** A phone keeps at most the longest retention period of visits, so older days cannot be in a diary. */
export const TALLY_MAX_DAYS = RETENTION_MAX_DAYS;
/** Venues in one day of one phone: far above anyone's day (a delivery rider scans a few dozen places). */
export const TALLY_MAX_VENUES_PER_DAY = 100;
/**
 * Check-ins of one phone at one venue in one day. The diary merges a re-open of the same code within
 * 10 minutes into one visit (REPEAT_CHECKIN_WINDOW), so the hard ceiling is 144; a real person — a
 * market trader or a guard stepping in and out — scans a few times. 48 (once every half hour, around
 * the clock) is above any plausible day and keeps one report from weighing like a crowd.
 */
export const TALLY_MAX_COUNT = 48;
/**
 * Venue-days in one report. 28 days × 100 venues would be 2,800 entries (160 KB); no diary comes
 * near it. 1,000 is still 28 days of 35 venues a day, and keeps the body under TALLY_BODY_LIMIT. A
 * builder with more sends the oldest days first and the rest the next day.
 */
export const TALLY_MAX_ENTRIES = 1_000;
/**
 * Communes in one report. The server looks up each commune's venues, so this bounds the store reads
 * one report can cause; a commuter crosses two or three communes a day, a long-distance driver more,
 * and 100 over four weeks is still far above a real diary. A builder with more sends the rest later.
 */
export const TALLY_MAX_COMMUNES = 100;
/** The server refuses larger bodies before reading them; the largest valid report fits (tested). */
export const TALLY_BODY_LIMIT = 64 * 1024;
/** Batch ids: 20 characters of [a-z0-9], ~103 bits: never repeats by chance. */
export const TALLY_BATCH_LENGTH = 20;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

const DaySchema = v.pipe(
  v.string(),
  v.regex(DAY_PATTERN, 'a day is YYYY-MM-DD'),
  v.check((day) => fromVietnamLocal(day, '00:00') !== null, 'not a calendar day')
);

// Commune codes are the 5-digit unit codes of the national list.
const CommuneCodeSchema = v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN, 'not a unit code'), v.length(5, 'a commune code has 5 digits'));

const VenueCountSchema = v.strictObject({
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN, 'not a venue id')),
  communeCode: CommuneCodeSchema,
  count: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(TALLY_MAX_COUNT, `at most ${TALLY_MAX_COUNT} check-ins per venue per day`))
});

const TallyDaySchema = v.strictObject({
  day: DaySchema,
  venues: v.pipe(
    v.array(VenueCountSchema),
    v.minLength(1, 'a day without venues'),
    v.maxLength(TALLY_MAX_VENUES_PER_DAY, `at most ${TALLY_MAX_VENUES_PER_DAY} venues per day`),
    v.check((venues) => new Set(venues.map((x) => x.venueId)).size === venues.length, 'a venue appears twice in one day')
  )
});

/**
 * The report as sent. Strict objects: a field the schema does not know (an id, a time) is refused,
 * not silently stored or ignored, so a client cannot start leaking more than counts unnoticed.
 */
export const TallyReportSchema = v.strictObject({
  format: v.literal(TALLY_FORMAT),
  version: v.literal(TALLY_VERSION),
  batch: v.pipe(v.string(), v.regex(/^[a-z0-9]{16,32}$/, 'batch is 16–32 characters of a-z and 0-9')),
  days: v.pipe(
    v.array(TallyDaySchema),
    v.minLength(1, 'a report without days'),
    v.maxLength(TALLY_MAX_DAYS, `at most ${TALLY_MAX_DAYS} days`),
    v.check((days) => new Set(days.map((d) => d.day)).size === days.length, 'a day appears twice'),
    v.check((days) => days.reduce((n, d) => n + d.venues.length, 0) <= TALLY_MAX_ENTRIES, `at most ${TALLY_MAX_ENTRIES} venue-days per report`),
    v.check((days) => communesOf(days).size <= TALLY_MAX_COMMUNES, `at most ${TALLY_MAX_COMMUNES} communes per report`)
  )
});
export type TallyReport = v.InferOutput<typeof TallyReportSchema>;

function communesOf(days: readonly { venues: readonly { communeCode: string }[] }[], into = new Set<string>()): Set<string> {
  for (const d of days) for (const x of d.venues) into.add(x.communeCode);
  return into;
}

/**
 * The complete days a report may carry at `now`: from 28 days ago to yesterday, in Vietnam's
 * calendar. Today is never complete: a day sent too early would miss its evening's check-ins.
 * `clockSkewMs` widens the window on both ends for a receiver whose clock differs from the phone's.
 */
export function completeDays(now: number, clockSkewMs = 0): { first: string; last: string } {
  // Vietnam has no daylight saving, so `now - DAY` is always yesterday.
  return { first: dayKey(now - clockSkewMs - TALLY_MAX_DAYS * DAY), last: dayKey(now + clockSkewMs - DAY) };
}

export type TallyCheck = { ok: true; report: TallyReport } | { ok: false; reason: string };

/** Validates a report as received: its shape and caps, and that every day is complete and recent. */
export function checkTallyReport(raw: unknown, now: number, clockSkewMs = 0): TallyCheck {
  const result = v.safeParse(TallyReportSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, reason: `${v.getDotPath(issue) ?? 'report'}: ${issue.message}` };
  }
  const { first, last } = completeDays(now, clockSkewMs);
  for (const [i, d] of result.output.days.entries()) {
    if (d.day > last) return { ok: false, reason: `days.${i}.day: ${d.day} is not over yet in Vietnam` };
    if (d.day < first) return { ok: false, reason: `days.${i}.day: ${d.day} is older than ${TALLY_MAX_DAYS} days` };
  }
  return { ok: true, report: result.output };
}

/** A fresh batch id for one report; `random` is crypto.getRandomValues or node's randomBytes. */
export function newTallyBatchId(random: (n: number) => Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  // 36 does not divide 256: drop bytes ≥ 252 so every character is equally likely.
  let out = '';
  while (out.length < TALLY_BATCH_LENGTH) {
    for (const b of random(TALLY_BATCH_LENGTH)) if (b < 252 && out.length < TALLY_BATCH_LENGTH) out += alphabet[b % 36];
  }
  return out;
}

export interface BuiltTally {
  /** null when the new complete days hold no verified check-in: nothing is sent. */
  report: TallyReport | null;
  /** The last day this report covers (days with no check-in included): remember it once sent. */
  through: string;
}

/**
 * The report of the complete days after `sentThrough` (the last day already sent; null = never).
 * Only visits whose venue code was verified count: a forged or mistyped code must not add to a real
 * venue, and manual visits have no venue id. Check-ins are counted on the Vietnamese day they began.
 */
export function buildTallyReport(visits: readonly Visit[], opts: { now: number; sentThrough: string | null; batch: string }): BuiltTally {
  const { first, last } = completeDays(opts.now);
  const after = opts.sentThrough;
  // A clock set back can make the last sent day later than yesterday: nothing new then.
  if (after !== null && after >= last) return { report: null, through: after };
  const byDay = new Map<string, Map<string, { communeCode: string; count: number }>>();
  for (const visit of visits) {
    if (visit.verification !== 'verified' || !visit.venueId || !visit.communeCode) continue;
    if (!VENUE_ID_PATTERN.test(visit.venueId) || !v.is(CommuneCodeSchema, visit.communeCode)) continue;
    const day = dayKey(visit.checkin);
    if (day < first || day > last || (after !== null && day <= after)) continue;
    let venues = byDay.get(day);
    if (!venues) byDay.set(day, (venues = new Map()));
    const entry = venues.get(visit.venueId);
    if (entry) entry.count++;
    else venues.set(visit.venueId, { communeCode: visit.communeCode, count: 1 });
  }

  const days: TallyReport['days'] = [];
  let through = last;
  let entries = 0;
  const communes = new Set<string>();
  for (const day of [...byDay.keys()].sort()) {
    const venues = [...byDay.get(day)!]
      .map(([venueId, { communeCode, count }]) => ({ venueId, communeCode, count: Math.min(count, TALLY_MAX_COUNT) }))
      // Beyond the cap (never seen in a real diary) the most visited venues say the most.
      .sort((a, b) => b.count - a.count || (a.venueId < b.venueId ? -1 : 1))
      .slice(0, TALLY_MAX_VENUES_PER_DAY);
    if (entries + venues.length > TALLY_MAX_ENTRIES || communesOf([{ venues }], new Set(communes)).size > TALLY_MAX_COMMUNES) {
      // Oldest first: the rest goes in the next report, before it ages out of the window.
      through = days[days.length - 1]!.day;
      break;
    }
    entries += venues.length;
    communesOf([{ venues }], communes);
    days.push({ day, venues });
  }
  if (!days.length) return { report: null, through };
  return { report: { format: TALLY_FORMAT, version: TALLY_VERSION, batch: opts.batch, days }, through };
}

/**
 * `lv_reports` document of one commune's tallies for one day. Counts only: no address, no batch id.
 *
 * Exactly once with any number of servers on a CouchDB cluster:
 * - Each report's share of the document (a contribution) has an id the server derives from the
 *   report's random batch id and the document id under a server key (11 characters, unlinkable
 *   across documents). `seen` holds the id of every contribution added, in the same write as its
 *   counts, so a report sent again, to any server, finds its id and is not counted twice.
 * - A cluster can still keep two revisions made from the same parent (two servers' writes that
 *   reached different nodes first). `recent` keeps the last minutes' contributions with their counts,
 *   so that the losing revision's own contributions (those whose ids the winner has not seen) can be
 *   added into the winner before the loser is deleted (`mergeTallyRevisions`). A revision stops
 *   changing seconds after it loses, so minutes of `recent` always reach back to the fork.
 *
 * Size: 11 bytes per report of the commune-day in `seen` (a commune of 1,000 reporting phones: 11
 * KB); `recent` only the last TALLY_RECENT_MS (a few dozen reports for most commune-days).
 */
export interface TallyDoc {
  _id: string;
  _rev?: string;
  /** revisions that lost against this one (asked for with `conflicts=true`) */
  _conflicts?: string[];
  type: 'tally';
  schema: 1;
  communeCode: string;
  day: string;
  /** check-ins per venue id */
  venues: Record<string, number>;
  /** how many reports added to this commune-day */
  reports: number;
  /** ids of every contribution added, concatenated (CONTRIBUTION_ID_LENGTH characters each) */
  seen?: string;
  /**
   * contribution id -> when it entered this revision and what it added, for the last
   * TALLY_RECENT_MS; `first`: when it was first added, on another branch of a fork folded in since
   */
  recent?: Record<string, { at: number; venues: Record<string, number>; first?: number }>;
  /** documents written before contribution ids: random ids of their last writes (no longer used) */
  writes?: string[];
}

export const CONTRIBUTION_ID_LENGTH = 11;
/**
 * How long a contribution's counts stay in `recent`: how long a fork may go on being written on
 * both sides and still be folded back whole. Two servers racing through healthy nodes fork for one
 * write (the next is refused by the other nodes). A cluster split by the network is the long case:
 * servers writing through the cut-off node extend a branch of their own until the split heals, and
 * whichever side then loses must still list what it took in since the split. Half an hour covers
 * an outage someone is paged for; a longer one, with servers writing through the isolated node all
 * along, can lose that side's counts older than this (docs/deploy.md §3).
 */
export const TALLY_RECENT_MS = 30 * 60 * 1000;

/** The tally document id of a commune-day: ids sort by commune, then day. */
export function tallyDocId(communeCode: string, day: string): string {
  return `tally:${communeCode}:${day}`;
}

export function emptyTallyDoc(communeCode: string, day: string): TallyDoc {
  return { _id: tallyDocId(communeCode, day), type: 'tally', schema: 1, communeCode, day, venues: {}, reports: 0, seen: '', recent: {} };
}

/** The contribution ids a document holds. */
export function seenIds(doc: Pick<TallyDoc, 'seen'>): Set<string> {
  const out = new Set<string>();
  const seen = typeof doc.seen === 'string' ? doc.seen : '';
  for (let i = 0; i + CONTRIBUTION_ID_LENGTH <= seen.length; i += CONTRIBUTION_ID_LENGTH) out.add(seen.slice(i, i + CONTRIBUTION_ID_LENGTH));
  return out;
}

/**
 * A venue's pace across every server: at most `max` check-ins added to one venue of the document in
 * any `windowMs`, as the document's own `recent` shows them. Kept in the document, it holds whatever
 * server adds and costs no request of its own: the counts and the pace are decided in the same
 * revision-guarded write, so two servers racing through one node are refused as a conflict and
 * decide again on what the winner stored. On a cluster two writes can still fork the document (see
 * TallyDoc); each branch decides on what it holds, so while a fork lasts a venue-day may take the
 * pace once per branch, and folding the branches back counts their additions at their first times.
 */
export interface VenuePace {
  max: number;
  /** at most TALLY_RECENT_MS: `recent` keeps no more */
  windowMs: number;
}

/** Check-ins added per venue by the contributions of `recent` made after `since`. */
export function recentVenueCounts(doc: Pick<TallyDoc, 'recent'>, since: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of Object.values(doc.recent ?? {})) {
    const at = typeof entry?.first === 'number' ? entry.first : entry?.at;
    if (!entry || typeof at !== 'number' || at <= since || typeof entry.venues !== 'object' || !entry.venues) continue;
    for (const [venueId, n] of Object.entries(entry.venues)) if (Number.isSafeInteger(n) && n > 0) out.set(venueId, (out.get(venueId) ?? 0) + n);
  }
  return out;
}

/** What one contribution gave: counts added, and counts left out by the day's ceiling or the pace. */
export interface TallyAddition {
  accepted: number;
  overCap: number;
  overPace: number;
}

/**
 * Adds one report's counts of a commune-day into the document (mutates it). No venue-day grows past
 * `venueDayMax`, and with a pace no venue takes more than `pace.max` minus what `pace.used` holds
 * (recentVenueCounts, brought up to date here): what would overflow is ignored and returned as such.
 */
export function addTallyCounts(
  doc: TallyDoc,
  counts: ReadonlyMap<string, number>,
  venueDayMax: number,
  pace?: { max: number; used: Map<string, number> }
): TallyAddition & { added: Record<string, number> } {
  let accepted = 0;
  let overCap = 0;
  let overPace = 0;
  const added: Record<string, number> = {};
  for (const [venueId, count] of counts) {
    const current = doc.venues[venueId] ?? 0;
    const room = Math.max(0, venueDayMax - current);
    const paced = pace ? Math.max(0, pace.max - (pace.used.get(venueId) ?? 0)) : Infinity;
    const add = Math.max(0, Math.min(count, room, paced));
    if (add > 0) {
      doc.venues[venueId] = current + add;
      added[venueId] = add;
      pace?.used.set(venueId, (pace.used.get(venueId) ?? 0) + add);
    }
    accepted += add;
    // Counts a full day could not take are said as such, whatever the pace.
    const capped = Math.min(count, room) - add;
    overPace += capped;
    overCap += count - add - capped;
  }
  doc.reports += 1;
  return { accepted, overCap, overPace, added };
}

/**
 * Adds a contribution under its id (mutates the document): its counts, its id in `seen`, its counts
 * in `recent`. Null when the document holds it already: nothing changes. Entries past
 * TALLY_RECENT_MS are dropped by `pruneTallyRecent`, once per write: doing it at every addition
 * copied a busy document's `recent` once per report.
 */
export function addContribution(
  doc: TallyDoc,
  id: string,
  counts: ReadonlyMap<string, number>,
  opts: { venueDayMax: number; at: number; seen?: Set<string>; pace?: { max: number; used: Map<string, number> } }
): TallyAddition | null {
  if (id.length !== CONTRIBUTION_ID_LENGTH) throw new Error(`a contribution id has ${CONTRIBUTION_ID_LENGTH} characters`);
  const seen = opts.seen ?? seenIds(doc);
  if (seen.has(id)) return null;
  const { accepted, overCap, overPace, added } = addTallyCounts(doc, counts, opts.venueDayMax, opts.pace);
  seen.add(id);
  doc.seen = (typeof doc.seen === 'string' ? doc.seen : '') + id;
  (doc.recent ??= {})[id] = { at: opts.at, venues: added };
  delete doc.writes;
  return { accepted, overCap, overPace };
}

/**
 * What a contribution the document holds already added, when a retry finds it (its answer was lost,
 * or it went to another server): read from `recent` while it is there, with what was asked and not
 * added said as the day's ceiling when the venue-day is full, else as the pace. Null once it has
 * left `recent` (then only that it is stored is known).
 */
export function storedContribution(doc: TallyDoc, id: string, counts: ReadonlyMap<string, number>, venueDayMax: number): TallyAddition | null {
  const entry = doc.recent?.[id];
  if (!entry || typeof entry.venues !== 'object' || !entry.venues) return null;
  let accepted = 0;
  let overCap = 0;
  let overPace = 0;
  for (const [venueId, asked] of counts) {
    const n = entry.venues[venueId];
    const added = Number.isSafeInteger(n) && n! > 0 ? Math.min(n!, asked) : 0;
    accepted += added;
    if ((doc.venues[venueId] ?? 0) >= venueDayMax) overCap += asked - added;
    else overPace += asked - added;
  }
  return { accepted, overCap, overPace };
}

/** Drops the entries of `recent` older than TALLY_RECENT_MS at `at` (mutates the document). */
export function pruneTallyRecent(doc: TallyDoc, at: number): void {
  const out: NonNullable<TallyDoc['recent']> = {};
  for (const [id, entry] of Object.entries(doc.recent ?? {})) if (entry && typeof entry.at === 'number' && at - entry.at < TALLY_RECENT_MS) out[id] = entry;
  doc.recent = out;
}

/**
 * Folds revisions that lost a conflict into the winning one (mutates `winner`): every contribution
 * of a loser whose id the winner has not seen is added, with the counts the loser recorded for it.
 * Contributions both hold (made before the fork, or sent again and stored on both sides) count once.
 * Returns how many contributions were added. The losers can then be deleted.
 */
export function mergeTallyRevisions(winner: TallyDoc, losers: readonly TallyDoc[], opts: { venueDayMax: number; at: number }): number {
  const seen = seenIds(winner);
  let merged = 0;
  for (const loser of losers) {
    for (const [id, entry] of Object.entries(loser.recent ?? {})) {
      if (id.length !== CONTRIBUTION_ID_LENGTH || seen.has(id) || !entry || typeof entry.venues !== 'object') continue;
      const counts = new Map(Object.entries(entry.venues).filter(([, n]) => Number.isSafeInteger(n) && n > 0));
      // Stamped with the merge's time: should this revision lose a conflict in turn, its `recent`
      // must still carry what it took in here. The pace counts it at the time it was first added.
      addContribution(winner, id, counts, { venueDayMax: opts.venueDayMax, at: opts.at, seen });
      const first = typeof entry.first === 'number' ? entry.first : entry.at;
      if (typeof first === 'number' && winner.recent?.[id]) winner.recent[id].first = first;
      merged++;
    }
  }
  return merged;
}
