import { describe, expect, it } from 'vitest';
import { checkCommuneDoc, entryDocId, isCommuneDocId, isOwnerDocId, type ReportRecord, EARLIEST_ENTRY_TIME, ownerKeepsTeamSuspension, suspendedByTeam, MAX_DOC_BYTES, type CaseRecord, type DiaryShareRecord, type ExposureDraftRecord, type FollowupRecord, type StationEntryRecord, type VenueRecord } from './documents';
import { at } from './testing';
import { DAY, HOUR, MINUTE } from './time';

const now = at('2021-08-22', '10:00');
const C = '18070';
const ISO = '2021-08-22T03:00:00.000Z';

const venue: VenueRecord = {
  _id: 'venue:demochoducth',
  type: 'venue',
  schema: 1,
  venueId: 'demochoducth',
  name: 'Chợ Đức Thọ',
  venueType: 'market',
  communeCode: C,
  address: 'Thị trấn Đức Thọ',
  status: 'active',
  owner: 'uabc123',
  createdAt: ISO,
  updatedAt: ISO
};

const time = now - HOUR;
const entry: StationEntryRecord = {
  _id: entryDocId('demochoducth', time, 'a1b2c3'),
  type: 'entry',
  schema: 1,
  venueId: 'demochoducth',
  communeCode: C,
  time,
  direction: 'in',
  person: { source: 'manual', name: 'Nguyễn Văn An', phone: '0912345678' },
  deviceId: 'station-1'
};

const exposure: ExposureDraftRecord = {
  _id: 'exposure:demochoducth:evt0000000000001',
  type: 'exposure',
  schema: 1,
  eventId: 'evt0000000000001',
  venueId: 'demochoducth',
  venueName: 'Chợ Đức Thọ',
  communeCode: C,
  from: now - 2 * DAY,
  to: now - 2 * DAY + 2 * HOUR,
  widenMinutes: 60,
  level: 'high',
  message: 'Ca F0 có mặt tại chợ',
  advice: 'Cách ly tại nhà',
  contactPhone: '0239 123 456',
  state: 'published',
  updatedAt: ISO
};

const ok = (raw: unknown) => {
  const check = checkCommuneDoc(raw, C, now);
  if (!check.ok) throw new Error(check.reason);
  return check.doc as unknown as Record<string, unknown>;
};
const reason = (raw: unknown) => {
  const check = checkCommuneDoc(raw, C, now);
  if (check.ok) throw new Error('accepted');
  return check.reason;
};

describe('the document to store is the normalised one', () => {
  it('cleans names before measuring them: 100,000 spaces and an X are a name of one letter', () => {
    const doc = ok({ ...venue, name: ' '.repeat(100_000) + 'X' });
    expect(doc.name).toBe('X');
    expect(reason({ ...venue, name: 'X' + 'y'.repeat(100_000) })).toMatch(/^name:/);
    expect(ok({ ...venue, name: 'X' + ' '.repeat(100_000) + 'Y' }).name).toBe('X Y');
    expect(reason({ ...venue, name: ' \u200b\u202e ' })).toMatch(/^name:/);
  });

  it('stores NFC, without bidi or zero-width characters, one space between words', () => {
    const doc = ok({ ...venue, name: '\u202eChợ\u200b  Đức\u2066 Tho\u0323\ufeff', address: ' Thị trấn\n Đức Thọ\u200f ' });
    expect(doc.name).toBe('Chợ Đức Thọ');
    expect(doc.address).toBe('Thị trấn Đức Thọ');
    const e = ok({ ...exposure, message: '  Ca F0\u202a có mặt\r\ntại chợ\u0000 ' });
    expect(e.message).toBe('Ca F0 có mặt\ntại chợ');
  });

  it('keeps only the fields its schema knows, and of the metadata _id, _rev, _revisions, _deleted', () => {
    const revisions = { start: 2, ids: ['b', 'a'] };
    const doc = ok({ ...venue, _rev: '2-b', _revisions: revisions, _deleted: false, _conflicts: ['1-x'], _attachments: { a: { data: 'QQ==' } }, _local_seq: 4, junk: 'x'.repeat(1_000_000) });
    expect(doc).toEqual({ ...venue, _rev: '2-b', _revisions: revisions, _deleted: false });
    expect(Object.keys(ok({ ...entry, person: { ...entry.person, extra: 1 }, declaration: { symptoms: ['fever'], nested: { deep: 1 } } }))).not.toContain('junk');
    const e = ok({ ...entry, person: { ...entry.person, extra: 1 }, declaration: { symptoms: ['fever'], nested: { deep: 1 } } });
    expect(e.person).toEqual(entry.person);
    expect(e.declaration).toEqual({ symptoms: ['fever'] });
  });

  it('turns a deletion into exactly its metadata', () => {
    const doc = ok({ _id: venue._id, _rev: '3-c', _revisions: { start: 3, ids: ['c'] }, _deleted: true, _attachments: {}, name: 'x'.repeat(100_000), type: 'venue' });
    expect(doc).toEqual({ _id: venue._id, _rev: '3-c', _revisions: { start: 3, ids: ['c'] }, _deleted: true });
    expect(ok({ _id: venue._id, _deleted: true })).toEqual({ _id: venue._id, _deleted: true });
  });

  it('drops lone surrogates, which JSON writes as six bytes each and no text needs', () => {
    expect(ok({ ...venue, name: 'A\ud800B\udc00C' }).name).toBe('ABC');
    expect(ok({ ...venue, name: 'A😀' }).name).toBe('A😀');
  });

  it('refuses metadata of the wrong type, and says why', () => {
    expect(reason({ ...venue, _rev: 2 })).toBe('_rev must be a string');
    expect(reason({ ...venue, _deleted: 'yes' })).toBe('_deleted must be true or false');
    expect(reason({ _id: venue._id, _deleted: 1 })).toBe('_deleted must be true or false');
    expect(reason([venue])).toBe('not an object');
  });

  it('bounds a declaration to its known fields', () => {
    expect(reason({ ...entry, declaration: { travelledUnits: Array(11).fill('18070') } })).toMatch(/^declaration\.travelledUnits:/);
    expect(reason({ ...entry, declaration: { vaccineDoses: 9 } })).toMatch(/^declaration\.vaccineDoses:/);
    expect(reason({ ...entry, declaration: 'x' })).toMatch(/^declaration:/);
  });
});

describe('sizes', () => {
  const big = (n: number) => 'Ờ'.repeat(n); // three bytes in UTF-8
  const maxPerson = { source: 'manual', name: big(120), idNumber: '123456789012', oldIdNumber: big(12), insuranceNumber: big(20), phone: big(20), birthDate: '1990-01-01', birthYear: 1990, gender: 'female', address: big(300), communeCode: '18070' } as const;
  const maxVisit = { venueId: 'demochoducth', communeCode: C, place: big(80), from: now - DAY, to: now - DAY + HOUR, source: 'diary' } as const;
  const bytes = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc)).length;

  it('the largest document each schema allows fits its cap', () => {
    const maxVenue = { ...venue, name: big(80), address: big(200), contactPhone: '0912345678', defaultStayMinutes: 60, token: '9'.repeat(1000), keyId: '1001', signedAt: ISO, demo: true };
    const maxEntry = { ...entry, person: maxPerson, deviceId: 'd'.repeat(64), declaration: { selfDeclared: true, date: '2021-08-22', checkedAt: '2021-08-22', declaredOn: '2021-08-22', symptoms: Array(10).fill(big(40)), contactWithCase: true, travelledUnits: Array(10).fill('18070'), vaccineDoses: 4, fromUnit: '18070', fromZone: 4 } };
    const maxExposure = { ...exposure, eventId: 'e'.repeat(32), _id: `exposure:demochoducth:${'e'.repeat(32)}`, venueName: big(80), message: big(500), advice: big(500), contactPhone: '0'.repeat(20) };
    const caseId = 'c'.repeat(16);
    const maxCase: CaseRecord = { _id: `case:${caseId}`, type: 'case', schema: 1, caseId, communeCode: C, person: maxPerson, confirmedOn: '2021-08-21', status: 'open', visits: Array(300).fill(maxVisit), notes: big(2000), createdAt: ISO, updatedAt: ISO };
    const maxFollowup: FollowupRecord = { _id: `followup:c-${caseId}:demochoducth:${String(time)}:${'a'.repeat(32)}`, type: 'followup', schema: 1, communeCode: C, kind: 'contact', caseId, entryId: `entry:demochoducth:${String(time)}:${'a'.repeat(32)}`, person: maxPerson, at: time, fromUnit: '18070', fromZone: 4, symptoms: Array(10).fill(big(40)), calledOn: '2021-08-22', isolationFrom: '2021-08-22', isolationUntil: '2021-08-22', test: 'pending', testedOn: '2021-08-22', notes: big(2000), state: 'open', closedReason: 'completed', classification: 'F2', checks: Array(60).fill({ at: time, symptoms: ['fever', 'cough', 'shortness-of-breath', 'taste-smell-loss', 'sore-throat', 'fatigue'], temperature: 39.5, note: big(300) }), updatedAt: ISO };
    const maxShare: DiaryShareRecord = { _id: `diaryshare:${caseId}:${'r'.repeat(16)}`, type: 'diaryshare', schema: 1, communeCode: C, caseId, receivedAt: ISO, visits: Array(500).fill(maxVisit) };
    const maxReport = { ...report, difficulties: big(2000), proposals: big(2000), done: big(2000), figures: Object.fromEntries(Object.keys(report.figures!).map((k) => [k, 1e9])), figuresAt: ISO };
    const largest = { venue: maxVenue, entry: maxEntry, exposure: maxExposure, case: maxCase, followup: maxFollowup, diaryshare: maxShare, report: maxReport };
    for (const [kind, doc] of Object.entries(largest)) {
      const stored = ok(doc);
      expect(bytes(stored), kind).toBeLessThanOrEqual(MAX_DOC_BYTES[kind as keyof typeof MAX_DOC_BYTES]);
      // and the cap is not far above it: a cap many times the largest document would guard little
      expect(bytes(stored) * 1.5, kind).toBeGreaterThan(MAX_DOC_BYTES[kind as keyof typeof MAX_DOC_BYTES]);
    }
    expect(reason({ ...maxVenue, name: big(81) })).toMatch(/^name:/);
  });

  it('counts _revisions out of the size: a long history is not a big document', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => i.toString(16).padStart(32, '0'));
    expect(ok({ ...venue, _rev: `1000-${ids[0]}`, _revisions: { start: 1000, ids } })._revisions).toEqual({ start: 1000, ids });
  });
});

describe('entry ids carry the entry time', () => {
  it('accepts an entry whose id says its time', () => {
    expect(ok(entry)._id).toBe(entry._id);
    expect(ok({ ...entry, time: now + 9 * MINUTE, _id: entryDocId('demochoducth', now + 9 * MINUTE, 'x1') }).time).toBe(now + 9 * MINUTE);
  });

  it('refuses an id of another time, a time in the future or before 2021, and an id that is no entry id', () => {
    expect(reason({ ...entry, _id: entryDocId('demochoducth', time + 1, 'a1b2c3') })).toBe("an entry id's time must be the entry's time");
    expect(reason({ ...entry, _id: 'entry:demochoducth:zzz' })).toMatch(/^an entry id is/);
    expect(reason({ ...entry, _id: `entry:demochoducth:${time}:A_B` })).toMatch(/^an entry id is/);
    const future = now + 11 * MINUTE;
    expect(reason({ ...entry, time: future, _id: entryDocId('demochoducth', future, 'a') })).toBe('an entry cannot be in the future');
    const old = EARLIEST_ENTRY_TIME - 1;
    expect(reason({ ...entry, time: old, _id: entryDocId('demochoducth', old, 'a') })).toBe('an entry cannot be older than 2021');
  });
});

describe('exposure events at the gateway', () => {
  it('applies the form rules to drafts and published events', () => {
    expect(ok(exposure).state).toBe('published');
    expect(ok({ ...exposure, state: 'draft' }).state).toBe('draft');
    for (const state of ['draft', 'published'] as const) {
      expect(reason({ ...exposure, state, to: exposure.from + 7 * DAY })).toBe('an exposure window is at most 24 hours');
      expect(reason({ ...exposure, state, from: 0, to: HOUR })).toMatch(/^an exposure window older than 28 days/);
      expect(reason({ ...exposure, state, from: now + DAY, to: now + DAY + HOUR })).toBe('an exposure window cannot start in the future');
      expect(ok({ ...exposure, state, from: now - HOUR, to: now + HOUR }).state).toBe(state);
      expect(reason({ ...exposure, state, to: exposure.from })).toBe('an exposure window must end after it starts');
      expect(reason({ ...exposure, state, widenMinutes: 24 * 60 })).toMatch(/^an exposure margin is at most/);
      expect(reason({ ...exposure, state, contactPhone: ' ' })).toBe('an exposure needs a contact phone number');
      expect(reason({ ...exposure, state, venueName: '\u200b ' })).toMatch(/^venueName:/);
    }
  });

  it('lets a team withdraw any event, however old', () => {
    const old = { ...exposure, from: now - 40 * DAY, to: now - 40 * DAY + HOUR };
    expect(reason(old)).toMatch(/older than 28 days/);
    expect(ok({ ...old, state: 'withdrawn' }).state).toBe('withdrawn');
    // one published before these rules: a week long, a wide margin
    expect(ok({ ...exposure, to: exposure.from + 7 * DAY, widenMinutes: 600, state: 'withdrawn' }).state).toBe('withdrawn');
    expect(reason({ ...exposure, to: exposure.from - 1, state: 'withdrawn' })).toBe('an exposure window must end after it starts');
  });

  it('lets a team correct an event 27 days old', () => {
    const late = { ...exposure, from: now - 27 * DAY, to: now - 27 * DAY + HOUR };
    expect(ok({ ...late, message: 'Sửa lại' }).message).toBe('Sửa lại');
  });
});

describe("a team's suspension of a venue", () => {
  it('only the team lifts it; an owner may edit the venue, and lift its own suspension', () => {
    const team = { status: 'suspended', suspendedBy: 'team' } as const;
    const owner = { status: 'suspended', suspendedBy: 'owner' } as const;
    const active = { status: 'active' } as const;
    expect(suspendedByTeam(team)).toBe(true);
    expect(suspendedByTeam(owner)).toBe(false);
    expect(suspendedByTeam({ status: 'suspended' })).toBe(false); // from before the field: the owner's
    expect(ownerKeepsTeamSuspension(team, team)).toBe(true);
    expect(ownerKeepsTeamSuspension(team, active)).toBe(false);
    expect(ownerKeepsTeamSuspension(team, owner)).toBe(false);
    expect(ownerKeepsTeamSuspension(owner, active)).toBe(true);
    expect(ownerKeepsTeamSuspension(null, active)).toBe(true);
  });
});

const report: ReportRecord = {
  _id: 'report:w-2021-08-26',
  type: 'report',
  schema: 1,
  communeCode: C,
  periodId: 'w-2021-08-26',
  difficulties: 'Thôn 3 mất sóng',
  proposals: '',
  done: 'Đã in 40 mã QR',
  state: 'submitted',
  submittedAt: ISO,
  updatedAt: ISO,
  figures: { venues: 12, venuesNew: 1, venuesActive: 5, entries: 40, checkins: 3, arrivals: 2, arrivalsRisk: 0, cases: 0, contactsOpen: 1, exposures: 0 },
  figuresAt: ISO
};

describe('the team\'s report', () => {
  it('is a commune document of the team, not of an owner', () => {
    expect(ok(report)).toEqual(report);
    expect(isCommuneDocId('report:w-2021-08-26')).toBe(true);
    expect(isCommuneDocId('report:m-2021-08')).toBe(true);
    expect(isCommuneDocId('report:x-2021-08')).toBe(false);
    expect(isOwnerDocId('report:w-2021-08-26')).toBe(false);
  });

  it('cleans remarks and keeps only counts in its figures', () => {
    const doc = ok({ ...report, done: '  Đã\u200b in\r\n40 mã ', figures: { ...report.figures, names: ['Nguyễn Văn A'] } });
    expect(doc.done).toBe('Đã in\n40 mã');
    expect(doc.figures).toEqual(report.figures);
    expect(reason({ ...report, figures: { ...report.figures, venues: -1 } })).toMatch(/^figures\.venues:/);
    expect(reason({ ...report, figures: { ...report.figures, cases: '3' } })).toMatch(/^figures\.cases:/);
  });

  it('refuses what is not a report of this commune for this period', () => {
    expect(reason({ ...report, _id: 'report:w-2021-09-02' })).toBe('_id does not match the document');
    expect(reason({ ...report, periodId: 'w-2021-02-30', _id: 'report:w-2021-02-30' })).toMatch(/^periodId:/);
    expect(reason({ ...report, periodId: 'week-1', _id: 'report:week-1' })).toMatch(/^periodId:/);
    expect(reason({ ...report, communeCode: '18073' })).toBe('document of another commune');
    expect(reason({ ...report, done: 'x'.repeat(2001) })).toMatch(/^done:/);
    expect(reason({ ...report, state: 'approved' })).toMatch(/^state:/);
  });

  it('a submitted report says when, and not in the future', () => {
    const { submittedAt: _, ...unsent } = report;
    expect(ok({ ...unsent, state: 'draft' }).state).toBe('draft');
    expect(reason({ ...unsent, state: 'submitted' })).toBe('a submitted report says when it was submitted');
    expect(reason({ ...report, submittedAt: new Date(now + DAY).toISOString() })).toBe('a report cannot be submitted in the future');
    // edited after it was submitted: a draft keeps its first submission time
    expect(ok({ ...report, state: 'draft' }).submittedAt).toBe(ISO);
  });
});
