/**
 * `/api/exposures/:province`: a province's exposure events, signed (DESIGN §7). Every phone of the
 * province fetches the same bytes, so the body is built once per change and kept in memory, with
 * its gzip and its ETag: 10,000 events are read from the store, serialised, hashed and compressed
 * once, not on every request. Phones check every signature themselves (exposure-verify.ts), so the
 * server, a CDN or a cache in between only has to deliver the bytes.
 */
import { acceptsGzip, contentEtag, ifNoneMatch } from './http-cache';
import { promisify } from 'node:util';
import { gunzip, gzip, constants as zlib } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { provinceSnapshot } from './publisher';
import { DB, type Store } from './store/couch';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * Caching by a CDN and by phones:
 * - `public`: the same signed bytes for everyone, no cookie or account involved.
 * - `max-age=60`: a new exposure must reach people quickly (every hour of delay is an hour more
 *   of unwitting contacts), while at province scale a CDN edge still asks the origin at most once
 *   a minute per province, and with the ETag most of those asks end in a body-less 304.
 * - `stale-while-revalidate=60`: the edge answers at once and refreshes behind; worst case a
 *   phone sees an event two minutes late, far less than a team takes to write one.
 * - `stale-if-error=86400`: if the origin is down, yesterday's list is much better than none.
 * No `immutable`, no long max-age: the URL stays the same while its content changes.
 */
export const SNAPSHOT_CACHE_CONTROL = 'public, max-age=60, stale-while-revalidate=60, stale-if-error=86400';

/** How often the store is asked whether lv_exposures changed (a cheap database info call). */
const SEQ_CHECK_MS = 1000;

interface Snapshot {
  /** update_seq of lv_exposures read before the documents: the body is at least this recent. */
  seq: string;
  /**
   * Only the gzip is kept: 10,000 events are 6 MB of JSON but 1.3 MB of gzip, and nearly every
   * client (phones, CDNs) takes gzip. The rare one that does not gets it decompressed on the fly.
   */
  gzipped: Buffer;
  /** Strong validators; the gzip bytes are another representation, so they get their own (RFC 9110 §8.8.3). */
  etag: string;
  etagGzip: string;
}

export function registerSnapshots(api: FastifyInstance, store: Store): void {
  let seqCheck: { at: number; seq: Promise<string> } | null = null;
  const cache = new Map<string, Snapshot>();
  /** Builds in progress by province, so a burst of requests after a change builds once. */
  const building = new Map<string, Promise<Snapshot>>();

  async function readSeq(): Promise<string> {
    const res = await store.request('GET', DB.exposures);
    if (res.status !== 200) throw new Error(`lv_exposures info answered ${res.status}`);
    // A number on the embedded store, an opaque string on CouchDB 3: compared as text.
    return JSON.stringify((res.body as { update_seq?: unknown }).update_seq ?? null);
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
    const events = await provinceSnapshot(store, province);
    const body = JSON.stringify({ format: 'luu-vet-exposures', version: 1, province, events });
    // Built once per change, served many times: the best compression is worth its time here, and
    // the async call keeps the event loop free while it runs.
    const gzipped = await gzipAsync(body, { level: zlib.Z_BEST_COMPRESSION });
    const etag = contentEtag(body);
    return { seq, gzipped, etag, etagGzip: etag.replace(/"$/, '-gz"') };
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
    if (cached?.seq === seq) return cached;
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

  api.get<{ Params: { province: string } }>('/exposures/:province', async (req, reply) => {
    if (!/^[0-9]{2}$/.test(req.params.province)) return reply.status(400).send({ error: 'bad_request', reason: 'a 2-digit province code is expected' });
    const s = await snapshot(req.params.province);
    const useGzip = acceptsGzip(req);
    reply.header('Vary', 'Accept-Encoding').header('Cache-Control', SNAPSHOT_CACHE_CONTROL);
    // Either validator names the same content: a client holding the gzip copy need not download again.
    const matched = ifNoneMatch(req, [s.etag, s.etagGzip]);
    if (matched) return reply.header('ETag', matched).status(304).send();
    reply.type('application/json; charset=utf-8').header('ETag', useGzip ? s.etagGzip : s.etag);
    if (useGzip) return reply.header('Content-Encoding', 'gzip').send(s.gzipped);
    return reply.send(await gunzipAsync(new Uint8Array(s.gzipped.buffer, s.gzipped.byteOffset, s.gzipped.byteLength)));
  });
}
