/**
 * LVS1, the first compact exposure snapshot (`/api/exposures/<province>/snapshot`), as apps of
 * before LVS2 (snapshot-format.ts) fetch it: the server still serves it at that address so that
 * those apps, and their service workers' background checks, keep getting their province's list
 * until they update. New apps fetch LVS2 at `/snapshot/v2`; versions are the same in both.
 * Kept: the encoder (server), the decoder and its check (tests, bench/snapshot.mjs).
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
import { checkedContentEvents, LEVELS, SNAPSHOT_FORMAT, verifySealedSnapshot, type SnapshotCheck, type SnapshotContent } from './snapshot-format';
import type { PublicKey } from '../venue/venue-token';

export const SNAPSHOT_V1_MAGIC = 'LVS1';

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

/**
 * The payload's bytes. The same content gives the same bytes (events sorted, dictionary in order of
 * first use), so every server instance serves the same body under the same ETag.
 */
export function encodeSnapshotPayloadV1(content: SnapshotContent): Uint8Array {
  const events = checkedContentEvents(content);
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
export function decodeSnapshotPayloadV1(bytes: Uint8Array): SnapshotContent | null {
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

/** Checks served LVS1 bytes offline, as the apps of before LVS2 do. */
export function verifySnapshotV1(bytes: Uint8Array, keys: readonly PublicKey[], province: string): Promise<SnapshotCheck> {
  return verifySealedSnapshot(bytes, keys, province, SNAPSHOT_V1_MAGIC, decodeSnapshotPayloadV1);
}
