/**
 * The compact exposure snapshot (`/api/exposures/<province>/snapshot/v2`, issue 13): a province's
 * current exposure events, or the changes since a version the phone holds, under ONE Ed25519
 * signature. The per-event list of `/api/exposures/<province>` spent 58 % of its bytes on a
 * signature per event; here 10,000 events carry one.
 *
 * Bytes as served (before the HTTP content coding, gzip or brotli, which the client undoes):
 *
 *   offset  size  content
 *   0       4     "LVS2"                   magic: format and its version
 *   4       4     key id, 4 ASCII digits   the signing key (as in /api/keys)
 *   8       64    Ed25519 signature        over "LVS2:" ‖ payload (the prefix keeps it apart from
 *                                          venue codes, per-event signatures "LVX1:" and the
 *                                          first snapshot format "LVS1:")
 *   72      …     payload                  UTF-8 JSON, below
 *
 * The payload is columnar: one array per field, the i-th entry of each array is the i-th event. Field
 * names appear once, not 10,000 times, and each column holds values of one kind, which is what
 * brotli and gzip compress best. What LVS2 changed from LVS1 (snapshot-format-v1.ts), for about 15 %
 * fewer bytes as served at 10,000 events: a venue's id, name and commune are written once in a venue
 * table and each event names its row (LVS1 spent three indexes an event); ids are one string joined
 * by spaces; a text used once is written where it is used, and only texts used more than once go to
 * the dictionary (a contact phone or a message of one event cost a dictionary entry AND an index).
 *
 *   {
 *     "format": "luu-vet-exposure-snapshot", "schema": 2,
 *     "province": "42",
 *     "kind": "full" | "delta",
 *     "since": null | <version the delta applies to>,
 *     "version": <this list's version>,
 *     "unit": 60000 | 1,              times below are in this many ms (minutes when every time is a whole minute)
 *     "strings": [ … ],               texts used more than once
 *     "venues": {                     one row per distinct (venue id, name as published, commune)
 *       "id":      "<venueId> <venueId> …",
 *       "name":    [text, …],
 *       "commune": [text, …]
 *     },
 *     "events": {
 *       "id":      "<eventId> <eventId> …",
 *       "ver":     [version of the event, …],     a correction publishes a higher one
 *       "venue":   [row of venues, …],
 *       "from":    [start − previous event's start, in unit, …]   events sorted by start, then id
 *       "len":     [end − start, in unit, …],
 *       "widen":   [minutes, …],
 *       "level":   [0 = high, 1 = monitor, …],
 *       "message": [text, …],
 *       "advice":  [text, …],
 *       "phone":   [text, …]
 *     },
 *     "withdrawn": [eventId, …]      delta only: events withdrawn since `since` (a full snapshot leaves them out)
 *   }
 *
 * A "text" is either a JSON string (the text itself) or a number (an index into `strings`).
 *
 * Versions are milliseconds on the server's clock: a list of version V holds every event published
 * (or corrected, or withdrawn) at or before V. See server/snapshot.ts for how V is chosen. A full
 * snapshot replaces what the phone holds; a delta applies only to the exact version it names in
 * `since`, and the phone checks that it does. Versions are the same in LVS1 and LVS2: a phone that
 * holds a list from an LVS1 snapshot asks for the LVS2 delta since its version.
 *
 * Everything a phone shows on an alert is here: venue name, window, level, message, advice, phone.
 * Nothing about who asked goes back: a request names a province and a public version number.
 */
import * as v from 'valibot';
import { ExposureEventSchema, type ExposureEvent } from './exposure';
import { KEY_ID_PATTERN, type PublicKey } from '../venue/venue-token';
import { verifyEd25519 } from '../ed25519';

export const SNAPSHOT_FORMAT = 'luu-vet-exposure-snapshot';
/** The format phones fetch now; LVS1 (snapshot-format-v1.ts) is still served to apps that ask for it. */
export const SNAPSHOT_MAGIC = 'LVS2';
export type SnapshotMagic = 'LVS1' | 'LVS2';
const HEADER_BYTES = 4 + 4 + 64;
export const LEVELS = ['high', 'monitor'] as const;

export type SnapshotKind = 'full' | 'delta';

/** What a snapshot or a delta says, decoded. */
export interface SnapshotContent {
  province: string;
  kind: SnapshotKind;
  /** the version a delta applies to; null for a full snapshot */
  since: number | null;
  version: number;
  /** full: every current event; delta: events published or corrected since `since`. Never withdrawn ones. */
  events: ExposureEvent[];
  /** delta: ids of events withdrawn since `since`; full: [] */
  withdrawn: string[];
}

const Version = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Index = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Text = v.union([v.string(), Index]);
/** Ids joined by single spaces ("" for none); each id is checked again with its event. */
const Ids = v.pipe(v.string(), v.regex(/^([a-z0-9]+( [a-z0-9]+)*)?$/));

const PayloadSchema = v.object({
  format: v.literal(SNAPSHOT_FORMAT),
  schema: v.literal(2),
  province: v.pipe(v.string(), v.regex(/^[0-9]{2}$/)),
  kind: v.picklist(['full', 'delta']),
  since: v.nullable(Version),
  version: Version,
  unit: v.picklist([60_000, 1]),
  strings: v.array(v.string()),
  venues: v.object({
    id: Ids,
    name: v.array(Text),
    commune: v.array(Text)
  }),
  events: v.object({
    id: Ids,
    ver: v.array(v.number()),
    venue: v.array(Index),
    from: v.array(v.pipe(v.number(), v.safeInteger())),
    len: v.array(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
    widen: v.array(v.number()),
    level: v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(LEVELS.length - 1))),
    message: v.array(Text),
    advice: v.array(Text),
    phone: v.array(Text)
  }),
  withdrawn: v.array(v.string())
});
type Payload = v.InferOutput<typeof PayloadSchema>;

export const byStartThenId = (a: ExposureEvent, b: ExposureEvent) => a.from - b.from || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/** The events of a content, checked and sorted as both formats write them. */
export function checkedContentEvents(content: SnapshotContent): ExposureEvent[] {
  if (content.kind === 'full' ? content.since !== null || content.withdrawn.length > 0 : content.since === null) {
    throw new Error('a full snapshot has no since and no withdrawals; a delta has a since');
  }
  const events = content.events.map((e) => {
    const checked = v.parse(ExposureEventSchema, e);
    if (checked.withdrawn) throw new Error(`event ${checked.eventId} is withdrawn: list it in withdrawn`);
    if (checked.to < checked.from) throw new Error('an exposure window must end after it starts');
    return checked;
  });
  return events.sort(byStartThenId);
}

/**
 * The payload's bytes. The same content gives the same bytes (events sorted, venue rows and
 * dictionary in order of first use), so every server instance serves the same body under the same ETag.
 */
export function encodeSnapshotPayload(content: SnapshotContent): Uint8Array {
  const events = checkedContentEvents(content);
  const unit = events.every((e) => e.from % 60_000 === 0 && e.to % 60_000 === 0) ? 60_000 : 1;
  const venueRows: { id: string; name: string; commune: string }[] = [];
  const venueRow = new Map<string, number>();
  const rowOf = (e: ExposureEvent) => {
    // NUL cannot appear in a venue id or a commune code: the key is unambiguous.
    const key = `${e.venueId}\u0000${e.communeCode}\u0000${e.venueName}`;
    let i = venueRow.get(key);
    if (i === undefined) {
      i = venueRows.length;
      venueRows.push({ id: e.venueId, name: e.venueName, commune: e.communeCode });
      venueRow.set(key, i);
    }
    return i;
  };
  const rows = events.map(rowOf);
  // Texts used more than once go to the dictionary, in order of first use; the others stay in place.
  const uses = new Map<string, number>();
  const use = (s: string) => uses.set(s, (uses.get(s) ?? 0) + 1);
  for (const r of venueRows) (use(r.name), use(r.commune));
  for (const e of events) (use(e.message), use(e.advice), use(e.contactPhone));
  const strings: string[] = [];
  const index = new Map<string, number>();
  const text = (s: string): string | number => {
    if (uses.get(s)! < 2) return s;
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const venues = { id: venueRows.map((r) => r.id).join(' '), name: [] as (string | number)[], commune: [] as (string | number)[] };
  for (const r of venueRows) {
    venues.name.push(text(r.name));
    venues.commune.push(text(r.commune));
  }
  const cols: Omit<Payload['events'], 'id'> = { ver: [], venue: [], from: [], len: [], widen: [], level: [], message: [], advice: [], phone: [] };
  let previous = 0;
  events.forEach((e, i) => {
    cols.ver.push(e.version);
    cols.venue.push(rows[i]!);
    cols.from.push(e.from / unit - previous);
    previous = e.from / unit;
    cols.len.push((e.to - e.from) / unit);
    cols.widen.push(e.widenMinutes);
    cols.level.push(LEVELS.indexOf(e.level));
    cols.message.push(text(e.message));
    cols.advice.push(text(e.advice));
    cols.phone.push(text(e.contactPhone));
  });
  const payload: Payload = {
    format: SNAPSHOT_FORMAT,
    schema: 2,
    province: content.province,
    kind: content.kind,
    since: content.since,
    version: content.version,
    unit,
    strings,
    venues,
    events: { id: events.map((e) => e.eventId).join(' '), ...cols },
    withdrawn: [...content.withdrawn].sort()
  };
  return new TextEncoder().encode(JSON.stringify(payload));
}

const splitIds = (ids: string) => (ids === '' ? [] : ids.split(' '));

/** The payload's content, or null for anything that is not a well-formed payload. */
export function decodeSnapshotPayload(bytes: Uint8Array): SnapshotContent | null {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  const parsed = v.safeParse(PayloadSchema, json);
  if (!parsed.success) return null;
  const p = parsed.output;
  if ((p.kind === 'full') !== (p.since === null) || (p.kind === 'full' && p.withdrawn.length > 0)) return null;
  const text = (t: string | number): string | null => (typeof t === 'string' ? t : (p.strings[t] ?? null));
  const venueIds = splitIds(p.venues.id);
  if (p.venues.name.length !== venueIds.length || p.venues.commune.length !== venueIds.length) return null;
  const venues: { id: string; name: string; commune: string }[] = [];
  for (let i = 0; i < venueIds.length; i++) {
    const [name, commune] = [text(p.venues.name[i]!), text(p.venues.commune[i]!)];
    if (name === null || commune === null) return null;
    venues.push({ id: venueIds[i]!, name, commune });
  }
  const c = p.events;
  const ids = splitIds(c.id);
  const n = ids.length;
  if ([c.ver, c.venue, c.from, c.len, c.widen, c.level, c.message, c.advice, c.phone].some((column) => column.length !== n)) return null;
  const events: ExposureEvent[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    start += c.from[i]!;
    const venue = venues[c.venue[i]!];
    const [message, advice, contactPhone] = [text(c.message[i]!), text(c.advice[i]!), text(c.phone[i]!)];
    if (!venue || message === null || advice === null || contactPhone === null) return null;
    const event = v.safeParse(ExposureEventSchema, {
      eventId: ids[i],
      version: c.ver[i],
      venueId: venue.id,
      venueName: venue.name,
      communeCode: venue.commune,
      from: start * p.unit,
      to: (start + c.len[i]!) * p.unit,
      widenMinutes: c.widen[i],
      level: LEVELS[c.level[i]!],
      message,
      advice,
      contactPhone,
      withdrawn: false
    });
    if (!event.success) return null;
    events.push(event.output);
  }
  return { province: p.province, kind: p.kind, since: p.since, version: p.version, events, withdrawn: p.withdrawn };
}

// ---------------------------------------------------------------------------------------------
// The sealed container, the same for LVS1 and LVS2 but for the magic and the signing prefix
// ---------------------------------------------------------------------------------------------

/** What is signed: the payload behind a prefix of its own format ("LVS2:"), so no format's signature passes for another's. */
export function snapshotSigningBytes(payload: Uint8Array, magic: SnapshotMagic = SNAPSHOT_MAGIC): Uint8Array {
  const prefix = new TextEncoder().encode(`${magic}:`);
  const out = new Uint8Array(prefix.length + payload.length);
  out.set(prefix);
  out.set(payload, prefix.length);
  return out;
}

/** The bytes as served, from a payload and its signature. */
export function sealSnapshot(payload: Uint8Array, keyId: string, signature: Uint8Array, magic: SnapshotMagic = SNAPSHOT_MAGIC): Uint8Array<ArrayBuffer> {
  if (!KEY_ID_PATTERN.test(keyId)) throw new Error(`bad key id ${keyId}`);
  if (signature.length !== 64) throw new Error('an Ed25519 signature is 64 bytes');
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out.set(new TextEncoder().encode(magic + keyId));
  out.set(signature, 8);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The parts of served bytes, or null when they are not a snapshot of this format (a captive portal's page, a cut download, another format). */
export function openSnapshot(bytes: Uint8Array, magic: SnapshotMagic = SNAPSHOT_MAGIC): { keyId: string; signature: Uint8Array; payload: Uint8Array } | null {
  if (bytes.length <= HEADER_BYTES) return null;
  const head = String.fromCharCode(...bytes.subarray(0, 8));
  if (!head.startsWith(magic) || !KEY_ID_PATTERN.test(head.slice(4))) return null;
  return { keyId: head.slice(4), signature: bytes.subarray(8, HEADER_BYTES), payload: bytes.subarray(HEADER_BYTES) };
}

export type SnapshotCheck =
  | { ok: true; content: SnapshotContent; keyId: string }
  /**
   * not-snapshot: not this format at all; unknown-key: a key id not in the list; revoked-key: a key
   * revoked (the server signs every snapshot afresh with its active key, so a genuine one never
   * comes under a revoked key, and a snapshot's version is no date anyone could trust); forged: the
   * signature does not hold, or what it covers is malformed or for another province
   */
  | { ok: false; reason: 'not-snapshot' | 'unknown-key' | 'revoked-key' | 'forged'; keyId: string | null };

/** The check of either format: the signature over the bytes as received, then the payload with the format's own decoder. */
export async function verifySealedSnapshot(
  bytes: Uint8Array,
  keys: readonly PublicKey[],
  province: string,
  magic: SnapshotMagic,
  decode: (payload: Uint8Array) => SnapshotContent | null
): Promise<SnapshotCheck> {
  const opened = openSnapshot(bytes, magic);
  if (!opened) return { ok: false, reason: 'not-snapshot', keyId: null };
  const key = keys.find((k) => k.id === opened.keyId);
  if (!key) return { ok: false, reason: 'unknown-key', keyId: opened.keyId };
  if (key.revokedFrom !== undefined) return { ok: false, reason: 'revoked-key', keyId: opened.keyId };
  if (!(await verifyEd25519(opened.signature, snapshotSigningBytes(opened.payload, magic), key.publicKey))) return { ok: false, reason: 'forged', keyId: opened.keyId };
  const content = decode(opened.payload);
  // Signed but not for this province: a genuine list served at the wrong address is still the wrong list.
  if (!content || content.province !== province) return { ok: false, reason: 'forged', keyId: opened.keyId };
  return { ok: true, content, keyId: opened.keyId };
}

/**
 * Checks served LVS2 bytes offline: one signature however many events (WebCrypto where the phone
 * has Ed25519, the fallback loaded only where it does not: src/lib/core/ed25519.ts), then the payload.
 * Anything else, LVS1 included, is 'not-snapshot': a phone never reads one format with the other's parser.
 */
export function verifySnapshot(bytes: Uint8Array, keys: readonly PublicKey[], province: string): Promise<SnapshotCheck> {
  return verifySealedSnapshot(bytes, keys, province, SNAPSHOT_MAGIC, decodeSnapshotPayload);
}

/** A province's events as a phone holds them, at a version (null: an old-format list, or none). */
export interface HeldList {
  version: number | null;
  events: ExposureEvent[];
}

/**
 * The list after a verified snapshot or delta; null when a delta does not follow from what is held
 * (it names another version): the phone then keeps its list and asks for a full snapshot.
 */
export function applySnapshot(held: HeldList, content: SnapshotContent): HeldList | null {
  if (content.kind === 'full') return { version: content.version, events: content.events };
  if (held.version === null || content.since !== held.version || content.version < held.version) return null;
  const byId = new Map(held.events.map((e) => [e.eventId, e]));
  for (const id of content.withdrawn) byId.delete(id);
  for (const e of content.events) byId.set(e.eventId, e);
  return { version: content.version, events: [...byId.values()] };
}
