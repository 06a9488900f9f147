import { describe, expect, it } from 'vitest';
import {
  applyChanges,
  applyTally,
  communeDays,
  emptyLedger,
  ledgerFromJson,
  ledgerToJson,
  periodFigures,
  rollUpTree,
  startRebuild,
  unitTree,
  unknownVenues,
  type CommuneLedger,
  type DayAggregate,
  type DocChange
} from './aggregate';
import { zeroFigures, type Figures } from './figures';
import { daysBetween } from './period';
import { fromVietnamLocal } from '../time';
import type { UnitDoc } from '../units';

const C = '18070';
/** Vietnam wall-clock time as ms. */
const at = (day: string, time: string, seconds = 0): number => fromVietnamLocal(day, time)! + seconds * 1000;
const iso = (day: string, time: string) => new Date(at(day, time)).toISOString();

// Venue ids: 12 characters of [a-z2-7].
const SHOP = 'shopaaaaaaaa';
const MARKET = 'marketaaaaaa';
const CHECKPOINT = 'checkaaaaaaa';
const IDLE = 'idleaaaaaaaa';

const venue = (venueId: string, created: string, over: Record<string, unknown> = {}): DocChange => ({
  id: `venue:${venueId}`,
  doc: { _id: `venue:${venueId}`, _rev: '1-a', type: 'venue', venueId, venueType: 'shop', status: 'active', communeCode: C, createdAt: created, ...over }
});

let n = 0;
const entry = (venueId: string, time: number, over: Record<string, unknown> = {}): DocChange => {
  const id = `entry:${venueId}:${String(time).padStart(13, '0')}:r${++n}`;
  return { id, doc: { _id: id, _rev: '1-a', type: 'entry', venueId, communeCode: C, time, direction: 'in', person: { source: 'manual', name: 'X' }, deviceId: 'd', ...over } };
};
const deletion = (id: string): DocChange => ({ id, deleted: true, doc: { _id: id, _rev: '2-b', _deleted: true } });

const WEEK = daysBetween('2021-08-12', '2021-08-18'); // Thursday to Wednesday: the week due Thursday 19/08
const NOW = at('2021-08-19', '08:00');

function figuresOf(ledger: CommuneLedger, days = WEEK): Figures {
  return periodFigures(communeDays(ledger, days));
}

function day(ledger: CommuneLedger, d: string): Figures {
  return communeDays(ledger, [d])[0]!.figures;
}

describe('commune ledger', () => {
  it('counts a venue active on the last minute of the period, not one at the first minute after it', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), venue(MARKET, iso('2021-08-01', '09:00')), entry(SHOP, at('2021-08-18', '23:59')), entry(MARKET, at('2021-08-19', '00:00'))], { now: NOW });
    // By hand: 2 venues registered before the week, none new in it; SHOP scanned once at 23:59 on the
    // week's last day; MARKET's scan belongs to the 19th, outside the week.
    expect(figuresOf(l)).toEqual({ ...zeroFigures(), venues: 2, venuesActive: 1, entries: 1 });
    expect(figuresOf(l, ['2021-08-19'])).toMatchObject({ venuesActive: 1, entries: 1 });
  });

  it('puts an entry at 00:00 Vietnam time on the new day and one at 23:59:59 on the old one', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), entry(SHOP, at('2021-08-15', '23:59', 59)), entry(SHOP, at('2021-08-16', '00:00'))], { now: NOW });
    expect(day(l, '2021-08-15').entries).toBe(1);
    expect(day(l, '2021-08-16').entries).toBe(1);
    // 00:00 in Vietnam is 17:00 UTC the day before: a UTC calendar would have put both on the 15th.
    expect(new Date(at('2021-08-16', '00:00')).toISOString()).toBe('2021-08-15T17:00:00.000Z');
  });

  it('keeps a venue suspended mid-week registered, active on the days it was used', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), venue(IDLE, iso('2021-08-13', '10:00')), entry(SHOP, at('2021-08-13', '10:00')), entry(SHOP, at('2021-08-13', '11:00'), { direction: 'out' })], { now: at('2021-08-14', '08:00') });
    // Suspended on Monday 16/08 by the team: still registered, no longer used.
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00'), { _rev: '2-b', status: 'suspended', suspendedBy: 'team' })], { now: at('2021-08-16', '09:00') });
    // By hand: 2 venues at the end (IDLE new on 13/08); SHOP active (in and out on 13/08); 1 'in' entry.
    expect(figuresOf(l)).toEqual({ ...zeroFigures(), venues: 2, venuesNew: 1, venuesActive: 1, entries: 1 });
    expect(day(l, '2021-08-12').venues).toBe(1);
    expect(day(l, '2021-08-17')).toEqual({ ...zeroFigures(), venues: 2 });
  });

  it('counts arrivals at a checkpoint, risk ones from zone 3–4, apart from station entries', () => {
    const l = emptyLedger(C);
    const cp = venue(CHECKPOINT, iso('2021-08-01', '09:00'), { venueType: 'checkpoint' });
    const entries = [
      entry(CHECKPOINT, at('2021-08-14', '07:00'), { declaration: { fromZone: 4, fromUnit: '79' } }),
      entry(CHECKPOINT, at('2021-08-14', '07:10'), { declaration: { fromZone: 3 } }),
      entry(CHECKPOINT, at('2021-08-14', '07:20'), { declaration: { fromZone: 2 } }),
      entry(CHECKPOINT, at('2021-08-14', '07:30')),
      entry(CHECKPOINT, at('2021-08-14', '08:30'), { direction: 'out' })
    ];
    // The venue's latest change comes after its entries in a feed: the job asks for it first.
    expect(unknownVenues(l, entries)).toEqual([CHECKPOINT]);
    applyChanges(l, [...entries, cp], { now: NOW });
    expect(day(l, '2021-08-14')).toEqual({ ...zeroFigures(), arrivals: 4, arrivalsRisk: 2 });
  });

  it('lets a tally updated a day late change its own day', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), venue(MARKET, iso('2021-08-01', '09:00'))], { now: NOW });
    expect(applyTally(l, { day: '2021-08-15', venues: { [SHOP]: 3 } })).toBe('2021-08-15');
    expect(day(l, '2021-08-15')).toMatchObject({ checkins: 3, venuesActive: 1 });
    // On 16/08 more phones report the 15th: the document of the 15th now holds both venues.
    applyTally(l, { day: '2021-08-15', venues: { [SHOP]: 5, [MARKET]: 2 } });
    expect(day(l, '2021-08-15')).toMatchObject({ checkins: 7, venuesActive: 2 });
    expect(day(l, '2021-08-16')).toMatchObject({ checkins: 0, venuesActive: 0 });
  });

  it('counts distinct venues over the period, not venue-days', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), venue(MARKET, iso('2021-08-01', '09:00')), venue(IDLE, iso('2021-08-01', '09:00'))], { now: NOW });
    for (const d of WEEK) applyChanges(l, [entry(SHOP, at(d, '10:00'))], { now: NOW });
    applyTally(l, { day: '2021-08-13', venues: { [SHOP]: 1, [MARKET]: 4 } });
    // SHOP active 7 days, MARKET one: 2 distinct of 3, 7 entries, 5 check-ins.
    expect(figuresOf(l)).toEqual({ ...zeroFigures(), venues: 3, venuesActive: 2, entries: 7, checkins: 5 });
  });

  it('does not lower a past day when retention deletes its entries, nor when a rebuild no longer sees them', () => {
    const l = emptyLedger(C);
    const old = [entry(SHOP, at('2021-07-20', '10:00')), entry(SHOP, at('2021-07-20', '11:00'))];
    applyChanges(l, [venue(SHOP, iso('2021-07-01', '09:00')), ...old, entry(SHOP, at('2021-08-15', '10:00'))], { now: at('2021-07-20', '12:00') });
    expect(day(l, '2021-07-20')).toMatchObject({ entries: 2, venuesActive: 1 });
    // 21 days later retention deletes them; the feed brings the deletions.
    applyChanges(l, old.map((e) => deletion(e.id)), { now: NOW });
    expect(day(l, '2021-07-20')).toMatchObject({ entries: 2, venuesActive: 1 });
    // A full rebuild reads only what lives: the venue and the entry of the 15th.
    const rebuilt = startRebuild(l, C, '2021-07-29');
    applyChanges(rebuilt, [venue(SHOP, iso('2021-07-01', '09:00')), entry(SHOP, at('2021-08-15', '10:00'), { _rev: '1-x' })], { now: NOW, rebuild: { keepThrough: '2021-07-29' } });
    expect(day(rebuilt, '2021-07-20')).toMatchObject({ entries: 2, venuesActive: 1 });
    expect(day(rebuilt, '2021-08-15')).toMatchObject({ entries: 1, venuesActive: 1 });
  });

  it('counts an entry once, when first stored, however often it comes back', () => {
    const l = emptyLedger(C);
    const e = entry(SHOP, at('2021-08-15', '10:00'));
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), e], { now: NOW });
    applyChanges(l, [{ id: e.id, doc: { ...e.doc, _rev: '2-c' } }], { now: NOW });
    expect(day(l, '2021-08-15').entries).toBe(1);
  });

  it('takes a corrected direction or a removed scan into account once, in whatever order entry and corrections arrive', () => {
    const fix = (e: DocChange, from: string, to: string, r: string): DocChange => {
      const id = `${e.id}x${r}`;
      return { id, doc: { _id: id, _rev: '1-a', type: 'entryfix', venueId: SHOP, communeCode: C, entryId: e.id, time: e.doc!.time, from, to, at: NOW, deviceId: 'd' } };
    };
    const l = emptyLedger(C);
    const a = entry(SHOP, at('2021-08-15', '10:00'));
    const b = entry(SHOP, at('2021-08-15', '10:05'));
    const c = entry(SHOP, at('2021-08-15', '10:10'));
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), a], { now: NOW });
    // a removed after it was counted; b's correction arrives before b; c turned out, then back in.
    applyChanges(l, [fix(a, 'in', 'removed', 'f1'), fix(b, 'in', 'out', 'f2')], { now: NOW });
    applyChanges(l, [b, c, fix(c, 'in', 'out', 'f3'), fix(c, 'out', 'in', 'f4')], { now: NOW });
    const f4 = fix(c, 'out', 'in', 'f4');
    applyChanges(l, [{ id: f4.id, doc: { ...f4.doc, _rev: '2-b' } }], { now: NOW });
    expect(day(l, '2021-08-15').entries).toBe(1);
  });

  it('counts cases on their day, contacts while followed up, exposure events once published', () => {
    const l = emptyLedger(C);
    const caseDoc = (status: string, rev: string): DocChange => ({ id: 'case:aaaaaaaaaaaaaaaa', doc: { _id: 'case:aaaaaaaaaaaaaaaa', _rev: rev, type: 'case', confirmedOn: '2021-08-13', status } });
    const contact = (state: string, updated: string): DocChange => ({
      id: 'followup:c-aaaaaaaaaaaaaaaa:shopaaaaaaaa:1628834400000:r1',
      doc: { type: 'followup', kind: 'contact', at: at('2021-08-13', '09:00'), state, updatedAt: updated }
    });
    const arrival: DocChange = { id: 'followup:a:checkaaaaaaa:1628834400000:r2', doc: { type: 'followup', kind: 'arrival', at: at('2021-08-13', '09:00'), state: 'open', updatedAt: iso('2021-08-13', '09:00') } };
    const exposure = (state: string, updated: string): DocChange => ({ id: `exposure:${SHOP}:ev000001`, doc: { type: 'exposure', state, updatedAt: updated } });
    applyChanges(l, [caseDoc('open', '1-a'), contact('open', iso('2021-08-13', '12:00')), arrival, exposure('draft', iso('2021-08-13', '12:00'))], { now: at('2021-08-13', '13:00') });
    applyChanges(l, [caseDoc('closed', '3-a'), contact('closed', iso('2021-08-16', '08:00')), exposure('published', iso('2021-08-14', '08:00'))], { now: at('2021-08-16', '09:00') });
    applyChanges(l, [exposure('withdrawn', iso('2021-08-17', '08:00'))], { now: NOW });
    expect(communeDays(l, WEEK).map((d) => [d.day, d.figures.cases, d.figures.contactsOpen, d.figures.exposures])).toEqual([
      ['2021-08-12', 0, 0, 0],
      ['2021-08-13', 1, 1, 0],
      ['2021-08-14', 0, 1, 1],
      ['2021-08-15', 0, 1, 0],
      ['2021-08-16', 0, 0, 0],
      ['2021-08-17', 0, 0, 0],
      ['2021-08-18', 0, 0, 0]
    ]);
    // Contacts open at the end of the period, not summed: the week ends with none, its first four days with one.
    expect(figuresOf(l)).toMatchObject({ cases: 1, contactsOpen: 0, exposures: 1 });
    expect(figuresOf(l, daysBetween('2021-08-12', '2021-08-15'))).toMatchObject({ contactsOpen: 1 });
    // The stored ledger tells documents apart without the visit a follow-up's id names.
    const stored = JSON.stringify(ledgerToJson(l));
    expect(stored).not.toContain('1628834400000');
    expect(stored).not.toContain('aaaaaaaaaaaaaaaa');
  });

  it('survives being stored and read back', () => {
    const l = emptyLedger(C);
    applyChanges(l, [venue(SHOP, iso('2021-08-01', '09:00')), entry(SHOP, at('2021-08-15', '10:00'))], { now: NOW });
    applyTally(l, { day: '2021-08-15', venues: { [MARKET]: 2 } });
    const back = ledgerFromJson(JSON.parse(JSON.stringify(ledgerToJson(l))));
    expect(communeDays(back, WEEK)).toEqual(communeDays(l, WEEK));
  });
});

describe('roll-ups', () => {
  const unit = (code: string, level: UnitDoc['level'], parent: string | null): UnitDoc => ({ _id: `unit:${code}`, type: 'unit', schema: 1, code, name: `U ${code}`, level, parent });
  const D = '2021-08-15';
  const commune = (code: string, f: Partial<Figures>, active: string): DayAggregate => ({ day: D, figures: { ...zeroFigures(), ...f }, active: { [code]: active }, children: {} });
  const communes = new Map([
    ['18070', commune('18070', { venues: 3, venuesActive: 1, entries: 10 }, 'AQ==')],
    ['18073', commune('18073', { venues: 5, venuesActive: 2, entries: 4 }, 'Aw==')],
    ['18100', commune('18100', { venues: 2, venuesActive: 0 }, '')]
  ]);

  it('sums communes into their district and districts into the province', () => {
    const tree = unitTree([unit('42', 'province', null), unit('440', 'district', '42'), unit('441', 'district', '42'), unit('18070', 'commune', '440'), unit('18073', 'commune', '440'), unit('18100', 'commune', '441')]);
    const up = rollUpTree(tree, D, communes);
    expect(up.get('440')!.figures).toMatchObject({ venues: 8, venuesActive: 3, entries: 14 });
    expect(up.get('441')!.figures).toMatchObject({ venues: 2, venuesActive: 0, entries: 0 });
    expect(up.get('42')!.figures).toMatchObject({ venues: 10, venuesActive: 3, entries: 14 });
    expect(Object.keys(up.get('42')!.children)).toEqual(['440', '441']);
  });

  it('follows a commune moved to another district', () => {
    const tree = unitTree([unit('42', 'province', null), unit('440', 'district', '42'), unit('441', 'district', '42'), unit('18070', 'commune', '440'), unit('18073', 'commune', '441'), unit('18100', 'commune', '441')]);
    const up = rollUpTree(tree, D, communes);
    expect(up.get('440')!.figures).toMatchObject({ venues: 3, venuesActive: 1, entries: 10 });
    expect(up.get('441')!.figures).toMatchObject({ venues: 7, venuesActive: 2, entries: 4 });
    expect(up.get('42')!.figures.entries).toBe(14);
    // The province's distinct active venues of its districts, from the communes' bitmaps.
    const days = [up.get('42')!];
    expect(periodFigures(days, (d) => d.children['441'], (c) => c === '18073' || c === '18100').venuesActive).toBe(2);
  });

  it('rolls communes of a 2-level province straight into it', () => {
    const tree = unitTree([unit('48', 'province', null), unit('18070', 'commune', '48'), unit('18073', 'commune', '48')]);
    const up = rollUpTree(tree, D, communes);
    expect(up.get('48')!.figures).toMatchObject({ venues: 8, entries: 14 });
    expect(Object.keys(up.get('48')!.children)).toEqual(['18070', '18073']);
  });
});
