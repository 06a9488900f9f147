import { describe, expect, it } from 'vitest';
import {
  addVisits,
  differingFields,
  followupStage,
  highestZone,
  isolationUntil,
  mergeCases,
  mergeFollowups,
  mergeNotes,
  needsMonitoring,
  newCase,
  newFollowup,
  personMatches,
  tracedVisits,
  visitsElsewhere,
  visitsToPublish,
  visitsFromSharedDay
} from './casework';
import { checkCommuneDoc, followupDocId, isCommuneDocId, type CaseVisitRecord, type StationEntryRecord } from '../documents';
import { decodeDiaryDay, encodeDiaryDay } from '../citizen/diary-share';
import { at, makeVisit, T0 } from '../testing';

const CASE = 'abcdefgh12345678';
const entry: StationEntryRecord = {
  _id: `entry:demochoducth:${String(T0).padStart(13, '0')}:a1b2c3`,
  type: 'entry',
  schema: 1,
  venueId: 'demochoducth',
  communeCode: '18070',
  time: T0,
  direction: 'in',
  person: { source: 'manual', name: 'Lê Thị Bình', phone: '0912345678', birthYear: 1950 },
  deviceId: 'd1'
};

describe('who a checkpoint follows', () => {
  it('follows arrivals from orange and red units, or with symptoms', () => {
    expect(needsMonitoring(3, [])).toBe(true);
    expect(needsMonitoring(4, [])).toBe(true);
    expect(needsMonitoring(2, [])).toBe(false);
    expect(needsMonitoring(null, [])).toBe(false);
    expect(needsMonitoring(1, ['fever'])).toBe(true);
  });

  it('takes the highest zone among the units travelled', () => {
    const zones: Record<string, number> = { '18070': 2, '01001': 4 };
    expect(highestZone(['18070', '01001', '99999'], (c) => zones[c] ?? null)).toEqual({ unit: '01001', zone: 4 });
    expect(highestZone(['99999'], () => null)).toBeNull();
  });
});

describe('case documents', () => {
  it('a new case and its follow-ups pass the gateway schema', () => {
    const c = newCase(CASE, '18070', { source: 'manual', name: 'Nguyễn Văn An', phone: '0911111111' }, '2021-08-21', T0);
    c.visits = [{ venueId: 'demochoducth', communeCode: '18070', place: 'Chợ Đức Thọ', from: T0, to: T0 + 3_600_000, source: 'typed' }];
    expect(checkCommuneDoc(c, '18070')).toMatchObject({ ok: true });
    expect(checkCommuneDoc(c, '18071')).toEqual({ ok: false, reason: 'document of another commune' });
    const contact = newFollowup(entry, '18070', T0, { caseId: CASE });
    expect(contact._id).toBe(followupDocId(entry._id, CASE));
    expect(checkCommuneDoc(contact, '18070')).toMatchObject({ ok: true });
    const arrival = newFollowup(entry, '18070', T0, { fromUnit: '01001', fromZone: 4, symptoms: [] });
    expect(arrival._id).toBe(`followup:a:demochoducth:${String(T0).padStart(13, '0')}:a1b2c3`);
    expect(checkCommuneDoc(arrival, '18070')).toMatchObject({ ok: true });
  });

  it('refuses a follow-up filed under another id, a contact without its case, a visit that ends first', () => {
    const contact = newFollowup(entry, '18070', T0, { caseId: CASE });
    expect(checkCommuneDoc({ ...contact, _id: followupDocId(entry._id, 'zzzzzzzzzzzzzzzz') }, '18070')).toMatchObject({ ok: false });
    const { caseId: _, ...orphan } = contact;
    expect(checkCommuneDoc(orphan, '18070')).toMatchObject({ ok: false });
    const c = newCase(CASE, '18070', { source: 'manual', name: 'An' }, '2021-08-21', T0);
    c.visits = [{ place: 'Nhà văn hoá', from: T0, to: T0 - 1, source: 'typed' }];
    expect(checkCommuneDoc(c, '18070')).toEqual({ ok: false, reason: 'a visit must end after it starts' });
  });

  it('knows the ids of commune documents, and only those', () => {
    expect(isCommuneDocId(`case:${CASE}`)).toBe(true);
    expect(isCommuneDocId(followupDocId(entry._id, CASE))).toBe(true);
    expect(isCommuneDocId(`diaryshare:${CASE}:${CASE}`)).toBe(true);
    expect(isCommuneDocId('case:short')).toBe(false);
    expect(isCommuneDocId('_design/x')).toBe(false);
    expect(isCommuneDocId('followup:x:demochoducth:1:a')).toBe(false);
    // A deletion is accepted by its id alone.
    expect(checkCommuneDoc({ _id: `case:${CASE}`, _deleted: true }, '18070')).toMatchObject({ ok: true });
    expect(checkCommuneDoc({ _id: 'secret:1', _deleted: true }, '18070')).toMatchObject({ ok: false });
  });
});

describe('visits from a shared diary', () => {
  it('reads a day code into case visits, with the venue default stay when there was no check-out', () => {
    const visits = [
      makeVisit({ checkin: at('2021-08-20', '08:30') }),
      makeVisit({ id: 'v2', venueId: null, venueName: 'Nhà bà Tư', communeCode: null, checkin: at('2021-08-20', '12:00'), checkout: at('2021-08-20', '13:00') })
    ];
    const day = decodeDiaryDay(encodeDiaryDay('2021-08-20', visits)[0]!)!;
    const read = visitsFromSharedDay(day, (id) => (id === 'demochoducth' ? { name: 'Chợ Đức Thọ', venueType: 'market' } : null), '?');
    expect(read).toEqual([
      { venueId: 'demochoducth', communeCode: '18070', place: 'Chợ Đức Thọ', from: at('2021-08-20', '08:30'), to: at('2021-08-20', '09:30'), source: 'diary' },
      { place: 'Nhà bà Tư', from: at('2021-08-20', '12:00'), to: at('2021-08-20', '13:00'), source: 'diary' }
    ]);
    // Scanning the same code again adds nothing.
    const once = addVisits([], read);
    expect(addVisits(once, read)).toEqual(once);
    // The same visit sent online (to the millisecond) adds nothing either.
    expect(addVisits(once, [{ ...read[0]!, from: read[0]!.from + 20_000, to: read[0]!.to + 20_000 }])).toEqual(once);
    // Only venues of the commune are traced there.
    expect(tracedVisits([...read, { ...read[0]!, communeCode: '01001' }], '18070')).toEqual([{ venueId: 'demochoducth', from: read[0]!.from, to: read[0]!.to }]);
  });
});

describe('follow-up', () => {
  it('names the furthest step taken', () => {
    const f = newFollowup(entry, '18070', T0, { caseId: CASE });
    expect(followupStage(f)).toBe('todo');
    expect(followupStage({ ...f, calledOn: '2021-08-21' })).toBe('called');
    expect(followupStage({ ...f, calledOn: '2021-08-21', isolationFrom: '2021-08-21' })).toBe('isolating');
    expect(followupStage({ ...f, test: 'negative' })).toBe('tested');
    expect(followupStage({ ...f, test: 'positive' })).toBe('positive');
    expect(followupStage({ ...f, test: 'positive', state: 'closed' })).toBe('closed');
  });

  it('isolates seven days', () => {
    expect(isolationUntil('2021-08-28')).toBe('2021-09-04');
  });
});

describe('merging two offline edits', () => {
  const base = newFollowup(entry, '18070', T0, { caseId: CASE });

  it('keeps the work of both members', () => {
    const mine = { ...base, calledOn: '2021-08-22', notes: 'Đã gọi, không nghe máy', updatedAt: '2021-08-22T02:00:00.000Z' };
    const theirs = { ...base, calledOn: '2021-08-21', isolationFrom: '2021-08-21', isolationUntil: '2021-08-28', test: 'pending' as const, testedOn: '2021-08-21', notes: 'Đang cách ly tại nhà', updatedAt: '2021-08-21T09:00:00.000Z' };
    const merged = mergeFollowups(mine, theirs);
    expect(merged).toMatchObject({ calledOn: '2021-08-21', isolationFrom: '2021-08-21', isolationUntil: '2021-08-28', test: 'pending', testedOn: '2021-08-21', state: 'open', updatedAt: '2021-08-22T02:00:00.000Z' });
    expect(merged.notes).toBe('Đã gọi, không nghe máy\n—\nĐang cách ly tại nhà');
    expect(mergeFollowups(theirs, mine)).toMatchObject({ calledOn: '2021-08-21', test: 'pending', state: 'open' });
    expect(checkCommuneDoc(merged, '18070')).toMatchObject({ ok: true });
  });

  it('takes the later test, and a positive on the same day', () => {
    const a = { ...base, test: 'negative' as const, testedOn: '2021-08-22' };
    const b = { ...base, test: 'positive' as const, testedOn: '2021-08-22' };
    expect(mergeFollowups(a, b).test).toBe('positive');
    expect(mergeFollowups(b, a).test).toBe('positive');
    expect(mergeFollowups({ ...b, testedOn: '2021-08-21' }, a).test).toBe('negative');
  });

  it('keeps a follow-up open when one member closed it and the other kept working', () => {
    expect(mergeFollowups({ ...base, state: 'closed' }, base).state).toBe('open');
    expect(mergeFollowups({ ...base, state: 'closed' }, { ...base, state: 'closed' }).state).toBe('closed');
  });

  it('keeps notes once', () => {
    expect(mergeNotes('a', 'a b')).toBe('a b');
    expect(mergeNotes(undefined, 'b')).toBe('b');
    expect(mergeNotes('', undefined)).toBeUndefined();
  });

  it('merges two versions of a case: every visit from both', () => {
    const c = newCase(CASE, '18070', { source: 'manual', name: 'An' }, '2021-08-21', T0);
    const v = (place: string, from: number): CaseVisitRecord => ({ place, from, to: from + 1000, source: 'typed' });
    const a = { ...c, visits: [v('Chợ', T0)], notes: 'Hỏi lại vợ', updatedAt: '2021-08-21T03:00:00.000Z' };
    const b = { ...c, visits: [v('Chợ', T0), v('Quán', T0 + 5000)], status: 'closed' as const, updatedAt: '2021-08-21T04:00:00.000Z' };
    const merged = mergeCases(a, b);
    expect(merged.visits.map((x) => x.place)).toEqual(['Chợ', 'Quán']);
    expect(merged).toMatchObject({ notes: 'Hỏi lại vợ', status: 'open', updatedAt: '2021-08-21T04:00:00.000Z' });
    expect(differingFields(a, b)).toEqual(['notes', 'status', 'visits']);
  });
});

describe('one-step publishing and search', () => {
  const visit = (venueId: string | undefined, communeCode: string | undefined, from: number): CaseVisitRecord => ({
    ...(venueId ? { venueId } : {}),
    ...(communeCode ? { communeCode } : {}),
    place: venueId ?? 'Nhà riêng',
    from,
    to: from + 3_600_000,
    source: 'diary'
  });
  const visits = [visit('demochoducth', '18070', T0), visit('democafesong', '18070', T0 + 7_200_000), visit('othervenue22', '01001', T0), visit(undefined, undefined, T0)];

  it("publishes the commune's known venues once, and names the visits other communes trace", () => {
    const known = (id: string) => id !== 'othervenue22';
    const published = { venueId: 'demochoducth', from: T0, to: T0 + 3_600_000, state: 'published' as const };
    expect(visitsToPublish(visits, '18070', known, []).map((v) => v.venueId)).toEqual(['demochoducth', 'democafesong']);
    expect(visitsToPublish(visits, '18070', known, [published]).map((v) => v.venueId)).toEqual(['democafesong']);
    expect(visitsToPublish(visits, '18070', known, [{ ...published, state: 'withdrawn' }]).map((v) => v.venueId)).toEqual(['demochoducth', 'democafesong']);
    expect(visitsElsewhere(visits, '18070').map((v) => v.venueId)).toEqual(['othervenue22']);
  });

  it('finds a person by name without accents, or by part of a number', () => {
    const binh = { name: 'Lê Thị Bình', phone: '0987654321' };
    expect(personMatches(binh, 'le thi binh')).toBe(true);
    expect(personMatches(binh, 'BÌNH')).toBe(true);
    expect(personMatches(binh, '654')).toBe(true);
    expect(personMatches(binh, 'an')).toBe(false);
    expect(personMatches(binh, '  ')).toBe(true);
  });
});
