/**
 * The shared documents of the commune databases (`lv_c_<commune>`), with the schemas that both the
 * PWA (before it saves) and the sync gateway (before it stores a push) check them against.
 * Ids carry ownership (DESIGN §4) so the gateway can authorise a document from its id alone.
 */
import * as v from 'valibot';
import { EXPOSURE_FIELDS } from './exposure';
import { UNIT_CODE_PATTERN, VENUE_ID_PATTERN, VENUE_NAME_MAX, VENUE_TYPES, venueDocId } from './venue';

const COMMUNE_CODE = /^[0-9]{5}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const PHONE = /^0[0-9]{9}$/;

const base = {
  _id: v.string(),
  _rev: v.optional(v.string()),
  _revisions: v.optional(v.unknown()),
  _conflicts: v.optional(v.unknown()),
  schema: v.literal(1)
};

export const VenueDocSchema = v.object({
  ...base,
  type: v.literal('venue'),
  venueId: v.pipe(v.string(), v.regex(VENUE_ID_PATTERN)),
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(VENUE_NAME_MAX)),
  venueType: v.picklist(VENUE_TYPES),
  communeCode: v.pipe(v.string(), v.regex(COMMUNE_CODE)),
  address: v.pipe(v.string(), v.maxLength(200)),
  contactPhone: v.optional(v.pipe(v.string(), v.regex(PHONE))),
  /** Minutes; overrides the venue type's default stay for visits without a check-out. */
  defaultStayMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(24 * 60))),
  status: v.picklist(['active', 'suspended']),
  /** user id of the venue owner; absent for venues a commune team registered */
  owner: v.optional(v.string()),
  createdAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  updatedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME))),
  // Written by the server's signer only.
  token: v.optional(v.pipe(v.string(), v.regex(/^[0-9]+$/), v.maxLength(1000))),
  keyId: v.optional(v.string()),
  signedAt: v.optional(v.string()),
  demo: v.optional(v.boolean())
});
export type VenueRecord = v.InferOutput<typeof VenueDocSchema>;

export const PersonSchema = v.object({
  source: v.picklist(['personal-qr', 'cccd', 'bhyt', 'national-qr', 'manual']),
  name: v.pipe(v.string(), v.maxLength(120)),
  idNumber: v.optional(v.pipe(v.string(), v.regex(/^[0-9*]{9,12}$/))),
  oldIdNumber: v.optional(v.pipe(v.string(), v.maxLength(12))),
  insuranceNumber: v.optional(v.pipe(v.string(), v.maxLength(20))),
  phone: v.optional(v.pipe(v.string(), v.maxLength(20))),
  birthDate: v.optional(v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}$/))),
  birthYear: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1900), v.maxValue(2100))),
  gender: v.optional(v.picklist(['male', 'female'])),
  address: v.optional(v.pipe(v.string(), v.maxLength(300))),
  communeCode: v.optional(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN)))
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
  /** the self-declared health declaration carried by a personal QR, as read */
  declaration: v.optional(v.record(v.string(), v.unknown()))
});
export type StationEntryRecord = v.InferOutput<typeof StationEntryDocSchema>;

/**
 * `exposure:<venueId>:<eventId>`: an exposure event a commune team prepares (offline too). The
 * server signs and publishes it to `lv_exposures` when its state is `published` or `withdrawn`;
 * each change of a published event is published again as a new version.
 */
export const ExposureDraftDocSchema = v.object({
  ...base,
  type: v.literal('exposure'),
  ...EXPOSURE_FIELDS,
  state: v.picklist(['draft', 'published', 'withdrawn']),
  updatedAt: v.optional(v.pipe(v.string(), v.regex(ISO_TIME)))
});
export type ExposureDraftRecord = v.InferOutput<typeof ExposureDraftDocSchema>;

const DAY_TEXT = /^\d{4}-\d{2}-\d{2}$/;
const CASE_ID = /^[a-z0-9]{16}$/;
const notes = v.optional(v.pipe(v.string(), v.maxLength(2000)));

/** A place and time a case was at: a venue of the app (from its code or the case's shared diary) or a place typed in. */
export const CaseVisitSchema = v.object({
  venueId: v.optional(v.pipe(v.string(), v.regex(VENUE_ID_PATTERN))),
  communeCode: v.optional(v.pipe(v.string(), v.regex(COMMUNE_CODE))),
  /** the venue's name as known when added, or the name of a place typed in */
  place: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(VENUE_NAME_MAX)),
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
  entryId: v.pipe(v.string(), v.maxLength(100)),
  /** who, copied from the entry so the follow-up reads the same after the entry is deleted */
  person: PersonSchema,
  /** when the person was there (the stay's start, or the arrival) */
  at: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** why an arrival is followed: the unit they came from and its zone level, their symptoms */
  fromUnit: v.optional(v.pipe(v.string(), v.regex(UNIT_CODE_PATTERN))),
  fromZone: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4))),
  symptoms: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(40))), v.maxLength(10))),
  calledOn: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  isolationFrom: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  isolationUntil: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  test: v.picklist(TEST_RESULTS),
  testedOn: v.optional(v.pipe(v.string(), v.regex(DAY_TEXT))),
  notes,
  state: v.picklist(['open', 'closed']),
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

export function caseDocId(caseId: string): string {
  return `case:${caseId}`;
}

/** The follow-up of the person an entry found: for a case's contact, or for a checkpoint arrival. */
export function followupDocId(entryId: string, caseId?: string): string {
  return `followup:${caseId ? `c-${caseId}` : 'a'}:${entryId.replace(/^entry:/, '')}`;
}

/** Document kinds a venue owner may read and write (its venues and their station entries). */
export const OWNER_DOC_TYPES = ['venue', 'entry'] as const;

/** `entry:<venueId>:<time>:<random>`: sorted by venue then time, and unique without coordination. */
export function entryDocId(venueId: string, time: number, random: string): string {
  return `entry:${venueId}:${String(time).padStart(13, '0')}:${random}`;
}

/** The venue a document belongs to, from its id alone; null for ids of no venue. */
export function venueIdOfDocId(id: string): string | null {
  const m = /^(?:venue|entry|exposure):([a-z2-7]{12})(?::|$)/.exec(id);
  return m ? m[1]! : null;
}

export type CommuneDoc = VenueRecord | StationEntryRecord | ExposureDraftRecord | CaseRecord | FollowupRecord | DiaryShareRecord;

const TEAM_ID = /^(?:case:[a-z0-9]{16}|followup:(?:a|c-[a-z0-9]{16}):[a-z2-7]{12}:[0-9]{13}:[0-9a-z]{1,32}|diaryshare:[a-z0-9]{16}:[a-z0-9]{16})$/;

/** Whether an id is of a kind that lives in a commune database (everything else stays on the server). */
export function isCommuneDocId(id: string): boolean {
  return venueIdOfDocId(id) !== null || TEAM_ID.test(id);
}

const SCHEMAS = {
  venue: VenueDocSchema,
  entry: StationEntryDocSchema,
  exposure: ExposureDraftDocSchema,
  case: CaseDocSchema,
  followup: FollowupDocSchema,
  diaryshare: DiaryShareDocSchema
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
    case 'case':
      return { exact: caseDocId(doc.caseId) };
    case 'followup':
      return { exact: followupDocId(doc.entryId, doc.kind === 'contact' ? doc.caseId : undefined) };
    case 'diaryshare':
      return { prefix: `diaryshare:${doc.caseId}:` };
  }
}

/** Whether an id is of a kind a venue owner may see: `venue:` and `entry:` documents. */
export function isOwnerDocId(id: string): boolean {
  return /^(?:venue|entry):/.test(id);
}

export type DocCheck = { ok: true; doc: CommuneDoc } | { ok: false; reason: string };

/** Validates a document pushed into a commune database (live or deleted). */
export function checkCommuneDoc(raw: unknown, communeCode: string): DocCheck {
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: 'not an object' };
  const doc = raw as { _id?: unknown; type?: unknown; _deleted?: unknown };
  if (typeof doc._id !== 'string') return { ok: false, reason: 'missing _id' };
  const schema = typeof doc.type === 'string' && Object.hasOwn(SCHEMAS, doc.type) ? SCHEMAS[doc.type as keyof typeof SCHEMAS] : null;
  if (doc._deleted === true) {
    // A deletion carries no body to check; the id says what it deletes.
    return isCommuneDocId(doc._id) ? { ok: true, doc: raw as CommuneDoc } : { ok: false, reason: 'unknown document id' };
  }
  if (!schema) return { ok: false, reason: `unknown document type ${String(doc.type)}` };
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, reason: `${v.getDotPath(issue) ?? 'document'}: ${issue.message}` };
  }
  const parsed = result.output as CommuneDoc;
  if (parsed.communeCode !== communeCode) return { ok: false, reason: 'document of another commune' };
  const expected = expectedIdOf(parsed);
  const idMatches = 'exact' in expected ? parsed._id === expected.exact : parsed._id.startsWith(expected.prefix) && isCommuneDocId(parsed._id);
  if (!idMatches) return { ok: false, reason: '_id does not match the document' };
  if (parsed.type === 'exposure' && parsed.to < parsed.from) return { ok: false, reason: 'an exposure window must end after it starts' };
  if (parsed.type === 'followup' && (parsed.kind === 'contact') !== (parsed.caseId !== undefined)) return { ok: false, reason: 'a contact follow-up names its case, an arrival none' };
  if ((parsed.type === 'case' || parsed.type === 'diaryshare') && parsed.visits.some((visit) => visit.to < visit.from)) return { ok: false, reason: 'a visit must end after it starts' };
  return { ok: true, doc: raw as CommuneDoc };
}
