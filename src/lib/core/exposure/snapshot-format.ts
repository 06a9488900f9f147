/**
 * The compact exposure snapshot (`/api/exposures/<province>/snapshot`, issue 13): a province's
 * current exposure events, or the changes since a version the phone holds, under ONE Ed25519
 * signature. The per-event list of `/api/exposures/<province>` spent 58 % of its bytes on a
 * signature per event; here 10,000 events carry one.
 *
 * Bytes as served (before the HTTP content coding, gzip or brotli, which the client undoes):
 *
 *   offset  size  content
 *   0       4     "LVS1"                   magic: format and its version
 *   4       4     key id, 4 ASCII digits   the signing key (as in /api/keys)
 *   8       64    Ed25519 signature        over "LVS1:" ‖ payload (the prefix keeps it apart from
 *                                          venue codes and per-event signatures, "LVX1:")
 *   72      …     payload                  UTF-8 JSON, below
 *
 * The payload is columnar: one array per field, the i-th entry of each array is the i-th event. Field
 * names appear once, not 10,000 times, and each column holds values of one kind, which is what
 * gzip and brotli compress best.
 *
 *   {
 *     "format": "luu-vet-exposure-snapshot", "schema": 1,
 *     "province": "42",
 *     "kind": "full" | "delta",
 *     "since": null | <version the delta applies to>,
 *     "version": <this list's version>,
 *     "unit": 60000 | 1,              times below are in this many ms (minutes when every time is a whole minute)
 *     "strings": [ … ],               dictionary: venue ids and names, communes, advice, contact phones
 *     "events": {
 *       "id":      [eventId, …],
 *       "ver":     [version of the event, …],     a correction publishes a higher one
 *       "venue":   [index into strings, …],       venue id
 *       "name":    [index into strings, …],       venue name, as the team published it
 *       "commune": [index into strings, …],
 *       "from":    [start − previous event's start, in unit, …]   events sorted by start, then id
 *       "len":     [end − start, in unit, …],
 *       "widen":   [minutes, …],
 *       "level":   [0 = high, 1 = monitor, …],
 *       "message": [text, …],                      free text: rarely repeated, kept in place
 *       "advice":  [index into strings, …],
 *       "phone":   [index into strings, …]
 *     },
 *     "withdrawn": [eventId, …]      delta only: events withdrawn since `since` (a full snapshot leaves them out)
 *   }
 *
 * Versions are milliseconds on the server's clock: a list of version V holds every event published
 * (or corrected, or withdrawn) at or before V. See server/snapshot.ts for how V is chosen. A full
 * snapshot replaces what the phone holds; a delta applies only to the exact version it names in
 * `since`, and the phone checks that it does.
 *
 * Everything a phone shows on an alert is here: venue name, window, level, message, advice, phone.
 * Nothing about who asked goes back: a request names a province and a public version number.
 */
import * as v from 'valibot';
import { ExposureEventSchema, type ExposureEvent } from './exposure';
import { KEY_ID_PATTERN, type PublicKey } from '../venue/venue-token';
import { verifyEd25519 } from '../ed25519';

export const SNAPSHOT_FORMAT = 'luu-vet-exposure-snapshot';
export const SNAPSHOT_MAGIC = 'LVS1';
const SIGNING_PREFIX = 'LVS1:';
const HEADER_BYTES = 4 + 4 + 64;
const LEVELS = ['high', 'monitor'] as const;

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

const PayloadSchema = v.object({
  format: v.literal(SNAPSHOT_FORMAT),
  schema: v.literal(1),
  province: v.pipe(v.string(), v.regex(/^[0-9]{2}$/)),
  kind: v.picklist(['full', 'delta']),
  since: v.nullable(Version),
  version: Version,
  unit: v.picklist([60_000, 1]),
  strings: v.array(v.string()),
  events: v.object({
    id: v.array(v.string()),
    ver: v.array(v.number()),
    venue: v.array(Index),
    name: v.array(Index),
    commune: v.array(Index),
    from: v.array(v.pipe(v.number(), v.safeInteger())),
    len: v.array(v.pipe(v.number(), v.safeInteger(), v.minValue(0))),
    widen: v.array(v.number()),
    level: v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(LEVELS.length - 1))),
    message: v.array(v.string()),
    advice: v.array(Index),
    phone: v.array(Index)
  }),
  withdrawn: v.array(v.string())
});
type Payload = v.InferOutput<typeof PayloadSchema>;

const byStartThenId = (a: ExposureEvent, b: ExposureEvent) => a.from - b.from || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/**
 * The payload's bytes. The same content gives the same bytes (events sorted, dictionary in order of
 * first use), so every server instance serves the same body under the same ETag.
 */
export function encodeSnapshotPayload(content: SnapshotContent): Uint8Array {
  if (content.kind === 'full' ? content.since !== null || content.withdrawn.length > 0 : content.since === null) {
    throw new Error('a full snapshot has no since and no withdrawals; a delta has a since');
  }
  const events = content.events.map((e) => {
    const checked = v.parse(ExposureEventSchema, e);
    if (checked.withdrawn) throw new Error(`event ${checked.eventId} is withdrawn: list it in withdrawn`);
    if (checked.to < checked.from) throw new Error('an exposure window must end after it starts');
    return checked;
  });
  events.sort(byStartThenId);
  const unit = events.every((e) => e.from % 60_000 === 0 && e.to % 60_000 === 0) ? 60_000 : 1;
  const strings: string[] = [];
  const index = new Map<string, number>();
  const str = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const cols: Payload['events'] = { id: [], ver: [], venue: [], name: [], commune: [], from: [], len: [], widen: [], level: [], message: [], advice: [], phone: [] };
  let previous = 0;
  for (const e of events) {
    cols.id.push(e.eventId);
    cols.ver.push(e.version);
    cols.venue.push(str(e.venueId));
    cols.name.push(str(e.venueName));
    cols.commune.push(str(e.communeCode));
    cols.from.push(e.from / unit - previous);
    previous = e.from / unit;
    cols.len.push((e.to - e.from) / unit);
    cols.widen.push(e.widenMinutes);
    cols.level.push(LEVELS.indexOf(e.level));
    cols.message.push(e.message);
    cols.advice.push(str(e.advice));
    cols.phone.push(str(e.contactPhone));
  }
  const payload: Payload = {
    format: SNAPSHOT_FORMAT,
    schema: 1,
    province: content.province,
    kind: content.kind,
    since: content.since,
    version: content.version,
    unit,
    strings,
    events: cols,
    withdrawn: [...content.withdrawn].sort()
  };
  return new TextEncoder().encode(JSON.stringify(payload));
}

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
  const c = p.events;
  const n = c.id.length;
  if (Object.values(c).some((column) => column.length !== n)) return null;
  if ((p.kind === 'full') !== (p.since === null) || (p.kind === 'full' && p.withdrawn.length > 0)) return null;
  const at = (i: number): string | null => p.strings[i] ?? null;
  const events: ExposureEvent[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    start += c.from[i]!;
    const [venueId, venueName, communeCode, advice, contactPhone] = [at(c.venue[i]!), at(c.name[i]!), at(c.commune[i]!), at(c.advice[i]!), at(c.phone[i]!)];
    if (venueId === null || venueName === null || communeCode === null || advice === null || contactPhone === null) return null;
    const event = v.safeParse(ExposureEventSchema, {
      eventId: c.id[i],
      version: c.ver[i],
      venueId,
      venueName,
      communeCode,
      from: start * p.unit,
      to: (start + c.len[i]!) * p.unit,
      widenMinutes: c.widen[i],
      level: LEVELS[c.level[i]!],
      message: c.message[i],
      advice,
      contactPhone,
      withdrawn: false
    });
    if (!event.success) return null;
    events.push(event.output);
  }
  return { province: p.province, kind: p.kind, since: p.since, version: p.version, events, withdrawn: p.withdrawn };
}

/** What is signed: the payload behind a prefix of its own. */
export function snapshotSigningBytes(payload: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(SIGNING_PREFIX);
  const out = new Uint8Array(prefix.length + payload.length);
  out.set(prefix);
  out.set(payload, prefix.length);
  return out;
}

/** The bytes as served, from a payload and its signature. */
export function sealSnapshot(payload: Uint8Array, keyId: string, signature: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!KEY_ID_PATTERN.test(keyId)) throw new Error(`bad key id ${keyId}`);
  if (signature.length !== 64) throw new Error('an Ed25519 signature is 64 bytes');
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out.set(new TextEncoder().encode(SNAPSHOT_MAGIC + keyId));
  out.set(signature, 8);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The parts of served bytes, or null when they are not a snapshot at all (a captive portal's page, a cut download). */
export function openSnapshot(bytes: Uint8Array): { keyId: string; signature: Uint8Array; payload: Uint8Array } | null {
  if (bytes.length <= HEADER_BYTES) return null;
  const head = String.fromCharCode(...bytes.subarray(0, 8));
  if (!head.startsWith(SNAPSHOT_MAGIC) || !KEY_ID_PATTERN.test(head.slice(4))) return null;
  return { keyId: head.slice(4), signature: bytes.subarray(8, HEADER_BYTES), payload: bytes.subarray(HEADER_BYTES) };
}

export type SnapshotCheck =
  | { ok: true; content: SnapshotContent; keyId: string }
  /** not-snapshot: not this format at all; unknown-key: a key id not in the list; forged: the signature does not hold, or what it covers is malformed or for another province */
  | { ok: false; reason: 'not-snapshot' | 'unknown-key' | 'forged'; keyId: string | null };

/**
 * Checks served bytes offline: the signature over the bytes as received, under a key of the list,
 * then the payload. One verification however many events (WebCrypto where the phone has Ed25519,
 * the fallback loaded only where it does not: src/lib/core/ed25519.ts).
 */
export async function verifySnapshot(bytes: Uint8Array, keys: readonly PublicKey[], province: string): Promise<SnapshotCheck> {
  const opened = openSnapshot(bytes);
  if (!opened) return { ok: false, reason: 'not-snapshot', keyId: null };
  const key = keys.find((k) => k.id === opened.keyId);
  if (!key) return { ok: false, reason: 'unknown-key', keyId: opened.keyId };
  if (!(await verifyEd25519(opened.signature, snapshotSigningBytes(opened.payload), key.publicKey))) return { ok: false, reason: 'forged', keyId: opened.keyId };
  const content = decodeSnapshotPayload(opened.payload);
  // Signed but not for this province: a genuine list served at the wrong address is still the wrong list.
  if (!content || content.province !== province) return { ok: false, reason: 'forged', keyId: opened.keyId };
  return { ok: true, content, keyId: opened.keyId };
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
