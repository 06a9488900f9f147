/**
 * The shared documents of the commune databases (`lv_c_<commune>`), with the schemas that both the
 * PWA (before it saves) and the sync gateway (before it stores a push) check them against.
 * Ids carry ownership (DESIGN §4) so the gateway can authorise a document from its id alone.
 */
import * as v from 'valibot';
import { EXPOSURE_FIELDS } from './exposure/exposure';
import { CLOCK_SKEW, EXPOSURE_PROBLEM_REASONS, exposureProblem } from './exposure/exposure-rules';
import { MAX_TRAVEL_UNITS, MAX_VACCINE_DOSES, SYMPTOMS } from './citizen/personal-qr';
import { cleanLine, cleanText } from './text';
import type { FIGURE_KEYS } from './reports/figures';
import { periodFromId } from './reports/period';
import { REMARK_MAX } from './reports/report';
import { UNIT_CODE_PATTERN, VENUE_ID_PATTERN, VENUE_NAME_MAX, VENUE_TYPES, venueDocId } from './venue/venue';

const COMMUNE_CODE = /^[0-9]{5}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const PHONE = /^0[0-9]{9}$/;

/**
 * Replication metadata is not checked by the schemas: checkCommuneDoc copies `_id`, `_rev`,
 * `_revisions` and `_deleted` from what was pushed and drops every other `_` field.
 */
const base = {
  _id: v.string(),
  _rev: v.optional(v.string()),
  _revisions: v.optional(v.unknown()),
  schema: v.literal(1)
};

/** Free text of one line (names, places, addresses): cleaned as stored, then measured. */
const line = (max: number, min = 0) => v.pipe(v.string(), v.transform(cleanLine), v.minLength(min), v.maxLength(max));
/** Free text over several lines (messages, notes): cleaned as stored, then measured. */
const text = (max: number) => v.pipe(v.string(), v.transform(cleanText), v.maxLength(max));

export const VenueDocSchema = v.object({
  ...base,
  type: v.literal('venue'),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  name: line(VENUE_NAME_MAX, 1),
  venueType: v.picklist(VENUE_TYPES),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  address: line(200),
  contactPhone: v.optional(v.pipe(v.string(), v.regex(PHONE))),
  /** Minutes; overrides the venue type's default stay for visits without a check-out. */
  defaultStayMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(24 * 60))),
  status: v.picklist(['active', 'suspended']),
  /**
   * Who suspended it: an owner may resume a venue it suspended itself, not one the commune team
   * suspended (the gateway holds that rule). Absent: the owner's, as suspensions from before this
   * field are taken (the team's venues page always says 'team').
   */
  suspendedBy: v.optional(v.picklist(['owner', 'team'])),
  /** user id of the venue owner; absent for venues a commune team registered */
  owner: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9]{1,40}$/))),
  createdAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  updatedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  // Written by the server's signer only.
  token: v.optional(v.pipe(v.string(), v.regex(/^[0-9]+$/), v.maxLength(1000))),
  keyId: v.optional(v.pipe(v.string(), v.regex(/^[0-9]{4}$/))),
  signedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  demo: v.optional(v.boolean())
});
export type VenueRecord = v.InferOutput<typeof VenueDocSchema>;

export const PersonSchema = v.object({
  source: v.picklist(['personal-qr', 'cccd', 'bhyt', 'national-qr', 'manual']),
  name: line(120),
  idNumber: v.optional(v.pipe(v.string(), v.regex(/^[0-9*]{9,12}$/))),
  oldIdNumber: v.optional(line(12)),
  insuranceNumber: v.optional(line(20)),
  phone: v.optional(line(20)),
  birthDate: v.optional(v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}$/))),
  birthYear: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1900), v.maxValue(2100))),
  gender: v.optional(v.picklist(['male', 'female'])),
  address: v.optional(line(300)),
  communeCode: v.optional(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN)))
});

const DAY_TEXT = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The health declaration an entry carries: a station keeps the citizen's self-declared one as read
 * from the personal QR (selfDeclared, date, vaccineDoses), a checkpoint what its officer checked
 * with the traveller (checkedAt, declaredOn, fromUnit, fromZone). Known fields only, each bounded.
 */
export const EntryDeclarationSchema = v.object({
  selfDeclared: v.optional(v.literal(true)),
  date: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  checkedAt: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  declaredOn: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  symptoms: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(40))), v.maxLength(10))),
  contactWithCase: v.optional(v.boolean()),
  travelledUnits: v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN))), v.maxLength(MAX_TRAVEL_UNITS))),
  vaccineDoses: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_VACCINE_DOSES))),
  fromUnit: v.optional(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN))),
  fromZone: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4)))
});

export const StationEntryDocSchema = v.object({
  ...base,
  type: v.literal('entry'),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  /** ms since epoch, when the person was scanned */
  time: v.pipe(v.number(), v.integer(), v.minValue(0)),
  direction: v.picklist(['in', 'out']),
  person: PersonSchema,
  /** the station device, so that a team can tell stations apart */
  deviceId: v.pipe(v.string(), v.maxLength(64)),
  /** the health declaration carried by a personal QR, or checked at a checkpoint */
  declaration: v.optional(EntryDeclarationSchema)
});
export type StationEntryRecord = v.InferOutput<typeof StationEntryDocSchema>;

/** What an entry stands for after its corrections: a passage in, out, or a mistaken scan removed. */
export const ENTRY_STATES = ['in', 'out', 'removed'] as const;
export type EntryState = (typeof ENTRY_STATES)[number];

/**
 * A correction of one station entry by the venue's staff (a wrong direction, a mistaken scan), as
 * its own immutable document rather than a new revision of the entry: entries stay immutable, so
 * every document counts once in the statistics (the job adds `to` and takes away `from`), whatever
 * order the documents reach the server in. Its id extends its entry's (`<entry id>x<random>`: an
 * entry's own random part is hex), so it sits beside its entry, belongs to the same venue and is
 * deleted with it by retention.
 */
export const EntryFixDocSchema = v.object({
  ...base,
  type: v.literal('entryfix'),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  /** the entry corrected */
  entryId: v.pipe(v.string(), v.regex(/^entry:[a-z2-7]{12}:[0-9]{13}:[0-9a-f]{1,20}$/)),
  /** the entry's time (the day it counts on), as in its id */
  time: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** what the entry stood for when the correction was made, and what it stands for now */
  from: v.picklist(ENTRY_STATES),
  to: v.picklist(ENTRY_STATES),
  /** ms since epoch, when corrected: the latest correction of an entry is its state */
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  deviceId: v.pipe(v.string(), v.maxLength(64))
});
export type EntryFixRecord = v.InferOutput<typeof EntryFixDocSchema>;

/** `<entry id>x<random>`: the correction's id, beside its entry. */
export function entryFixDocId(entryId: string, random: string): string {
  return `${entryId}x${random}`;
}

/**
 * `exposure:<venueId>:<eventId>`: an exposure event a commune team prepares (offline too). The
 * server signs and publishes it to `lv_exposures` when its state is `published` or `withdrawn`;
 * each change of a published event is published again as a new version.
 */
export const ExposureDraftDocSchema = v.object({
  ...base,
  type: v.literal('exposure'),
  ...EXPOSURE_FIELDS,
  venueName: line(VENUE_NAME_MAX, 1),
  message: text(500),
  advice: text(500),
  contactPhone: line(20),
  state: v.picklist(['draft', 'published', 'withdrawn']),
  updatedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME)))
});
export type ExposureDraftRecord = v.InferOutput<typeof ExposureDraftDocSchema>;

const CASE_ID = /^[a-z0-9]{16}$/;
const notes = v.optional(text(2000));

/** A place and time a case was at: a venue of the app (from its code or the case's shared diary) or a place typed in. */
export const CaseVisitSchema = v.object({
  venueId: v.optional(v.pipe(v.string(), v.regex(VENUE_ID_PATTERN))),
  communeCode: v.optional(v.pipe(v.string(), v.regex(COMMUNE_CODE))),
  /** the venue's name as known when added, or the name of a place typed in */
  place: line(VENUE_NAME_MAX, 1),
  from: v.pipe(v.number(), v.integer(), v.minValue(0)),
  to: v.pipe(v.number(), v.integer(), v.minValue(0)),
  source: v.picklist(['typed', 'diary'])
});
export type CaseVisitRecord = v.InferOutput<typeof CaseVisitSchema>;

/** `case:<caseId>`: an F0 case the commune team traces. Team members of the commune only. */
export const CaseDocSchema = v.object({
  ...base,
  type: v.literal('case'),
  caseId: v.pipe(v.string(), v.regex(CASE_ID)),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  person: PersonSchema,
  /** the day the case was confirmed positive */
  confirmedOn: v.pipe(v.string(), v.regex(DAY_TEXT)),
  status: v.picklist(['open', 'closed']),
  visits: v.pipe(v.array(CaseVisitSchema), v.maxLength(300)),
  notes,
  createdAt: v.pipe(v.string(), v.regex(ISO_TIME)),
  updatedAt: v.pipe(v.string(), v.regex(ISO_TIME))
});
export type CaseRecord = v.InferOutput<typeof CaseDocSchema>;

export const TEST_RESULTS = ['none', 'pending', 'negative', 'positive'] as const;

/** Why a follow-up ended: isolation completed, the person became a case, or could not be reached. */
export const FOLLOWUP_CLOSE_REASONS = ['completed', 'case', 'lost'] as const;

/** Two checks a day for three weeks, with room: an isolation lasts 7 to 14 days. */
export const MAX_HEALTH_CHECKS = 60;
export const HEALTH_CHECK_NOTE_MAX = 300;

/**
 * One daily health check of a person under follow-up, as SORMAS's follow-up visits: when (ms),
 * the symptoms found (none is a finding too), the temperature in °C if taken, a note.
 */
export const HealthCheckSchema = v.object({
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  symptoms: v.pipe(v.array(v.picklist(SYMPTOMS)), v.maxLength(SYMPTOMS.length)),
  temperature: v.optional(v.pipe(v.number(), v.minValue(34), v.maxValue(43))),
  note: v.optional(text(HEALTH_CHECK_NOTE_MAX))
});
export type HealthCheckRecord = v.InferOutput<typeof HealthCheckSchema>;

/**
 * `followup:<subject>:<entry>`: the team's follow-up of one person, a contact of a case (subject
 * `c-<caseId>`) or an arrival at a checkpoint (subject `a`), keyed by the entry that found them.
 * The id is fixed by what it follows, so two members who start the same follow-up offline write the
 * same document and meet as a conflict the app shows, not as two lists that silently disagree.
 */
export const FollowupDocSchema = v.object({
  ...base,
  type: v.literal('followup'),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  kind: v.picklist(['contact', 'arrival']),
  caseId: v.optional(v.pipe(v.string(), v.regex(CASE_ID))),
  /** the station or checkpoint entry that found the person (it may be gone after retention) */
  entryId: v.pipe(v.string(), v.regex(/^entry:[a-z2-7]{12}:[0-9]{13}:[0-9a-z]{1,32}$/)),
  /** who, copied from the entry so the follow-up reads the same after the entry is deleted */
  person: PersonSchema,
  /** when the person was there (the stay's start, or the arrival) */
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** why an arrival is followed: the unit they came from and its zone level, their symptoms */
  fromUnit: v.optional(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN))),
  fromZone: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4))),
  symptoms: v.optional(v.pipe(v.array(line(40)), v.maxLength(10))),
  calledOn: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  isolationFrom: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  isolationUntil: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  test: v.picklist(TEST_RESULTS),
  testedOn: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  notes,
  state: v.picklist(['open', 'closed']),
  /** why it was closed; absent on follow-ups closed before the reason was asked */
  closedReason: v.optional(v.picklist(FOLLOWUP_CLOSE_REASONS)),
  /** F1 (met the case) or F2 (met an F1); absent on a contact means F1, an arrival has none */
  classification: v.optional(v.picklist(['F1', 'F2'])),
  /** the daily health checks, each a dated record (several a day allowed); absent on older follow-ups */
  checks: v.optional(v.pipe(v.array(HealthCheckSchema), v.maxLength(MAX_HEALTH_CHECKS))),
  updatedAt: v.pipe(v.string(), v.regex(ISO_TIME))
});
export type FollowupRecord = v.InferOutput<typeof FollowupDocSchema>;

/** `diaryshare:<caseId>:<random>`: days of a case's diary the citizen sent online with a team's one-time code. */
export const DiaryShareDocSchema = v.object({
  ...base,
  type: v.literal('diaryshare'),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  caseId: v.pipe(v.string(), v.regex(CASE_ID)),
  receivedAt: v.pipe(v.string(), v.regex(ISO_TIME)),
  visits: v.pipe(v.array(CaseVisitSchema), v.maxLength(500))
});
export type DiaryShareRecord = v.InferOutput<typeof DiaryShareDocSchema>;

/** `w-<due day>` or `m-<YYYY-MM>` (reports/period.ts). */
const PERIOD_ID = /^(?:w-\d{4}-\d{2}-\d{2}|m-\d{4}-\d{2})$/;

/** A report's figures: counts only, as the statistics gave them when the team reviewed them. */
const count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1e9));
const FiguresSchema = v.object({
  venues: count,
  venuesNew: count,
  venuesActive: count,
  entries: count,
  checkins: count,
  arrivals: count,
  arrivalsRisk: count,
  cases: count,
  contactsOpen: count,
  exposures: count
} satisfies Record<(typeof FIGURE_KEYS)[number], typeof count>);

/**
 * `report:<periodId>`: the commune team's weekly or monthly report (DESIGN §12), written offline
 * in the commune database: remarks, and the figures the team reviewed. Team members of the commune
 * only (an owner may neither read nor write it). `submittedAt` is the device's time of the FIRST
 * submission: a submitted report may be edited (back to 'draft' until submitted again) and
 * submitted again, and keeps it, so that timeliness is the first submission's. The server copies a
 * submitted one into lv_reports (server/reports/submissions.ts).
 */
export const ReportDocSchema = v.object({
  ...base,
  type: v.literal('report'),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  periodId: v.pipe(v.string(), v.regex(PERIOD_ID), v.check((id) => periodFromId(id) !== null, 'not a report period')),
  difficulties: text(REMARK_MAX),
  proposals: text(REMARK_MAX),
  done: text(REMARK_MAX),
  state: v.picklist(['draft', 'submitted']),
  submittedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  updatedAt: v.pipe(v.string(), v.regex(ISO_TIME)),
  figures: v.optional(FiguresSchema),
  /** from when the figures are: the statistics' last update when the team fetched them */
  figuresAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME)))
});
export type ReportRecord = v.InferOutput<typeof ReportDocSchema>;

export function reportDocId(periodId: string): string {
  return `report:${periodId}`;
}

export function caseDocId(caseId: string): string {
  return `case:${caseId}`;
}

/** The follow-up of the person an entry found: for a case's contact, or for a checkpoint arrival. */
export function followupDocId(entryId: string, caseId?: string): string {
  return `followup:${caseId ? `c-${caseId}` : 'a'}:${entryId.replace(/^entry:/, '')}`;
}

/** Document kinds a venue owner may read and write (its venues and their station entries). */
export const OWNER_DOC_TYPES = ['venue', 'entry', 'entryfix'] as const;

/** `entry:<venueId>:<time>:<random>`: sorted by venue then time, and unique without coordination. */
export function entryDocId(venueId: string, time: number, random: string): string {
  return `entry:${venueId}:${String(time).padStart(13, '0')}:${random}`;
}

/** The venue a document belongs to, from its id alone; null for ids of no venue. */
export function venueIdOfDocId(id: string): string | null {
  const m = /^(?:venue|entry|exposure):([a-z2-7]{12})(?::|$)/.exec(id);
  return m ? m[1]! : null;
}

export type CommuneDoc = VenueRecord | StationEntryRecord | EntryFixRecord | ExposureDraftRecord | CaseRecord | FollowupRecord | DiaryShareRecord | ReportRecord;

const TEAM_ID = /^(?:case:[a-z0-9]{16}|followup:(?:a|c-[a-z0-9]{16}):[a-z2-7]{12}:[0-9]{13}:[0-9a-z]{1,32}|diaryshare:[a-z0-9]{16}:[a-z0-9]{16}|report:(?:w-\d{4}-\d{2}-\d{2}|m-\d{4}-\d{2}))$/;

/** Whether an id is of a kind that lives in a commune database (everything else stays on the server). */
export function isCommuneDocId(id: string): boolean {
  return venueIdOfDocId(id) !== null || TEAM_ID.test(id);
}

const SCHEMAS = {
  venue: VenueDocSchema,
  entry: StationEntryDocSchema,
  entryfix: EntryFixDocSchema,
  exposure: ExposureDraftDocSchema,
  case: CaseDocSchema,
  followup: FollowupDocSchema,
  diaryshare: DiaryShareDocSchema,
  report: ReportDocSchema
} as const;

/** The id a document must have, from its body; null where the id only has to start a certain way. */
function expectedIdOf(doc: CommuneDoc): { exact: string } | { prefix: string } {
  switch (doc.type) {
    case 'venue':
      return { exact: venueDocId(doc.venueId) };
    case 'exposure':
      return { exact: `exposure:${doc.venueId}:${doc.eventId}` };
    case 'entry':
      return { prefix: `entry:${doc.venueId}:` };
    case 'entryfix':
      return { prefix: `${doc.entryId}x` };
    case 'case':
      return { exact: caseDocId(doc.caseId) };
    case 'followup':
      return { exact: followupDocId(doc.entryId, doc.kind === 'contact' ? doc.caseId : undefined) };
    case 'diaryshare':
      return { prefix: `diaryshare:${doc.caseId}:` };
    case 'report':
      return { exact: reportDocId(doc.periodId) };
  }
}

/** Whether the commune team suspended this venue: then only the team may resume it. */
export function suspendedByTeam(venue: Pick<VenueRecord, 'status' | 'suspendedBy'> | null | undefined): boolean {
  return venue?.status === 'suspended' && venue.suspendedBy === 'team';
}

/**
 * Whether an owner's new version of its venue keeps the team's suspension, where there is one:
 * an owner may edit a venue the team suspended, not resume it nor make the suspension its own.
 */
export function ownerKeepsTeamSuspension(current: Pick<VenueRecord, 'status' | 'suspendedBy'> | null | undefined, next: Pick<VenueRecord, 'status' | 'suspendedBy'>): boolean {
  return !suspendedByTeam(current) || suspendedByTeam(next);
}

/** Whether an id is of a kind a venue owner may see: `venue:` and `entry:` documents. */
export function isOwnerDocId(id: string): boolean {
  return /^(?:venue|entry):/.test(id);
}

export type DocCheck = { ok: true; doc: CommuneDoc } | { ok: false; reason: string };

/**
 * Largest stored body of each kind, in bytes of its JSON (replication metadata left out: a long
 * `_revisions` history is the gateway's to bound). Each cap is just above the largest document its
 * schema allows, every text field full of three-byte letters (documents.test.ts builds those and
 * checks that each fits, and that the cap is less than 1.5 times it): venue 2.2 KB (three texts and
 * a token of at most 1000 digits), entry 3.4 KB (a person and a bounded declaration), exposure 3.6 KB
 * (two messages of 500 letters), case 112 KB (300 visits of 80-letter places, notes), follow-up
 * 73 KB (60 health checks with 300-letter notes), diary share 175 KB (500 visits), report 18.7 KB (three remarks of 2,000 letters). The schemas are the rule; the cap is a second wall,
 * should a field ever be added without a bound.
 */
export const MAX_DOC_BYTES = {
  venue: 3 * 1024,
  entry: 4 * 1024,
  entryfix: 1024,
  exposure: 4 * 1024,
  case: 128 * 1024,
  followup: 80 * 1024,
  diaryshare: 192 * 1024,
  report: 20 * 1024
} as const satisfies Record<keyof typeof SCHEMAS, number>;

/** No station, checkpoint or team of this app recorded anything before 2021. */
export const EARLIEST_ENTRY_TIME = Date.UTC(2021, 0, 1);

/** The replication fields a pushed document keeps as they came; the gateway checks them. */
const KEPT_META = ['_id', '_rev', '_revisions', '_deleted'] as const;

function metaOf(raw: Record<string, unknown>): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  for (const key of KEPT_META) if (Object.hasOwn(raw, key)) meta[key] = raw[key];
  return meta;
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** `entry:<venueId>:<13-digit time>:<random>` */
const ENTRY_ID = /^entry:[a-z2-7]{12}:([0-9]{13}):[0-9a-z]{1,32}$/;

/**
 * Validates a document pushed into a commune database (live or deleted) and gives the document to
 * store: on success `doc` holds only the fields its schema knows, every text cleaned (cleanText:
 * NFC, no invisible or control characters, trimmed) and measured after cleaning, plus `_id`, `_rev`,
 * `_revisions` and `_deleted` copied unchanged from `raw`; `_conflicts`, `_attachments` and every
 * other `_` field are dropped. A deletion becomes exactly `{_id, _rev?, _revisions?, _deleted: true}`.
 * `now` bounds the times a document may carry (entries, exposure windows).
 */
export function checkCommuneDoc(raw: unknown, communeCode: string, now: number = Date.now()): DocCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not an object' };
  const body = raw as Record<string, unknown>;
  if (typeof body._id !== 'string') return { ok: false, reason: 'missing _id' };
  if (body._rev !== undefined && typeof body._rev !== 'string') return { ok: false, reason: '_rev must be a string' };
  if (body._deleted !== undefined && typeof body._deleted !== 'boolean') return { ok: false, reason: '_deleted must be true or false' };
  const meta = metaOf(body);
  if (body._deleted === true) {
    // A deletion carries no body to check; the id says what it deletes, and nothing else is kept.
    return isCommuneDocId(body._id) ? { ok: true, doc: meta as unknown as CommuneDoc } : { ok: false, reason: 'unknown document id' };
  }
  const kind = typeof body.type === 'string' && Object.hasOwn(SCHEMAS, body.type) ? (body.type as keyof typeof SCHEMAS) : null;
  if (!kind) return { ok: false, reason: `unknown document type ${typeof body.type === 'string' ? body.type.slice(0, 40) : typeof body.type}` };
  const result = v.safeParse(SCHEMAS[kind], raw);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, reason: `${v.getDotPath(issue) ?? 'document'}: ${issue.message.slice(0, 200)}` };
  }
  const { _rev: _r, _revisions: _rs, ...fields } = result.output;
  const parsed = { ...fields, ...meta } as CommuneDoc;
  if (parsed.communeCode !== communeCode) return { ok: false, reason: 'document of another commune' };
  const expected = expectedIdOf(parsed);
  const idMatches = 'exact' in expected ? parsed._id === expected.exact : parsed._id.startsWith(expected.prefix) && isCommuneDocId(parsed._id);
  if (!idMatches) return { ok: false, reason: '_id does not match the document' };
  const bytes = utf8Length(JSON.stringify(fields));
  if (bytes > MAX_DOC_BYTES[kind]) return { ok: false, reason: `a ${kind} document is at most ${MAX_DOC_BYTES[kind]} bytes (this one has ${bytes})` };
  if (parsed.type === 'entry') {
    const problem = entryTimeProblem(parsed._id, parsed.time, now);
    if (problem) return { ok: false, reason: problem };
  }
  if (parsed.type === 'entryfix') {
    const problem = entryTimeProblem(parsed.entryId, parsed.time, now) ?? (parsed.entryId.startsWith(`entry:${parsed.venueId}:`) ? null : 'a correction is of an entry of its own venue');
    if (problem) return { ok: false, reason: problem };
    if (parsed.from === parsed.to) return { ok: false, reason: 'a correction changes what the entry stands for' };
  }
  if (parsed.type === 'exposure') {
    const problem = exposureProblem(parsed, now);
    if (problem) return { ok: false, reason: EXPOSURE_PROBLEM_REASONS[problem] };
  }
  if (parsed.type === 'followup' && (parsed.kind === 'contact') !== (parsed.caseId !== undefined)) return { ok: false, reason: 'a contact follow-up names its case, an arrival none' };
  if (parsed.type === 'report') {
    if (parsed.state === 'submitted' && !parsed.submittedAt) return { ok: false, reason: 'a submitted report says when it was submitted' };
    if (parsed.submittedAt && Date.parse(parsed.submittedAt) > now + CLOCK_SKEW) return { ok: false, reason: 'a report cannot be submitted in the future' };
  }
  if ((parsed.type === 'case' || parsed.type === 'diaryshare') && parsed.visits.some((visit) => visit.to < visit.from)) return { ok: false, reason: 'a visit must end after it starts' };
  return { ok: true, doc: parsed };
}

/**
 * An entry's id carries the time it was scanned (`entry:<venueId>:<13-digit time>:<random>`), which
 * orders a venue's log and lets retention and casework read a venue's entries by time range; the id
 * must say the document's time, and that time must have happened.
 */
export function entryTimeProblem(id: string, time: number, now: number): string | null {
  const m = ENTRY_ID.exec(id);
  if (!m) return 'an entry id is entry:<venue id>:<13-digit time>:<random>';
  if (Number(m[1]) !== time) return "an entry id's time must be the entry's time";
  if (time > now + CLOCK_SKEW) return 'an entry cannot be in the future';
  if (time < EARLIEST_ENTRY_TIME) return 'an entry cannot be older than 2021';
  return null;
}
