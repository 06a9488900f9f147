import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  addContribution,
  addTallyCounts,
  CONTRIBUTION_ID_LENGTH,
  mergeTallyRevisions,
  pruneTallyRecent,
  recentVenueCounts,
  seenIds,
  storedContribution,
  TALLY_RECENT_MS,
  type TallyDoc,
  buildTallyReport,
  checkTallyReport,
  completeDays,
  emptyTallyDoc,
  newTallyBatchId,
  TALLY_BODY_LIMIT,
  TALLY_MAX_COUNT,
  TALLY_MAX_DAYS,
  TALLY_MAX_ENTRIES,
  TALLY_MAX_VENUES_PER_DAY,
  tallyDocId,
  type TallyReport
} from './tally';
import { DAY, HOUR, MINUTE, dayKey } from '../time';
import { makeVisit, T0 } from '../testing';
import type { Visit } from './visit';

// 08:30 on 20 August 2021 in Vietnam: "yesterday" is the 19th.
const NOW = T0;
const batch = 'abcdefghij0123456789';

let n = 0;
const visit = (over: Partial<Visit>) => makeVisit({ id: `v${++n}`, ...over });

function report(over: Partial<TallyReport> = {}): TallyReport {
  return {
    format: 'luu-vet-tally',
    version: 1,
    batch,
    days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 2 }] }],
    ...over
  };
}

describe('tally report schema', () => {
  it('accepts a well-formed report of complete days', () => {
    expect(checkTallyReport(report(), NOW)).toEqual({ ok: true, report: report() });
  });

  it('refuses today, the future and days older than 28 days, with the reason', () => {
    const day = (d: string) => checkTallyReport(report({ days: [{ day: d, venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 1 }] }] }), NOW);
    expect(day('2021-08-20')).toMatchObject({ ok: false, reason: expect.stringMatching(/not over yet/) });
    expect(day('2021-09-01').ok).toBe(false);
    expect(day(dayKey(NOW - TALLY_MAX_DAYS * DAY)).ok).toBe(true);
    expect(day(dayKey(NOW - (TALLY_MAX_DAYS + 1) * DAY))).toMatchObject({ ok: false, reason: expect.stringMatching(/older than 28 days/) });
    expect(day('2021-02-30')).toMatchObject({ ok: false, reason: expect.stringMatching(/calendar day/) });
  });

  it('lets a receiver allow for a phone whose clock runs ahead', () => {
    // 23:30 on the 19th in Vietnam; the phone thinks it is already the 20th.
    const justBeforeMidnight = Date.UTC(2021, 7, 19, 16, 30);
    expect(checkTallyReport(report(), justBeforeMidnight).ok).toBe(false);
    expect(checkTallyReport(report(), justBeforeMidnight, HOUR).ok).toBe(true);
  });

  it('refuses counts past the cap, duplicates, unknown fields and stable-looking ids', () => {
    const bad: unknown[] = [
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: TALLY_MAX_COUNT + 1 }] }] }),
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 0 }] }] }),
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 1.5 }] }] }),
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'NOT-A-VENUE', communeCode: '18070', count: 1 }] }] }),
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '42', count: 1 }] }] }),
      report({
        days: [
          {
            day: '2021-08-19',
            venues: [
              { venueId: 'demochoducth', communeCode: '18070', count: 1 },
              { venueId: 'demochoducth', communeCode: '18070', count: 1 }
            ]
          }
        ]
      }),
      report({ days: [report().days[0]!, report().days[0]!] }),
      report({ days: [] }),
      report({ batch: 'short' }),
      report({ batch: 'ABCDEFGHIJ0123456789' }),
      { ...report(), deviceId: 'abc' },
      report({ days: [{ day: '2021-08-19', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 1, phone: '0912345678' } as never] }] }),
      { ...report(), version: 2 },
      'not an object',
      null
    ];
    for (const raw of bad) {
      const check = checkTallyReport(raw, NOW);
      expect(check.ok, JSON.stringify(raw)).toBe(false);
      if (!check.ok) expect(check.reason.length).toBeGreaterThan(3);
    }
  });

  it('keeps the largest valid report under the body limit', () => {
    let i = 0;
    const venueId = () => `venue${String(i++).padStart(7, '0').replace(/[0189]/g, (d) => 'abcd'['0189'.indexOf(d)]!)}`;
    const days: TallyReport['days'] = [];
    let entries = 0;
    for (let d = 1; d <= TALLY_MAX_DAYS; d++) {
      const venues = [];
      for (let k = 0; k < TALLY_MAX_VENUES_PER_DAY && entries < TALLY_MAX_ENTRIES; k++, entries++)
        venues.push({ venueId: venueId(), communeCode: '18070', count: TALLY_MAX_COUNT });
      if (venues.length) days.push({ day: dayKey(NOW - d * DAY), venues });
    }
    const largest = report({ batch: 'a'.repeat(32), days });
    expect(checkTallyReport(largest, NOW)).toMatchObject({ ok: true });
    expect(JSON.stringify(largest).length).toBeLessThan(TALLY_BODY_LIMIT);
    // One more venue-day is refused.
    const tooMany = report({ days: [...days, { day: dayKey(NOW - 28 * DAY), venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 1 }] }] });
    expect(checkTallyReport(tooMany, NOW).ok).toBe(false);
  });

  it('bounds the communes of one report (each costs the server a lookup)', () => {
    const venues = (from: number) =>
      Array.from({ length: 100 }, (_, k) => ({ venueId: 'demochoducth', communeCode: String(10000 + from + k), count: 1 })).map((x, k) => ({
        ...x,
        venueId: `venue${'abcdefghijklmnopqrstuvwxyz'[k % 26]}${'abcdefghijklmnopqrstuvwxyz'[Math.floor(k / 26)]}aaaaa`
      }));
    const ok = report({ days: [{ day: '2021-08-18', venues: venues(0) }, { day: '2021-08-19', venues: venues(0) }] });
    expect(checkTallyReport(ok, NOW).ok).toBe(true);
    const tooMany = report({ days: [{ day: '2021-08-18', venues: venues(0) }, { day: '2021-08-19', venues: venues(1) }] });
    expect(checkTallyReport(tooMany, NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/communes/) });
  });

  it('makes fresh batch ids of the right shape', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newTallyBatchId((k) => new Uint8Array(randomBytes(k)))));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{20}$/);
  });
});

describe('building a report from the diary', () => {
  const yesterday = NOW - DAY;

  it('counts verified check-ins per venue per Vietnamese day, complete days only', () => {
    const visits = [
      visit({ checkin: yesterday }),
      visit({ checkin: yesterday + 2 * HOUR }),
      visit({ checkin: yesterday, venueId: 'demotramyte2' }),
      // 23:50 on the 18th in Vietnam, 16:50 UTC: counted on the 18th, not the 19th.
      visit({ checkin: Date.UTC(2021, 7, 18, 16, 50) }),
      // today: not complete yet
      visit({ checkin: NOW - 10 * MINUTE }),
      // not counted: unverified, pending, manual, no venue
      visit({ checkin: yesterday, verification: 'unverified', venueId: 'demoxekhach3' }),
      visit({ checkin: yesterday, verification: 'pending', venueId: 'demoxekhach3' }),
      visit({ checkin: yesterday, verification: 'manual', venueId: null, communeCode: null }),
      // older than the window
      visit({ checkin: NOW - (TALLY_MAX_DAYS + 2) * DAY })
    ];
    const built = buildTallyReport(visits, { now: NOW, sentThrough: null, batch });
    expect(built.through).toBe('2021-08-19');
    expect(built.report).toEqual({
      format: 'luu-vet-tally',
      version: 1,
      batch,
      days: [
        { day: '2021-08-18', venues: [{ venueId: 'demochoducth', communeCode: '18070', count: 1 }] },
        {
          day: '2021-08-19',
          venues: [
            { venueId: 'demochoducth', communeCode: '18070', count: 2 },
            { venueId: 'demotramyte2', communeCode: '18070', count: 1 }
          ]
        }
      ]
    });
    expect(checkTallyReport(built.report, NOW).ok).toBe(true);
  });

  it('sends only days after the last day sent, and nothing twice', () => {
    const visits = [visit({ checkin: yesterday }), visit({ checkin: yesterday - DAY })];
    const built = buildTallyReport(visits, { now: NOW, sentThrough: '2021-08-18', batch });
    expect(built.report?.days.map((d) => d.day)).toEqual(['2021-08-19']);
    expect(buildTallyReport(visits, { now: NOW, sentThrough: '2021-08-19', batch })).toEqual({ report: null, through: '2021-08-19' });
    // A clock set back never moves the last sent day backwards.
    expect(buildTallyReport(visits, { now: NOW - 3 * DAY, sentThrough: '2021-08-19', batch })).toEqual({ report: null, through: '2021-08-19' });
  });

  it('sends nothing when the new days hold no check-in, but moves past them', () => {
    expect(buildTallyReport([], { now: NOW, sentThrough: null, batch })).toEqual({ report: null, through: '2021-08-19' });
  });

  it('caps a venue-day at the plausible maximum', () => {
    const many = Array.from({ length: TALLY_MAX_COUNT + 10 }, (_, i) => visit({ checkin: yesterday - 8 * HOUR + i * 11 * MINUTE }));
    const built = buildTallyReport(many, { now: NOW, sentThrough: null, batch });
    expect(built.report?.days[0]?.venues[0]?.count).toBe(TALLY_MAX_COUNT);
    expect(checkTallyReport(built.report, NOW).ok).toBe(true);
  });

  it('splits an enormous backlog: oldest days now, the rest next time', () => {
    const visits: Visit[] = [];
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    for (let d = 1; d <= TALLY_MAX_DAYS; d++)
      for (let k = 0; k < 60; k++) visits.push(visit({ checkin: NOW - d * DAY, venueId: `venue${letters[d % 26]}${letters[k % 26]}${letters[Math.floor(k / 26)]}aaaa` }));
    const first = buildTallyReport(visits, { now: NOW, sentThrough: null, batch });
    expect(checkTallyReport(first.report, NOW).ok).toBe(true);
    const entries = first.report!.days.reduce((s, d) => s + d.venues.length, 0);
    expect(entries).toBeLessThanOrEqual(TALLY_MAX_ENTRIES);
    expect(first.through).toBe(first.report!.days.at(-1)!.day);
    expect(first.through < completeDays(NOW).last).toBe(true);
    const second = buildTallyReport(visits, { now: NOW, sentThrough: first.through, batch });
    expect(second.report!.days[0]!.day > first.through).toBe(true);
    expect(second.through).toBe('2021-08-19');
  });
});

describe('tally documents', () => {
  it('adds counts and never lets a venue-day pass its ceiling', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    expect(doc._id).toBe(tallyDocId('18070', '2021-08-19'));
    expect(addTallyCounts(doc, new Map([['demochoducth', 3], ['demotramyte2', 2]]), 10)).toMatchObject({ accepted: 5, overCap: 0 });
    expect(addTallyCounts(doc, new Map([['demochoducth', 9]]), 10)).toMatchObject({ accepted: 7, overCap: 2 });
    expect(addTallyCounts(doc, new Map([['demochoducth', 1]]), 10)).toMatchObject({ accepted: 0, overCap: 1 });
    expect(doc.venues).toEqual({ demochoducth: 10, demotramyte2: 2 });
    expect(doc.reports).toBe(3);
  });

  const id = (c: string) => c.repeat(CONTRIBUTION_ID_LENGTH);
  const opts = { venueDayMax: 100, at: 1_000_000 };

  it('adds a contribution once under its id, and keeps its counts for the last minutes only', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    expect(addContribution(doc, id('a'), new Map([['demochoducth', 3]]), opts)).toEqual({ accepted: 3, overCap: 0, overPace: 0 });
    // The same report again (a retry, maybe to another server): nothing changes.
    const before = structuredClone(doc);
    expect(addContribution(doc, id('a'), new Map([['demochoducth', 3]]), opts)).toBeNull();
    expect(doc).toEqual(before);
    expect(addContribution(doc, id('b'), new Map([['demochoducth', 1]]), { ...opts, at: opts.at + TALLY_RECENT_MS })).toEqual({ accepted: 1, overCap: 0, overPace: 0 });
    expect(doc.venues).toEqual({ demochoducth: 4 });
    expect(doc.reports).toBe(2);
    expect(seenIds(doc)).toEqual(new Set([id('a'), id('b')]));
    pruneTallyRecent(doc, opts.at + TALLY_RECENT_MS);
    expect(Object.keys(doc.recent!)).toEqual([id('b')]);
    expect(seenIds(doc)).toEqual(new Set([id('a'), id('b')])); // ids stay for good
    expect(() => addContribution(doc, 'short', new Map(), opts)).toThrow(/11 characters/);
  });

  it('records in `recent` what was added, not what was asked, at the ceiling', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    addContribution(doc, id('a'), new Map([['demochoducth', 8]]), { ...opts, venueDayMax: 10 });
    expect(addContribution(doc, id('b'), new Map([['demochoducth', 5], ['demotramyte2', 1]]), { ...opts, venueDayMax: 10 })).toEqual({ accepted: 3, overCap: 3, overPace: 0 });
    expect(doc.recent![id('b')]!.venues).toEqual({ demochoducth: 2, demotramyte2: 1 });
  });

  it('holds a venue to its pace from what `recent` shows for the window, whoever added it', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    const windowMs = 10 * 60_000;
    const paced = (at: number) => ({ ...opts, at, pace: { max: 10, used: recentVenueCounts(doc, at - windowMs) } });
    expect(addContribution(doc, id('a'), new Map([['demochoducth', 6]]), paced(opts.at))).toEqual({ accepted: 6, overCap: 0, overPace: 0 });
    // Another server, a minute later, reads the same document: 4 left for this venue, others untouched.
    expect(addContribution(doc, id('b'), new Map([['demochoducth', 6], ['demotramyte2', 6]]), paced(opts.at + 60_000))).toEqual({ accepted: 10, overCap: 0, overPace: 2 });
    // Within one write the pace is spent as contributions are added.
    const p = paced(opts.at + 120_000);
    expect(addContribution(doc, id('c'), new Map([['demotramyte2', 3]]), p)).toEqual({ accepted: 3, overCap: 0, overPace: 0 });
    expect(addContribution(doc, id('d'), new Map([['demotramyte2', 3]]), p)).toEqual({ accepted: 1, overCap: 0, overPace: 2 });
    expect(recentVenueCounts(doc, opts.at + 120_000 - windowMs)).toEqual(new Map([['demochoducth', 10], ['demotramyte2', 10]]));
    // Once the first contribution has left the window, its counts are free again.
    expect(addContribution(doc, id('e'), new Map([['demochoducth', 9]]), paced(opts.at + windowMs))).toEqual({ accepted: 6, overCap: 0, overPace: 3 });
    expect(doc.venues).toEqual({ demochoducth: 16, demotramyte2: 10 });
  });

  it('says a full day as such, not as the pace', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    const pace = { max: 5, used: new Map<string, number>() };
    addContribution(doc, id('a'), new Map([['demochoducth', 4]]), { ...opts, venueDayMax: 6, pace });
    // 2 fit the day; the pace leaves 1 of them: 1 over the pace, 2 over the day.
    expect(addContribution(doc, id('b'), new Map([['demochoducth', 4]]), { ...opts, venueDayMax: 6, pace })).toEqual({ accepted: 1, overCap: 2, overPace: 1 });
  });

  it('tells a retry what its contribution added then, while `recent` holds it', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    const pace = { max: 5, used: new Map<string, number>() };
    const asked = new Map([['demochoducth', 4], ['demotramyte2', 1]]);
    addContribution(doc, id('a'), new Map([['demochoducth', 3]]), { ...opts, pace });
    expect(addContribution(doc, id('b'), asked, { ...opts, pace })).toEqual({ accepted: 3, overCap: 0, overPace: 2 });
    expect(storedContribution(doc, id('b'), asked, opts.venueDayMax)).toEqual({ accepted: 3, overCap: 0, overPace: 2 });
    // A full venue-day: what was not added is said as the day's ceiling.
    expect(storedContribution(doc, id('b'), asked, 5)).toEqual({ accepted: 3, overCap: 2, overPace: 0 });
    pruneTallyRecent(doc, opts.at + TALLY_RECENT_MS);
    expect(storedContribution(doc, id('b'), asked, opts.venueDayMax)).toBeNull();
  });

  it('counts folded contributions against the pace at the time they were first added', () => {
    const windowMs = 10 * 60_000;
    const parent = emptyTallyDoc('18070', '2021-08-19');
    const winner = structuredClone(parent);
    const loser = structuredClone(parent);
    addContribution(loser, id('a'), new Map([['demochoducth', 7]]), opts);
    // The split heals twenty minutes later: folded in then, yet added long before the pace's window.
    const healed = opts.at + 2 * windowMs;
    mergeTallyRevisions(winner, [loser], { ...opts, at: healed });
    expect(recentVenueCounts(winner, healed - windowMs)).toEqual(new Map());
    // And a revision that takes it in at second hand keeps that first time.
    const third = structuredClone(parent);
    mergeTallyRevisions(third, [winner], { ...opts, at: healed + 1000 });
    expect(third.recent![id('a')]).toMatchObject({ at: healed + 1000, first: opts.at });
    expect(recentVenueCounts(third, opts.at - 1)).toEqual(new Map([['demochoducth', 7]]));
  });

  it('ignores malformed entries of `recent` when counting the pace', () => {
    const doc = emptyTallyDoc('18070', '2021-08-19');
    doc.recent = { [id('x')]: { at: opts.at, venues: { demochoducth: -3, demotramyte2: 1.5, demoxekhach3: 2 } }, [id('y')]: null, [id('z')]: { at: 'now' } } as unknown as TallyDoc['recent'];
    expect(recentVenueCounts(doc, 0)).toEqual(new Map([['demoxekhach3', 2]]));
  });

  it("folds a losing revision's own contributions into the winner, and what both hold once", () => {
    // The common parent: contribution a. Then two servers wrote from it at once.
    const parent = emptyTallyDoc('18070', '2021-08-19');
    addContribution(parent, id('a'), new Map([['demochoducth', 2]]), opts);
    const winner = structuredClone(parent);
    addContribution(winner, id('b'), new Map([['demochoducth', 1]]), opts);
    addContribution(winner, id('c'), new Map([['demotramyte2', 4]]), opts);
    const loser = structuredClone(parent);
    addContribution(loser, id('c'), new Map([['demotramyte2', 4]]), opts); // the same report, retried on the other side
    addContribution(loser, id('d'), new Map([['demochoducth', 5], ['demoxekhach3', 1]]), opts);
    const loser2 = structuredClone(parent);
    addContribution(loser2, id('e'), new Map([['demoxekhach3', 2]]), opts);

    expect(mergeTallyRevisions(winner, [loser, loser2], { ...opts, at: opts.at + 1000 })).toBe(2);
    expect(winner.venues).toEqual({ demochoducth: 2 + 1 + 5, demotramyte2: 4, demoxekhach3: 1 + 2 });
    expect(winner.reports).toBe(5);
    expect(seenIds(winner)).toEqual(new Set(['a', 'b', 'c', 'd', 'e'].map(id)));
    // Merging again adds nothing: a merge whose losers were not deleted yet can be repeated.
    expect(mergeTallyRevisions(winner, [loser, loser2], { ...opts, at: opts.at + 2000 })).toBe(0);
    expect(winner.venues).toEqual({ demochoducth: 8, demotramyte2: 4, demoxekhach3: 3 });
  });

  it('keeps merged contributions in `recent`, so a merged revision that loses in turn still carries them', () => {
    const parent = emptyTallyDoc('18070', '2021-08-19');
    const a = structuredClone(parent);
    addContribution(a, id('a'), new Map([['demochoducth', 1]]), opts);
    const b = structuredClone(parent);
    addContribution(b, id('b'), new Map([['demochoducth', 2]]), opts);
    mergeTallyRevisions(a, [b], opts); // a now holds a and b
    const c = structuredClone(parent);
    addContribution(c, id('c'), new Map([['demochoducth', 4]]), opts);
    mergeTallyRevisions(c, [a], { ...opts, at: opts.at + 5000 });
    expect(c.venues).toEqual({ demochoducth: 7 });
  });

  it('ignores malformed entries of a loser (a document edited by hand)', () => {
    const winner = emptyTallyDoc('18070', '2021-08-19');
    const loser = emptyTallyDoc('18070', '2021-08-19');
    loser.recent = { short: { at: opts.at, venues: { demochoducth: 1 } }, [id('x')]: { at: opts.at, venues: { demochoducth: -3, demotramyte2: 1.5 } } } as TallyDoc['recent'];
    expect(mergeTallyRevisions(winner, [loser], opts)).toBe(1);
    expect(winner.venues).toEqual({});
  });
});
