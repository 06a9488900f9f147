/**
 * The sync gateway (`/sync/<db>/…`): the only way from outside to CouchDB. A thin, strict relay of
 * exactly what PouchDB's replicator calls; everything else is denied. For callers who may see only
 * part of a database (venue owners) it filters reads and checks every pushed document, answering
 * `forbidden` for a refused document without failing the rest of the batch.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCommuneDoc, isCommuneDocId, isOwnerDocId, venueIdOfDocId } from '../../src/lib/core/documents';
import type { Session } from '../auth';
import { acceptsGzip } from '../http-cache';
import type { Store } from '../store/couch';
import { classifyDb, pullAccess, pushAccess, type Access, type DbKind } from './access';

export interface GatewayDeps {
  store: Store;
  /** The caller's session, already checked against the account (null = anonymous). */
  sessionOf(req: FastifyRequest): Promise<{ session: Session | null; problem?: 'expired' | 'invalid' }>;
  /** Called after venue documents were stored, so the signer can sign them. */
  onVenuesPushed(communeCode: string): void;
  /** Called when an owner stored a venue in a commune, so the account lists that commune for its other devices. */
  onOwnerVenue(userId: string, communeCode: string): Promise<void>;
}

/** The app replicates in batches of 1,000 documents (about 0.5 MB); a station's day of entries fits easily. */
export const SYNC_BODY_LIMIT = 8 * 1024 * 1024;
/** Upper bound of a long-poll, under common proxy idle timeouts. */
const LONGPOLL_MAX_MS = 25_000;
const CHANGES_PARAMS = ['since', 'limit', 'style', 'feed', 'timeout', 'seq_interval', 'descending'];

type Params = { db: string; id?: string; '*'?: string };

const gzipAsync = promisify(gzip);
/** Smaller answers go as they are: gzip would save less than a packet. */
const GZIP_MIN_BYTES = 1400;
/**
 * zlib's default: replication JSON (documents, change rows, revision lists) comes out 5–8 times
 * smaller at a few ms per 100 KB, in libuv's thread pool, off the event loop.
 */
const GZIP_LEVEL = 6;

function deny(reply: FastifyReply, status: number, error: string, reason: string) {
  return reply.status(status).send({ error, reason });
}

/** Only documents of known kinds travel; design documents and anything else stay on the server. */
function isReplicatedId(id: string): boolean {
  return isCommuneDocId(id);
}

export async function registerGateway(app: FastifyInstance, { store, sessionOf, onVenuesPushed, onOwnerVenue }: GatewayDeps): Promise<void> {
  // Answers in gzip for clients that take it: on a 1 Mbit/s village link a commune's first sync is
  // mostly bytes (bench/replica.mjs). Request bodies stay plain: browsers do not compress them.
  app.addHook('onSend', async (req, reply, payload) => {
    // Every answer here is JSON that Fastify has serialised to a string; anything else goes as it is.
    if (typeof payload !== 'string') return payload;
    reply.header('Vary', 'Accept-Encoding');
    if (Buffer.byteLength(payload) < GZIP_MIN_BYTES || reply.hasHeader('content-encoding') || !acceptsGzip(req)) return payload;
    reply.header('Content-Encoding', 'gzip');
    reply.removeHeader('content-length');
    return gzipAsync(payload, { level: GZIP_LEVEL });
  });

  // Venues owned, per database: its venue documents read by id range (a commune has hundreds at
  // most), cached briefly and dropped when a push adds venues. No view: a view would index every
  // entry too, and the embedded store runs each map call in a fresh node:vm context.
  const ownersCache = new Map<string, { at: number; byOwner: Promise<Map<string, Set<string>>> }>();
  async function ownedVenues(dbName: string, userId: string): Promise<Set<string>> {
    let hit = ownersCache.get(dbName);
    if (!hit || Date.now() - hit.at >= 10_000) {
      const byOwner = (async () => {
        const map = new Map<string, Set<string>>();
        for (const doc of (await store.docsByPrefix<{ type?: string; owner?: string; venueId?: string }>(dbName, 'venue:')) ?? []) {
          if (doc?.type !== 'venue' || !doc.owner || !doc.venueId) continue;
          let set = map.get(doc.owner);
          if (!set) map.set(doc.owner, (set = new Set()));
          set.add(doc.venueId);
        }
        return map;
      })();
      hit = { at: Date.now(), byOwner };
      ownersCache.set(dbName, hit);
      byOwner.catch(() => ownersCache.delete(dbName));
    }
    return (await hit.byOwner).get(userId) ?? new Set();
  }

  // Commune databases are made when first needed, for communes of the directory only (a made-up
  // code must not create a database).
  const knownDbs = new Set<string>();
  async function ensureCommune(db: DbKind & { kind: 'commune' }): Promise<boolean> {
    if (knownDbs.has(db.name)) return true;
    const info = await store.request('GET', db.name);
    if (info.status !== 200) {
      const unit = await store.request('GET', `lv_directory/${encodeURIComponent(`unit:${db.communeCode}`)}`);
      if (unit.status !== 200 || (unit.body as { level?: string }).level !== 'commune') return false;
      await store.ensureCommuneDb(db.communeCode);
    }
    knownDbs.add(db.name);
    return true;
  }

  interface Ctx {
    db: DbKind & { kind: 'public' | 'commune' };
    session: Session | null;
    pull: Access;
    push: Access;
  }

  /** Resolves the caller and the database, or answers the refusal itself (returns null). */
  async function context(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<Ctx | null> {
    const db = classifyDb(req.params.db);
    const { session, problem } = await sessionOf(req);
    if (problem) {
      deny(reply, 401, 'unauthorized', problem === 'expired' ? 'session expired: log in again' : 'session not valid: log in again');
      return null;
    }
    if (db.kind === 'closed') {
      deny(reply, 404, 'not_found', 'no such database');
      return null;
    }
    const pull = pullAccess(session, db);
    if (pull === 'none') {
      deny(reply, session ? 403 : 401, session ? 'forbidden' : 'unauthorized', session ? 'this account has no access to this database' : 'log in first');
      return null;
    }
    if (db.kind === 'commune' && !(await ensureCommune(db))) {
      deny(reply, 404, 'not_found', 'no such commune in the directory');
      return null;
    }
    return { db, session, pull, push: pushAccess(session, db) };
  }

  async function mayRead(ctx: Ctx, id: string): Promise<boolean> {
    if (ctx.db.kind === 'commune' && !isReplicatedId(id)) return false;
    if (ctx.pull === 'all') return true;
    if (!isOwnerDocId(id)) return false;
    const venueId = venueIdOfDocId(id);
    return venueId !== null && (await ownedVenues(ctx.db.name, ctx.session!.userId)).has(venueId);
  }

  function relay(reply: FastifyReply, res: { status: number; body: unknown }) {
    return reply.status(res.status).send(res.body);
  }

  app.get('/sync/', async () => ({ couchdb: 'Welcome', version: '3.3.3', vendor: { name: 'Lưu Vết sync gateway' } }));

  const dbInfo = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const res = await store.request('GET', ctx.db.name);
    if (res.status !== 200) return relay(reply, res);
    const info = res.body as { db_name: string; update_seq: unknown; doc_count?: number; instance_start_time?: string };
    // Counts would tell an owner how busy the commune is: only full readers get them.
    return { db_name: info.db_name, update_seq: info.update_seq, instance_start_time: info.instance_start_time ?? '0', ...(ctx.pull === 'all' ? { doc_count: info.doc_count } : {}) };
  };
  app.get('/sync/:db', dbInfo);
  app.get('/sync/:db/', dbInfo);

  // Checkpoints: each user's own, so one client can neither read nor spoil another's.
  app.get<{ Params: Params }>('/sync/:db/_local/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const owner = ctx.session?.userId ?? 'anonymous';
    const res = await store.request('GET', `${ctx.db.name}/_local/${encodeURIComponent(`${owner}__${req.params.id}`)}`);
    if (res.status === 200) (res.body as { _id: string })._id = `_local/${req.params.id}`;
    return relay(reply, res);
  });
  app.put<{ Params: Params; Body: Record<string, unknown> }>('/sync/:db/_local/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    // Anonymous pullers keep checkpoints on their side only (PouchDB `checkpoint: 'target'`): no writes from strangers.
    if (!ctx.session) return deny(reply, 401, 'unauthorized', 'anonymous clients keep their checkpoints locally');
    if (typeof req.body !== 'object' || req.body === null) return deny(reply, 400, 'bad_request', 'a JSON object is expected');
    const localId = `${ctx.session.userId}__${req.params.id}`;
    const res = await store.request('PUT', `${ctx.db.name}/_local/${encodeURIComponent(localId)}`, { body: { ...req.body, _id: `_local/${localId}` } });
    if (res.status < 300) (res.body as { id: string }).id = `_local/${req.params.id}`;
    return relay(reply, res);
  });

  const changes = async (req: FastifyRequest<{ Params: Params; Querystring: Record<string, string>; Body: unknown }>, reply: FastifyReply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const query = new URLSearchParams();
    for (const name of CHANGES_PARAMS) if (req.query[name] !== undefined) query.set(name, String(req.query[name]));
    const feed = query.get('feed');
    if (feed && feed !== 'normal' && feed !== 'longpoll') return deny(reply, 400, 'bad_request', 'feed must be normal or longpoll');
    if (feed === 'longpoll') query.set('timeout', String(Math.min(Number(query.get('timeout') ?? LONGPOLL_MAX_MS) || LONGPOLL_MAX_MS, LONGPOLL_MAX_MS)));
    // doc_ids filter (PouchDB's `doc_ids` option) is applied here, after the access filter.
    let docIds: Set<string> | null = null;
    if (req.query.filter === '_doc_ids') {
      const ids = (req.body as { doc_ids?: unknown })?.doc_ids ?? (req.query.doc_ids ? JSON.parse(req.query.doc_ids) : null);
      if (!Array.isArray(ids)) return deny(reply, 400, 'bad_request', 'doc_ids must be a list');
      docIds = new Set(ids.map(String));
    } else if (req.query.filter) {
      return deny(reply, 400, 'bad_request', 'only the _doc_ids filter is supported');
    }
    const abort = new AbortController();
    req.raw.once('close', () => abort.abort());
    const res = await store.request('GET', `${ctx.db.name}/_changes`, { query, signal: abort.signal });
    if (res.status !== 200) return relay(reply, res);
    const body = res.body as { results: { id: string }[]; last_seq: unknown; pending?: number };
    const owned = ctx.pull === 'own-venues' ? await ownedVenues(ctx.db.name, ctx.session!.userId) : null;
    body.results = body.results.filter((row) => {
      if (docIds && !docIds.has(row.id)) return false;
      if (ctx.db.kind === 'commune' && !isReplicatedId(row.id)) return false;
      if (!owned) return true;
      if (!isOwnerDocId(row.id)) return false;
      const venueId = venueIdOfDocId(row.id);
      return venueId !== null && owned.has(venueId);
    });
    if (owned) delete body.pending;
    return body;
  };
  app.get('/sync/:db/_changes', changes);
  app.post('/sync/:db/_changes', changes);

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/sync/:db/_revs_diff', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    if (ctx.push === 'none') return deny(reply, 403, 'forbidden', 'this database is read-only for you');
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) return deny(reply, 400, 'bad_request', 'a JSON object of id -> revs is expected');
    // Ids of kinds that never replicate are answered "missing" without asking the store: the
    // client then pushes them and gets a `forbidden` for each, instead of a silent skip.
    const entries = Object.entries(req.body);
    const asked = Object.fromEntries(entries.filter(([id]) => isReplicatedId(id)));
    const res = await store.request('POST', `${ctx.db.name}/_revs_diff`, { body: asked });
    if (res.status !== 200) return relay(reply, res);
    const diff = res.body as Record<string, { missing: unknown }>;
    for (const [id, revs] of entries) if (!isReplicatedId(id)) diff[id] = { missing: revs };
    return diff;
  });

  app.post<{ Params: Params; Querystring: Record<string, string>; Body: { docs?: unknown } }>('/sync/:db/_bulk_get', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const docs = req.body?.docs;
    if (!Array.isArray(docs)) return deny(reply, 400, 'bad_request', 'docs must be a list');
    const allowed: { id: string }[] = [];
    const refused: { id: string; docs: { error: { id: string; rev?: string; error: string; reason: string } }[] }[] = [];
    for (const entry of docs as { id?: unknown; rev?: unknown }[]) {
      const id = typeof entry?.id === 'string' ? entry.id : '';
      if (id && (await mayRead(ctx, id))) allowed.push(entry as { id: string });
      else refused.push({ id, docs: [{ error: { id, rev: typeof entry?.rev === 'string' ? entry.rev : undefined, error: 'forbidden', reason: 'not yours to read' } }] });
    }
    const query = new URLSearchParams();
    for (const name of ['revs', 'latest', 'attachments']) if (req.query[name] !== undefined) query.set(name, req.query[name]!);
    const res = allowed.length ? await store.request('POST', `${ctx.db.name}/_bulk_get`, { query, body: { docs: allowed } }) : { status: 200, body: { results: [] } };
    if (res.status !== 200) return relay(reply, res);
    return { results: [...(res.body as { results: unknown[] }).results, ...refused] };
  });

  app.post<{ Params: Params; Body: { docs?: unknown; new_edits?: unknown } }>('/sync/:db/_bulk_docs', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    if (ctx.push === 'none' || ctx.db.kind !== 'commune') return deny(reply, 403, 'forbidden', 'this database is read-only for you');
    const docs = req.body?.docs;
    if (!Array.isArray(docs)) return deny(reply, 400, 'bad_request', 'docs must be a list');
    const communeCode = ctx.db.communeCode;
    const results: ({ id: string; error: string; reason: string } | null)[] = [];
    const accepted: Record<string, unknown>[] = [];

    // For an owner: the venues it already has, plus the new venues of this batch that nobody else has.
    // Decided before the per-document checks, since a batch may list a venue's entries before the venue.
    let owned: Set<string> | null = null;
    if (ctx.push === 'own-venues') {
      const userId = ctx.session!.userId;
      owned = new Set(await ownedVenues(ctx.db.name, userId));
      const newVenueIds = docs
        .filter((d): d is { _id: string; type: string; owner?: unknown } => typeof d === 'object' && d !== null && (d as { type?: unknown }).type === 'venue' && (d as { owner?: unknown }).owner === userId)
        .map((d) => venueIdOfDocId(d._id))
        .filter((id): id is string => id !== null && !owned!.has(id));
      if (newVenueIds.length) {
        const res = await store.request('POST', `${ctx.db.name}/_all_docs`, { body: { keys: newVenueIds.map((id) => `venue:${id}`) } });
        const taken = new Set<string>();
        // An existing or deleted document under that id belongs to someone else (or to no owner).
        for (const row of (res.body as { rows?: { key: string; value?: unknown }[] }).rows ?? []) if (row.value) taken.add(venueIdOfDocId(row.key)!);
        for (const id of newVenueIds) if (!taken.has(id)) owned.add(id);
      }
    }

    for (const raw of docs) {
      const id = typeof (raw as { _id?: unknown })?._id === 'string' ? (raw as { _id: string })._id : '';
      const check = checkCommuneDoc(raw, communeCode);
      if (!check.ok) {
        results.push({ id, error: 'forbidden', reason: check.reason });
        continue;
      }
      if (owned) {
        const doc = raw as { type?: string; owner?: unknown; _deleted?: boolean };
        // No handing a venue to someone else: a live venue document must name the pusher as owner.
        // Owners write their venues and station entries; exposure events are the commune team's.
        const ok =
          isOwnerDocId(id) && owned.has(venueIdOfDocId(id)!) && (doc.type !== 'venue' || doc._deleted === true || doc.owner === ctx.session!.userId);
        if (!ok) {
          results.push({ id, error: 'forbidden', reason: 'not a venue of this account' });
          continue;
        }
      }
      results.push(null);
      accepted.push(raw as Record<string, unknown>);
    }

    let stored: { id: string; rev?: string; error?: string; reason?: string }[] = [];
    if (accepted.length) {
      const res = await store.request('POST', `${ctx.db.name}/_bulk_docs`, { body: { docs: accepted, new_edits: req.body?.new_edits } });
      if (res.status >= 300) return relay(reply, res);
      stored = res.body as typeof stored;
      if (accepted.some((d) => d.type === 'venue' || d.type === 'exposure')) {
        ownersCache.delete(ctx.db.name);
        onVenuesPushed(communeCode);
        if (ctx.push === 'own-venues') await onOwnerVenue(ctx.session!.userId, communeCode);
      }
    }
    const refused = results.filter((r): r is NonNullable<typeof r> => r !== null);
    reply.status(201);
    // With new_edits=false CouchDB lists only failures; otherwise one result per accepted doc.
    return req.body?.new_edits === false ? [...stored, ...refused] : mergeById<{ id: string }>(results, docs, stored);
  });

  app.get<{ Params: Params; Querystring: Record<string, string> }>('/sync/:db/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const id = req.params.id!;
    if (id.startsWith('_')) return deny(reply, 404, 'not_found', 'not available through the gateway');
    if (!(await mayRead(ctx, id))) return deny(reply, 404, 'not_found', 'missing');
    const query = new URLSearchParams();
    for (const name of ['rev', 'revs', 'open_revs', 'latest', 'revs_info', 'conflicts']) if (req.query[name] !== undefined) query.set(name, req.query[name]!);
    return relay(reply, await store.request('GET', `${ctx.db.name}/${encodeURIComponent(id)}`, { query }));
  });

  // Default deny: every other method and path under /sync.
  app.all('/sync/*', async (_req, reply) => deny(reply, 403, 'forbidden', 'not allowed through the sync gateway'));
}

/**
 * The answer for each pushed document, in the order pushed: refusals where the gateway refused, the
 * store's result elsewhere. The store's results are matched by id, not position: the embedded store
 * was seen answering a batch out of order under concurrent writers. Positional only for a batch that
 * names one id twice (or no id: the store generated it).
 */
function mergeById<T extends { id: string }>(slots: (T | null)[], docs: unknown[], stored: T[]): T[] {
  const byId = new Map<string, T[]>();
  for (const r of stored) {
    const list = byId.get(r.id);
    if (list) list.push(r);
    else byId.set(r.id, [r]);
  }
  let next = 0;
  return slots.map((slot, i) => {
    if (slot) return slot;
    const id = (docs[i] as { _id?: unknown } | null)?._id;
    const same = typeof id === 'string' ? byId.get(id) : undefined;
    const positional = stored[next++]!;
    return same?.length === 1 ? same[0]! : positional;
  });
}
