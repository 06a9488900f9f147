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

const PersonSchema = v.object({
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

export type CommuneDoc = VenueRecord | StationEntryRecord | ExposureDraftRecord;

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
  const schema = doc.type === 'venue' ? VenueDocSchema : doc.type === 'entry' ? StationEntryDocSchema : doc.type === 'exposure' ? ExposureDraftDocSchema : null;
  if (doc._deleted === true) {
    // A deletion carries no body to check; the id says what it deletes.
    return venueIdOfDocId(doc._id) ? { ok: true, doc: raw as CommuneDoc } : { ok: false, reason: 'unknown document id' };
  }
  if (!schema) return { ok: false, reason: `unknown document type ${String(doc.type)}` };
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    return { ok: false, reason: `${v.getDotPath(issue) ?? 'document'}: ${issue.message}` };
  }
  const parsed = result.output;
  if (parsed.communeCode !== communeCode) return { ok: false, reason: 'document of another commune' };
  const expectedId =
    parsed.type === 'venue' ? venueDocId(parsed.venueId) : parsed.type === 'exposure' ? `exposure:${parsed.venueId}:${parsed.eventId}` : null;
  const idMatches = expectedId ? parsed._id === expectedId : parsed._id.startsWith(`entry:${parsed.venueId}:`);
  if (!idMatches) return { ok: false, reason: '_id does not match the document' };
  if (parsed.type === 'exposure' && parsed.to < parsed.from) return { ok: false, reason: 'an exposure window must end after it starts' };
  return { ok: true, doc: raw as CommuneDoc };
}
