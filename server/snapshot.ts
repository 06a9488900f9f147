/**
 * A province's exposure events for phones (DESIGN §7), in two forms:
 *
 * - `/api/exposures/:province`: the per-event list, `{format: 'luu-vet-exposures', version: 1,
 *   province, events: [{event, keyId, signature}]}`, every event signed on its own. Apps from before
 *   the compact snapshot fetch it; it is served as it always was.
 * - `/api/exposures/:province/snapshot/v2[?since=<version>]`: the compact snapshot, LVS2 (format in
 *   src/lib/core/exposure/snapshot-format.ts): every current event under one signature, or, with
 *   `since`, only what changed after that version (added, corrected, withdrawn), signed too. A
 *   version the server cannot answer a delta for (unknown, in the future, over a week old) gets the
 *   full snapshot, which says so in its `kind`.
 * - `/api/exposures/:province/snapshot[?since=<version>]`: the same in LVS1, the first compact
 *   format (snapshot-format-v1.ts), for apps of before LVS2: an app's service worker keeps running
 *   its old code until it updates, and must not be left without its province's list meanwhile.
 *   Versions are the same in both, so an updated app asks for the LVS2 delta since its LVS1 version.
 *
 * Every phone of a province fetches the same bytes, so each body is built once per change and kept
 * in memory with its gzip, its brotli and its ETags. Phones check the signatures themselves, so the
 * server, a CDN or a cache in between only has to deliver the bytes.
 *
 * Versions. A published document carries `publishedAt` (server/publisher.ts). A list of version V
 * holds every document written at or before V; so V may only be a time by which every write stamped
 * earlier is visible to every reader. Writes are stamped just before they are sent to the store, and
 * with N server instances (DESIGN §8) a write of one may land after another's read. V is therefore
 * the newest stamp at least SETTLE_MS old (0 when none): a document stamped later is in the body all
 * the same, and in the next delta again (applying it twice changes nothing). Stamps are on the store's
 * documents, so versions survive restarts and are the same on every instance. This assumes server
 * clocks within a few seconds of each other (NTP) and a write lasting less than SETTLE_MS.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, gunzip, gzip, constants as zlib } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptsGzip, contentEtag, ifNoneMatch } from './http-cache';
import { provinceExposureDocs, type PublishedExposureDoc } from './publisher';
import type { Keyring } from './keys';
import { DB, type Store } from './store/couch';
import { signSnapshot, signSnapshotV1 } from '../src/lib/core/exposure/exposure-sign';
import type { SnapshotContent } from '../src/lib/core/exposure/snapshot-format';
import { DAY } from '../src/lib/core/time';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliCompress);

/**
 * Caching by a CDN and by phones, the same for both forms and for deltas:
 * - `public`: the same signed bytes for everyone, no cookie or account involved.
 * - `max-age=60`: a new exposure must reach people quickly (every hour of delay is an hour more
 *   of unwitting contacts), while at province scale a CDN edge still asks the origin at most once
 *   a minute per province (and per `since`), and with the ETag most of those asks end in a 304.
 * - `stale-while-revalidate=60`: the edge answers at once and refreshes behind; worst case a
 *   phone sees an event two minutes late, far less than a team takes to write one.
 * - `stale-if-error=86400`: if the origin is down, yesterday's list is much better than none.
 * No `immutable`, no long max-age: the URL stays the same while its content changes.
 */
export const SNAPSHOT_CACHE_CONTROL = 'public, max-age=60, stale-while-revalidate=60, stale-if-error=86400';

/**
 * How often the store is asked whether lv_exposures changed (a cheap database info call). This is
 * what keeps the cache right with N instances: whichever instance publishes, the database's
 * update_seq moves, and every instance's cached list is rebuilt within this second (a version
 * marker, not a lifetime). The bodies are signed and carry their version, so one second of an older
 * list on one instance is only one second later news.
 */
const SEQ_CHECK_MS = 1000;
/** How old a publication stamp must be before a version may cover it (see the head of this file). */
export const SETTLE_MS = 60_000;
/**
 * Deltas are answered for versions up to a week old; an older one gets the full snapshot. It bounds
 * what a delta costs to build, and a phone away that long downloads about as much either way.
 */
export const DELTA_MAX_AGE = 7 * DAY;
/** Deltas kept per province: one per version phones hold, and phones hold recent ones. */
const DELTAS_KEPT = 64;
/** A version is a time in ms: 16 digits reach the year 318,857. Longer is no version of ours. */
const SINCE = /^(0|[1-9][0-9]{0,15})$/;

/** A body with its compressed forms and their validators. */
interface Encoded {
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
  etag: string;
}

interface Snapshot {
  /** update_seq of lv_exposures read before the documents: the body is at least this recent. */
  seq: string;
  province: string;
  docs: PublishedExposureDoc[];
  /** the compact snapshot's version: the newest settled stamp */
  version: number;
  /** when a stamp not yet settled will be (null: all are): the version moves then, so the snapshot is rebuilt */
  settlesAt: number | null;
  /** the per-event list, built at its first request (gzip only, as before) */
  legacy?: Promise<{ gzipped: Buffer; etag: string; etagGzip: string }>;
  /** by format: built at its first request */
  full: Map<SnapshotFormat, Promise<Encoded>>;
  /** by format and since (`2:<since>`) */
  deltas: Map<string, Promise<Encoded>>;
}

/** The compact formats served: LVS2 to current apps, LVS1 to apps of before it. */
type SnapshotFormat = 1 | 2;
const SIGNERS = { 1: signSnapshotV1, 2: signSnapshot } as const;

const stampOf = (d: PublishedExposureDoc) => (typeof d.publishedAt === 'number' && Number.isFinite(d.publishedAt) ? d.publishedAt : 0);

function bytesEtag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

/** The encoding to send: brotli, else gzip, else none; what the client names with q > 0 (or `*`). */
export function chooseEncoding(req: FastifyRequest): 'br' | 'gzip' | null {
  const header = req.headers['accept-encoding'];
  if (!header) return null;
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const value = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find((m) => m)?.[1];
    q.set(name!.trim(), value === undefined ? 1 : Number(value));
  }
  const accepts = (name: string) => (q.get(name) ?? q.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  return acceptsGzip(req) ? 'gzip' : null;
}

async function encode(bytes: Uint8Array<ArrayBuffer>): Promise<Encoded> {
  const identity = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Built once per change, served many times: strong compression pays. Brotli's top quality costs
  // twice the time of the next one on a full province for 2 % fewer bytes; deltas are small.
  const quality = identity.length > 256 * 1024 ? 10 : 11;
  const [gz, br] = await Promise.all([
    gzipAsync(bytes, { level: zlib.Z_BEST_COMPRESSION }),
    brotliAsync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: quality, [zlib.BROTLI_PARAM_LGWIN]: 24, [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length } })
  ]);
  return { identity, gzip: gz, br, etag: bytesEtag(bytes) };
}

export function registerSnapshots(api: FastifyInstance, store: Store, keyring: Keyring): void {
  let seqCheck: { at: number; seq: Promise<string> } | null = null;
  const cache = new Map<string, Snapshot>();
  /** Builds in progress by province, so a burst of requests after a change builds once. */
  const building = new Map<string, Promise<Snapshot>>();

  async function readSeq(): Promise<string> {
    const res = await store.request('GET', DB.exposures);
    if (res.status !== 200) throw new Error(`lv_exposures info answered ${res.status}`);
    // A number on the embedded store, an opaque string on CouchDB 3: compared as text. With the
    // signing key: a rotation or revocation makes every list be signed again with the new key.
    return `${keyring.active.id}:${JSON.stringify((res.body as { update_seq?: unknown }).update_seq ?? null)}`;
  }

  function currentSeq(): Promise<string> {
    if (!seqCheck || Date.now() - seqCheck.at >= SEQ_CHECK_MS) {
      const seq = readSeq();
      seqCheck = { at: Date.now(), seq };
      // A failed check must not stick for a second: the next request asks again.
      seq.catch(() => {
        if (seqCheck?.seq === seq) seqCheck = null;
      });
    }
    return seqCheck.seq;
  }

  async function build(province: string, seq: string): Promise<Snapshot> {
    const docs = await provinceExposureDocs(store, province);
    const now = Date.now();
    let version = 0;
    let settlesAt: number | null = null;
    for (const d of docs) {
      const stamp = stampOf(d);
      if (stamp <= now - SETTLE_MS) version = Math.max(version, stamp);
      else settlesAt = Math.min(settlesAt ?? Infinity, stamp + SETTLE_MS);
    }
    return { seq, province, docs, version, settlesAt, full: new Map(), deltas: new Map() };
  }

  async function snapshot(province: string): Promise<Snapshot> {
    let seq: string;
    try {
      seq = await currentSeq();
    } catch (err) {
      // The store is unreachable: the last list built is still correctly signed; better than nothing.
      const stale = cache.get(province);
      if (stale) return stale;
      throw err;
    }
    const cached = cache.get(province);
    if (cached?.seq === seq && (cached.settlesAt === null || Date.now() < cached.settlesAt)) return cached;
    const key = `${province}@${seq}`;
    let pending = building.get(key);
    if (!pending) {
      pending = build(province, seq).then(
        (s) => {
          // Should a slow build of an older seq land after a newer one, the next request sees the
          // seq differ and builds again: one wasted build, never a stale list kept.
          cache.set(province, s);
          building.delete(key);
          return s;
        },
        (err: unknown) => {
          building.delete(key);
          throw err;
        }
      );
      building.set(key, pending);
    }
    return pending;
  }

  function legacy(s: Snapshot): NonNullable<Snapshot['legacy']> {
    s.legacy ??= (async () => {
      const body = JSON.stringify({ format: 'luu-vet-exposures', version: 1, province: s.province, events: s.docs.map((d) => d.signed) });
      const gzipped = await gzipAsync(body, { level: zlib.Z_BEST_COMPRESSION });
      const etag = contentEtag(body);
      return { gzipped, etag, etagGzip: etag.replace(/"$/, '-gz"') };
    })();
    return s.legacy;
  }

  function full(s: Snapshot, format: SnapshotFormat): Promise<Encoded> {
    let built = s.full.get(format);
    if (!built) {
      const content: SnapshotContent = { province: s.province, kind: 'full', since: null, version: s.version, events: s.docs.filter((d) => !d.signed.event.withdrawn).map((d) => d.signed.event), withdrawn: [] };
      built = encode(SIGNERS[format](content, keyring.active));
      s.full.set(format, built);
      built.catch(() => s.full.delete(format));
    }
    return built;
  }

  /** The delta since a version, or null when the full snapshot is the answer. */
  function delta(s: Snapshot, since: number, format: SnapshotFormat): Promise<Encoded> | null {
    // Unknown (from the future: another server's data, a restored backup), too old, or nothing to build on.
    if (since === 0 || since > s.version || since < Date.now() - DELTA_MAX_AGE) return null;
    const key = `${format}:${since}`;
    const known = s.deltas.get(key);
    if (known) return known;
    const changed = s.docs.filter((d) => stampOf(d) > since);
    // A delta larger than half the list saves little over the list, and costs a build of its own.
    if (changed.length > Math.max(16, s.docs.length / 2)) return null;
    const content: SnapshotContent = {
      province: s.province,
      kind: 'delta',
      since,
      version: s.version,
      events: changed.filter((d) => !d.signed.event.withdrawn).map((d) => d.signed.event),
      withdrawn: changed.filter((d) => d.signed.event.withdrawn).map((d) => d.signed.event.eventId)
    };
    const built = encode(SIGNERS[format](content, keyring.active));
    if (s.deltas.size >= DELTAS_KEPT) s.deltas.delete(s.deltas.keys().next().value!);
    s.deltas.set(key, built);
    // A failed build must not stay cached.
    built.catch(() => s.deltas.delete(key));
    return built;
  }

  const badProvince = { error: 'bad_request', reason: 'a 2-digit province code is expected' };

  api.get<{ Params: { province: string } }>('/exposures/:province', async (req, reply) => {
    if (!/^[0-9]{2}$/.test(req.params.province)) return reply.status(400).send(badProvince);
    const s = await legacy(await snapshot(req.params.province));
    const useGzip = acceptsGzip(req);
    reply.header('Vary', 'Accept-Encoding').header('Cache-Control', SNAPSHOT_CACHE_CONTROL);
    // Either validator names the same content: a client holding the gzip copy need not download again.
    const matched = ifNoneMatch(req, [s.etag, s.etagGzip]);
    if (matched) return reply.header('ETag', matched).status(304).send();
    reply.type('application/json; charset=utf-8').header('ETag', useGzip ? s.etagGzip : s.etag);
    if (useGzip) return reply.header('Content-Encoding', 'gzip').send(s.gzipped);
    return reply.send(await gunzipAsync(new Uint8Array(s.gzipped.buffer, s.gzipped.byteOffset, s.gzipped.byteLength)));
  });

  async function sendCompact(format: SnapshotFormat, req: FastifyRequest<{ Params: { province: string }; Querystring: Record<string, unknown> }>, reply: FastifyReply) {
    if (!/^[0-9]{2}$/.test(req.params.province)) return reply.status(400).send(badProvince);
    const raw = req.query.since;
    if (raw !== undefined && (typeof raw !== 'string' || !SINCE.test(raw))) {
      return reply.status(400).send({ error: 'bad_request', reason: 'since is the version of a snapshot this server gave out: a whole number (at most 16 digits), given once' });
    }
    const s = await snapshot(req.params.province);
    const body = await ((raw === undefined ? null : delta(s, Number(raw), format)) ?? full(s, format));
    const encoding = chooseEncoding(req);
    const etags = { br: body.etag.replace(/"$/, '-br"'), gzip: body.etag.replace(/"$/, '-gz"'), identity: body.etag };
    reply.header('Vary', 'Accept-Encoding').header('Cache-Control', SNAPSHOT_CACHE_CONTROL);
    const matched = ifNoneMatch(req, [etags.identity, etags.gzip, etags.br]);
    if (matched) return reply.header('ETag', matched).status(304).send();
    reply.type('application/octet-stream').header('X-Content-Type-Options', 'nosniff');
    if (encoding === 'br') return reply.header('ETag', etags.br).header('Content-Encoding', 'br').send(body.br);
    if (encoding === 'gzip') return reply.header('ETag', etags.gzip).header('Content-Encoding', 'gzip').send(body.gzip);
    return reply.header('ETag', etags.identity).send(body.identity);
  }

  api.get<{ Params: { province: string }; Querystring: Record<string, unknown> }>('/exposures/:province/snapshot/v2', (req, reply) => sendCompact(2, req, reply));
  api.get<{ Params: { province: string }; Querystring: Record<string, unknown> }>('/exposures/:province/snapshot', (req, reply) => sendCompact(1, req, reply));
}
