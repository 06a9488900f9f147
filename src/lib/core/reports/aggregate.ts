/**
 * The arithmetic of the officials' statistics (DESIGN §12): a commune's documents and its tallies
 * become per-day counts (Figures) of the Vietnam calendar, which roll up commune → district →
 * province. Pure TypeScript: the server's aggregates job builds with it, `/api/reports/stats`
 * and the PWA read with it.
 *
 * Incremental form. Each commune has a ledger: what the job has learnt from the commune database's
 * `_changes` (and the commune's tally documents), small enough to keep and store as one document.
 * A batch of changes updates the ledger; the figures of a commune-day are derived from it.
 *
 * Rules, and why:
 * - Station entries are immutable and retention deletes them after 21 days: an entry counts once,
 *   when first seen alive (revision 1, the only one an entry has), on the day of its `time`; its
 *   deletion changes nothing. The per-day counts live in the ledger, so a past day never shrinks.
 * - A station's correction of an entry (a wrong direction, a mistaken scan removed) is its own
 *   immutable document (`entryfix`, from → to): it counts once, like an entry, as the difference it
 *   makes ('in' counts 1, 'out' and 'removed' 0), so the sum is right in whatever order the entry
 *   and its corrections arrive. A venue stays active on a day whose scans were all removed.
 *   A full rebuild replays every live document, and keeps the ledger's counts of the days that
 *   retention has already emptied (see `startRebuild`).
 * - A checkpoint is a venue of type 'checkpoint': an 'in' entry there is an arrival, a risk arrival
 *   when its declaration says the traveller came from a unit at zone level 3 or 4. Checkpoints are
 *   not venues in the venue counts (they are the team's, not a place that prints a poster).
 * - `entries` counts the 'in' scans of venue stations (a person's visit); any scan, in or out, makes
 *   the venue active that day.
 * - A venue is registered from the day of its `createdAt` (the day the job first saw it when it has
 *   none) until its document is deleted. A suspended venue stays registered; "active" counts use
 *   (a station entry or a tallied check-in), whatever its status: a venue suspended on Wednesday
 *   that had entries on Monday is active in that week, and not active on the days after, as nobody
 *   can check in there.
 * - Tallies (`tally:<commune>:<day>`) are the whole day's counts so far, and may change days later
 *   (phones send once a day, some late): the newest version of a day's document replaces that day.
 * - Cases count on their `confirmedOn` day, once per case; contacts are under follow-up from the
 *   day of the contact until the day their follow-up is closed (not included); exposure events
 *   count on the day they were first seen published.
 *
 * Distinct active venues over a period: every venue of a commune gets a small index in the ledger,
 * and each commune-day keeps a bitmap of the indexes active that day; OR over the days and count
 * the bits. Venues belong to one commune, so a unit's distinct count is the sum of its communes'.
 */
import type { UnitDoc } from '../units';
import { dayKey } from '../time';
import { FIGURE_KEYS, zeroFigures, type Figures } from './figures';

// ---------------------------------------------------------------------------------------------
// Bitmaps of venue indexes (base64 when stored)
// ---------------------------------------------------------------------------------------------

export function setBit(bits: Uint8Array, i: number): Uint8Array {
  const need = (i >> 3) + 1;
  let out = bits;
  if (out.length < need) {
    out = new Uint8Array(Math.max(need, out.length * 2, 8));
    out.set(bits);
  }
  out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function hasBit(bits: Uint8Array, i: number): boolean {
  return (i >> 3) < bits.length && ((bits[i >> 3]! >> (i & 7)) & 1) === 1;
}

export function orBits(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const out = Uint8Array.from(long);
  for (let i = 0; i < short.length; i++) out[i]! |= short[i]!;
  return out;
}

const POP = Uint8Array.from({ length: 256 }, (_, n) => {
  let c = 0;
  for (let x = n; x; x >>= 1) c += x & 1;
  return c;
});

export function countBits(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) n += POP[b]!;
  return n;
}

/** Trailing zero bytes dropped, so equal sets have one stored form. */
function trim(bits: Uint8Array): Uint8Array {
  let end = bits.length;
  while (end > 0 && bits[end - 1] === 0) end--;
  return bits.subarray(0, end);
}

export function bitsToBase64(bits: Uint8Array): string {
  const t = trim(bits);
  let s = '';
  for (const b of t) s += String.fromCharCode(b);
  return btoa(s);
}

export function bitsFromBase64(text: string): Uint8Array {
  try {
    const s = atob(text);
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}

// ---------------------------------------------------------------------------------------------
// The commune ledger
// ---------------------------------------------------------------------------------------------

export interface VenueState {
  /** index of the venue in the commune's bitmaps */
  i: number;
  /** its venue document has been seen (a tally or an entry can name a venue first) */
  known: boolean;
  checkpoint: boolean;
  /** day registered; null while unknown */
  created: string | null;
  /** day its document was seen deleted; null while it lives */
  deleted: string | null;
}

export interface StationDay {
  entries: number;
  arrivals: number;
  arrivalsRisk: number;
  active: Uint8Array;
}

export interface TallyDay {
  checkins: number;
  active: Uint8Array;
}

export interface CommuneLedger {
  commune: string;
  nextIndex: number;
  venues: Map<string, VenueState>;
  station: Map<string, StationDay>;
  tallies: Map<string, TallyDay>;
  /** case (by docKey) → day confirmed */
  cases: Map<string, string>;
  /** contact follow-up (by docKey) → [first day under follow-up, day closed (not included) or null] */
  contacts: Map<string, [string, string | null]>;
  /** exposure draft (by docKey) → day first seen published */
  exposures: Map<string, string>;
}

export function emptyLedger(commune: string): CommuneLedger {
  return { commune, nextIndex: 0, venues: new Map(), station: new Map(), tallies: new Map(), cases: new Map(), contacts: new Map(), exposures: new Map() };
}

/** One row of a CouchDB `_changes` answer with `include_docs=true` (deletions included). */
export interface DocChange {
  id: string;
  deleted?: boolean;
  doc?: Record<string, unknown> | null;
}

export interface ApplyContext {
  /** the instant the job runs: the day a deletion or a venue without createdAt is dated */
  now: number;
  /**
   * Rebuild mode: every live entry counts (not only first revisions), except those of days up to
   * and including `keepThrough`, whose counts the ledger kept from before (retention emptied them).
   */
  rebuild?: { keepThrough: string | null };
}

const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const DAY_TEXT = /^\d{4}-\d{2}-\d{2}$/;
const isoDay = (iso: unknown, fallback: string): string => {
  const ms = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? dayKey(ms) : fallback;
};

/**
 * The key a ledger files a case, follow-up or exposure draft under: a 64-bit FNV-1a hash of its id,
 * not the id. A follow-up's id holds the entry that found the person (venue and time): the ledger,
 * stored in lv_reports, needs to tell documents apart, not to know which visit they came from.
 */
export function docKey(id: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(36) + '.' + h2.toString(36);
}

function venueOf(ledger: CommuneLedger, venueId: string): VenueState {
  let v = ledger.venues.get(venueId);
  if (!v) {
    v = { i: ledger.nextIndex++, known: false, checkpoint: false, created: null, deleted: null };
    ledger.venues.set(venueId, v);
  }
  return v;
}

/**
 * Venue ids that entries of this batch name and the ledger does not know yet: the caller reads
 * those venue documents and passes them in the same batch, so that an arrival at a checkpoint is
 * not taken for a station entry (a venue's latest change often comes after its entries' in the feed).
 */
export function unknownVenues(ledger: CommuneLedger, changes: readonly DocChange[]): string[] {
  const inBatch = new Set<string>();
  for (const c of changes) if (c.doc && c.doc.type === 'venue' && !c.deleted) inBatch.add(String(c.doc.venueId));
  const out = new Set<string>();
  for (const c of changes) {
    const d = c.doc;
    if (!d || c.deleted || (d.type !== 'entry' && d.type !== 'entryfix')) continue;
    const id = str(d.venueId);
    if (id && !inBatch.has(id) && !ledger.venues.get(id)?.known) out.add(id);
  }
  return [...out];
}

function revGeneration(doc: Record<string, unknown>): number {
  const rev = str(doc._rev);
  return rev ? Number.parseInt(rev, 10) : 1;
}

/**
 * The venue and day a station entry or a correction counts on, or null when this change is not
 * counted: malformed, a day a rebuild keeps from before, or a later revision of a stored document.
 * Entries and corrections are write-once: only their first revision counts.
 */
function stationChange(doc: Record<string, unknown>, ctx: ApplyContext): { venueId: string; day: string } | null {
  const venueId = str(doc.venueId);
  const time = num(doc.time);
  if (!venueId || time === null) return null;
  const day = dayKey(time);
  if (ctx.rebuild) {
    if (ctx.rebuild.keepThrough !== null && day <= ctx.rebuild.keepThrough) return null;
  } else if (revGeneration(doc) !== 1) return null;
  return { venueId, day };
}

function stationDay(ledger: CommuneLedger, day: string) {
  let s = ledger.station.get(day);
  if (!s) ledger.station.set(day, (s = { entries: 0, arrivals: 0, arrivalsRisk: 0, active: new Uint8Array(0) }));
  return s;
}

/**
 * Applies a batch of a commune database's changes to its ledger (mutates it). Venue documents are
 * applied first, whatever their place in the batch. Returns the earliest day whose figures may have
 * changed, or null when none did.
 */
export function applyChanges(ledger: CommuneLedger, changes: readonly DocChange[], ctx: ApplyContext): string | null {
  const today = dayKey(ctx.now);
  let earliest: string | null = null;
  const touch = (day: string) => {
    if (earliest === null || day < earliest) earliest = day;
  };
  const ordered = [...changes].sort((a, b) => Number(b.id.startsWith('venue:')) - Number(a.id.startsWith('venue:')));
  for (const change of ordered) {
    const doc = change.doc ?? null;
    const deleted = change.deleted === true || doc?._deleted === true;
    const kind = change.id.slice(0, change.id.indexOf(':'));
    const key = docKey(change.id);
    if (kind === 'venue') {
      const venueId = change.id.slice('venue:'.length);
      if (deleted) {
        const v = ledger.venues.get(venueId);
        if (v && v.known && v.deleted === null) {
          v.deleted = today;
          touch(today);
        }
        continue;
      }
      if (!doc || doc.type !== 'venue') continue;
      const v = venueOf(ledger, venueId);
      const checkpoint = doc.venueType === 'checkpoint';
      const created = v.created ?? isoDay(doc.createdAt, today);
      if (!v.known || v.checkpoint !== checkpoint || v.deleted !== null || v.created !== created) {
        touch(v.created !== null && v.created < created ? v.created : created);
        if (v.deleted !== null) touch(v.deleted);
      }
      v.known = true;
      v.checkpoint = checkpoint;
      v.created = created;
      v.deleted = null;
      continue;
    }
    if (deleted || !doc) {
      // Deletions leave the past as it was; a contact's follow-up ends the day it disappears.
      if (kind === 'followup') {
        const c = ledger.contacts.get(key);
        if (c && c[1] === null) {
          c[1] = today;
          touch(today);
        }
      }
      continue;
    }
    switch (doc.type) {
      case 'entry': {
        const counted = stationChange(doc, ctx);
        if (!counted) break;
        const { venueId, day } = counted;
        const v = venueOf(ledger, venueId);
        const s = stationDay(ledger, day);
        const inward = doc.direction === 'in';
        if (v.checkpoint) {
          if (inward) {
            s.arrivals++;
            const zone = num((doc.declaration as Record<string, unknown> | undefined)?.fromZone);
            if (zone !== null && zone >= 3) s.arrivalsRisk++;
          }
        } else {
          if (inward) s.entries++;
          s.active = setBit(s.active, v.i);
        }
        touch(day);
        break;
      }
      case 'entryfix': {
        const counted = stationChange(doc, ctx);
        if (!counted) break;
        const { venueId, day } = counted;
        const delta = Number(doc.to === 'in') - Number(doc.from === 'in');
        if (delta === 0) break;
        const v = venueOf(ledger, venueId);
        const s = stationDay(ledger, day);
        // A checkpoint's risk count needs the declaration, which a correction does not carry.
        // A correction may come before its entry: the day is short of one until the entry arrives.
        if (v.checkpoint) s.arrivals += delta;
        else s.entries += delta;
        touch(day);
        break;
      }
      case 'case': {
        const day = str(doc.confirmedOn);
        if (!day || !DAY_TEXT.test(day)) break;
        const before = ledger.cases.get(key);
        if (before === day) break;
        ledger.cases.set(key, day);
        touch(before !== undefined && before < day ? before : day);
        break;
      }
      case 'followup': {
        if (doc.kind !== 'contact') break;
        const at = num(doc.at);
        if (at === null) break;
        const from = dayKey(at);
        const before = ledger.contacts.get(key);
        const until = doc.state === 'closed' ? (before?.[1] ?? isoDay(doc.updatedAt, today)) : null;
        if (before && before[0] === from && before[1] === until) break;
        ledger.contacts.set(key, [from, until]);
        const days = [from, until, before?.[0], before?.[1]].filter((d): d is string => typeof d === 'string');
        touch(days.sort()[0]!);
        break;
      }
      case 'exposure': {
        if ((doc.state !== 'published' && doc.state !== 'withdrawn') || ledger.exposures.has(key)) break;
        const day = isoDay(doc.updatedAt, today);
        ledger.exposures.set(key, day);
        touch(day);
        break;
      }
    }
  }
  return earliest;
}

/** The newest version of a commune-day's tally document replaces that day. Returns the day. */
export function applyTally(ledger: CommuneLedger, tally: { day: string; venues: Record<string, number> }): string {
  let checkins = 0;
  let active: Uint8Array = new Uint8Array(0);
  for (const [venueId, n] of Object.entries(tally.venues)) {
    if (typeof n !== 'number' || !(n > 0)) continue;
    checkins += n;
    active = setBit(active, venueOf(ledger, venueId).i);
  }
  ledger.tallies.set(tally.day, { checkins, active });
  return tally.day;
}

/**
 * A ledger ready for a full rebuild from every live document: what retention has deleted cannot be
 * read again, so the station counts of days up to `keepThrough` (the last day retention may have
 * emptied) are kept, and so are the venues (their indexes, and the days of those deleted), cases,
 * contacts and exposure events already known (a deleted case still counted on its day). Tallies and
 * later station days are read again.
 */
export function startRebuild(old: CommuneLedger | null, commune: string, keepThrough: string): CommuneLedger {
  const fresh = emptyLedger(commune);
  if (!old) return fresh;
  fresh.nextIndex = old.nextIndex;
  for (const [id, v] of old.venues) fresh.venues.set(id, { ...v });
  for (const [day, s] of old.station) if (day <= keepThrough) fresh.station.set(day, { ...s, active: Uint8Array.from(s.active) });
  fresh.cases = new Map(old.cases);
  fresh.contacts = new Map([...old.contacts].map(([k, v]) => [k, [v[0], v[1]]]));
  fresh.exposures = new Map(old.exposures);
  return fresh;
}

/** The first day the ledger has anything on, or null for an empty one. */
export function firstDay(ledger: CommuneLedger): string | null {
  const days: string[] = [];
  for (const v of ledger.venues.values()) if (v.created) days.push(v.created);
  for (const d of ledger.station.keys()) days.push(d);
  for (const d of ledger.tallies.keys()) days.push(d);
  for (const d of ledger.cases.values()) days.push(d);
  for (const [d] of ledger.contacts.values()) days.push(d);
  for (const d of ledger.exposures.values()) days.push(d);
  return days.length ? days.reduce((a, b) => (b < a ? b : a)) : null;
}

// ---------------------------------------------------------------------------------------------
// Commune-day figures
// ---------------------------------------------------------------------------------------------

/** One unit's day: its figures and, per commune under it, the bitmap of its active venues (base64). */
export interface DayAggregate {
  day: string;
  figures: Figures;
  /** commune code → base64 bitmap of the venue indexes active that day */
  active: Record<string, string>;
  /** per child unit (communes of a district, districts of a province): its figures of the day */
  children: Record<string, Figures>;
}

/** The figures of a commune for each of `days` (ascending), from its ledger. */
export function communeDays(ledger: CommuneLedger, days: readonly string[]): DayAggregate[] {
  const casesByDay = countBy(ledger.cases.values());
  const exposuresByDay = countBy(ledger.exposures.values());
  const checkpointBits = [...ledger.venues.values()].filter((v) => v.checkpoint).map((v) => v.i);
  const venues = [...ledger.venues.values()].filter((v) => v.known && !v.checkpoint && v.created !== null);
  const contacts = [...ledger.contacts.values()];
  return days.map((day) => {
    const s = ledger.station.get(day);
    const t = ledger.tallies.get(day);
    let active = orBits(s?.active ?? new Uint8Array(0), t?.active ?? new Uint8Array(0));
    for (const i of checkpointBits) if (hasBit(active, i)) active[i >> 3]! &= ~(1 << (i & 7));
    active = trim(active);
    const figures: Figures = {
      venues: venues.filter((v) => v.created! <= day && (v.deleted === null || v.deleted > day)).length,
      venuesNew: venues.filter((v) => v.created === day).length,
      venuesActive: countBits(active),
      entries: Math.max(0, s?.entries ?? 0),
      checkins: t?.checkins ?? 0,
      arrivals: Math.max(0, s?.arrivals ?? 0),
      arrivalsRisk: s?.arrivalsRisk ?? 0,
      cases: casesByDay.get(day) ?? 0,
      contactsOpen: contacts.filter(([from, until]) => from <= day && (until === null || until > day)).length,
      exposures: exposuresByDay.get(day) ?? 0
    };
    return { day, figures, active: active.length ? { [ledger.commune]: bitsToBase64(active) } : {}, children: {} };
  });
}

function countBy(values: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

export function addFigures(into: Figures, more: Figures): Figures {
  for (const k of FIGURE_KEYS) into[k] += more[k];
  return into;
}

/**
 * A unit's day from its children's days of the same day (communes of a district, districts or
 * communes of a province). Every figure of a day is a plain sum: a venue is in one commune, so the
 * distinct venues active that day are the sum too.
 */
export function rollUpDay(day: string, children: ReadonlyMap<string, DayAggregate>): DayAggregate {
  const figures = zeroFigures();
  const active: Record<string, string> = {};
  const kids: Record<string, Figures> = {};
  for (const [code, child] of children) {
    addFigures(figures, child.figures);
    Object.assign(active, child.active);
    kids[code] = { ...child.figures };
  }
  return { day, figures, active, children: kids };
}

// ---------------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------------

/**
 * Distinct venues active over the days, per commune: the bits of each commune ORed over the days,
 * counted. A venue is in one commune, so a unit's distinct count is the sum over its communes.
 */
export function activeByCommune(days: readonly DayAggregate[]): Map<string, number> {
  const bits = new Map<string, Uint8Array>();
  for (const d of days) {
    for (const [code, b64] of Object.entries(d.active)) {
      const b = bitsFromBase64(b64);
      const had = bits.get(code);
      bits.set(code, had ? orBits(had, b) : b);
    }
  }
  return new Map([...bits].map(([code, b]) => [code, countBits(b)]));
}

/**
 * Figures of a period from its days (ascending; days with no aggregate may be missing): sums over
 * the days, except `venues` and `contactsOpen` (those of the last day there is) and `venuesActive`
 * (distinct venues active in the period, activeByCommune). `dayFigures` picks the figures to sum (a
 * child's, for a row), `communes` the communes whose venues count (those under that child); both
 * default to the whole unit. `active` is activeByCommune(days), when the caller has it already.
 */
export function periodFigures(
  days: readonly DayAggregate[],
  dayFigures: (d: DayAggregate) => Figures | undefined = (d) => d.figures,
  communes: (code: string) => boolean = () => true,
  active: ReadonlyMap<string, number> = activeByCommune(days)
): Figures {
  const out = zeroFigures();
  let last: Figures | undefined;
  for (const d of days) {
    const f = dayFigures(d);
    if (!f) continue;
    for (const k of FIGURE_KEYS) if (k !== 'venues' && k !== 'contactsOpen' && k !== 'venuesActive') out[k] += f[k];
    last = f;
  }
  out.venues = last?.venues ?? 0;
  out.contactsOpen = last?.contactsOpen ?? 0;
  for (const [code, n] of active) if (communes(code)) out.venuesActive += n;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The unit tree, as it is now
// ---------------------------------------------------------------------------------------------

/**
 * Roll-ups follow the CURRENT unit tree of lv_directory: a commune moved to another district counts
 * in its new district for every day, past days included (the job recomputes the units' days when the
 * tree changes), which is what an official of the new district expects to read.
 */
export interface UnitTree {
  byCode: Map<string, UnitDoc>;
  children: Map<string, UnitDoc[]>;
}

export function unitTree(units: readonly UnitDoc[]): UnitTree {
  const byCode = new Map(units.map((u) => [u.code, u]));
  const children = new Map<string, UnitDoc[]>();
  for (const u of units) {
    if (u.parent === null || !byCode.has(u.parent)) continue;
    let list = children.get(u.parent);
    if (!list) children.set(u.parent, (list = []));
    list.push(u);
  }
  for (const list of children.values()) list.sort((a, b) => (a.code < b.code ? -1 : 1));
  return { byCode, children };
}

/** The ancestors of a unit, nearest first (district, then province); empty for an unknown code. */
export function ancestorsOf(tree: UnitTree, code: string): string[] {
  const out: string[] = [];
  const seen = new Set([code]);
  for (let at = tree.byCode.get(code)?.parent ?? null; at !== null && !seen.has(at) && tree.byCode.has(at); at = tree.byCode.get(at)!.parent) {
    out.push(at);
    seen.add(at);
  }
  return out;
}

/**
 * Every unit above the given communes for one day, by the current tree: districts from their
 * communes, provinces from their districts (and from communes hung directly under them, as in the
 * 2-level tree). Communes missing from the tree roll up nowhere.
 */
export function rollUpTree(tree: UnitTree, day: string, communes: ReadonlyMap<string, DayAggregate>): Map<string, DayAggregate> {
  const out = new Map<string, DayAggregate>();
  const build = (code: string): DayAggregate | null => {
    const known = out.get(code) ?? communes.get(code);
    if (known) return known;
    const kids = new Map<string, DayAggregate>();
    for (const child of tree.children.get(code) ?? []) {
      const agg = child.level === 'commune' ? (communes.get(child.code) ?? null) : build(child.code);
      if (agg) kids.set(child.code, agg);
    }
    if (!kids.size) return null;
    const agg = rollUpDay(day, kids);
    out.set(code, agg);
    return agg;
  };
  const tops = new Set<string>();
  for (const code of communes.keys()) {
    const up = ancestorsOf(tree, code);
    if (up.length) tops.add(up[up.length - 1]!);
  }
  for (const top of tops) build(top);
  return out;
}

/** A stable text of the tree's parent links: when it changes, the roll-ups are recomputed. */
export function treeSignature(units: readonly UnitDoc[]): string {
  return units
    .map((u) => `${u.code}>${u.parent ?? ''}`)
    .sort()
    .join(',');
}

// ---------------------------------------------------------------------------------------------
// Storing a ledger (one JSON document per commune in lv_reports)
// ---------------------------------------------------------------------------------------------

export interface LedgerJson {
  commune: string;
  nextIndex: number;
  /** venue id → [index, known, checkpoint, created, deleted] */
  venues: Record<string, [number, boolean, boolean, string | null, string | null]>;
  /** day → [entries, arrivals, arrivalsRisk, base64 bitmap] */
  station: Record<string, [number, number, number, string]>;
  /** day → [checkins, base64 bitmap] */
  tallies: Record<string, [number, string]>;
  cases: Record<string, string>;
  contacts: Record<string, [string, string | null]>;
  exposures: Record<string, string>;
}

export function ledgerToJson(l: CommuneLedger): LedgerJson {
  return {
    commune: l.commune,
    nextIndex: l.nextIndex,
    venues: Object.fromEntries([...l.venues].map(([id, v]) => [id, [v.i, v.known, v.checkpoint, v.created, v.deleted]])),
    station: Object.fromEntries([...l.station].map(([d, s]) => [d, [s.entries, s.arrivals, s.arrivalsRisk, bitsToBase64(s.active)]])),
    tallies: Object.fromEntries([...l.tallies].map(([d, t]) => [d, [t.checkins, bitsToBase64(t.active)]])),
    cases: Object.fromEntries(l.cases),
    contacts: Object.fromEntries(l.contacts),
    exposures: Object.fromEntries(l.exposures)
  };
}

export function ledgerFromJson(j: LedgerJson): CommuneLedger {
  return {
    commune: j.commune,
    nextIndex: j.nextIndex,
    venues: new Map(Object.entries(j.venues).map(([id, [i, known, checkpoint, created, deleted]]) => [id, { i, known, checkpoint, created, deleted }])),
    station: new Map(Object.entries(j.station).map(([d, [entries, arrivals, arrivalsRisk, b]]) => [d, { entries, arrivals, arrivalsRisk, active: bitsFromBase64(b) }])),
    tallies: new Map(Object.entries(j.tallies).map(([d, [checkins, b]]) => [d, { checkins, active: bitsFromBase64(b) }])),
    cases: new Map(Object.entries(j.cases)),
    contacts: new Map(Object.entries(j.contacts).map(([k, [a, b]]) => [k, [a, b]])),
    exposures: new Map(Object.entries(j.exposures))
  };
}
