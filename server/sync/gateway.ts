/**
 * The sync gateway (`/sync/<db>/…`): the only way from outside to CouchDB. A thin, strict relay of
 * exactly what PouchDB's replicator calls; everything else is denied. For callers who may see only
 * part of a database (venue owners) it filters reads and checks every pushed document, answering
 * `forbidden` for a refused document without failing the rest of the batch.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCommuneDoc, isCommuneDocId, isOwnerDocId, ownerKeepsTeamSuspension, venueIdOfDocId, type VenueRecord } from '../../src/lib/core/documents';
import type { Session } from '../auth';
import { acceptsGzip } from '../http-cache';
import type { Store } from '../store/couch';
import { StoreUnavailableError } from '../store/unavailable';
import { classifyDb, pullAccess, pushAccess, type Access, type DbKind } from './access';
import { OwnedVenues } from '../shared/owned-venues';
import { WaitingClients } from './longpoll';
import { deadline } from '../deadline';
import { ChangeWatch } from './change-watch';
import { checkReplicationMeta, REV_PATTERN } from './replication-meta';

export interface GatewayDeps {
  store: Store;
  /** The caller's session, already checked against the account (null = anonymous). */
  sessionOf(req: FastifyRequest): Promise<{ session: Session | null; problem?: 'expired' | 'invalid' }>;
  /**
   * Called after venue or event documents were stored and before the push is answered, so the
   * signer can sign them (and record that it must: Signer.pushed).
   */
  onVenuesPushed(communeCode: string): void | Promise<void>;
  /** An accepted push into a commune database, with the kinds of document it carried (a team's report wakes the submissions job). */
  onCommunePushed?(communeCode: string, kinds: ReadonlySet<string>): void;
  /** Called when an owner stored a venue in a commune, so the account lists that commune for its other devices. */
  onOwnerVenue(userId: string, communeCode: string): Promise<void>;
  /** Bounds of waiting clients (long-polls and continuous feeds); defaults below. */
  waiting?: { maxMs?: number; maxOpen?: number };
}

/** Waiting clients at once, per server: each holds a socket here and one to the store. */
export const WAITING_MAX_OPEN = 1000;
/** Anonymous readers post small bodies (a _bulk_get of a batch's ids); more is refused before it is read. */
const ANONYMOUS_BODY_LIMIT = 1024 * 1024;
/** Ids a `doc_ids` filter may name. */
const MAX_DOC_IDS = 10_000;
/** Anonymous replication checkpoints kept in memory (CouchDB's replicator writes them on the source). */
const MAX_ANONYMOUS_CHECKPOINTS = 10_000;
const MAX_CHECKPOINT_BYTES = 4096;

/** The app replicates in batches of 1,000 documents (about 0.5 MB); a station's day of entries fits easily. */
export const SYNC_BODY_LIMIT = 8 * 1024 * 1024;
/** Upper bound of a long-poll, under common proxy idle timeouts. */
export const LONGPOLL_MAX_MS = 25_000;
const CHANGES_PARAMS = ['since', 'limit', 'style', 'seq_interval', 'descending', 'include_docs'];
/**
 * A device's first load reads the commune in pages of `_changes?include_docs=true` (the rows and
 * their documents in one answer, through the same filter as every read): one round trip per page
 * instead of a `_changes`, a `_bulk_get` naming every id and revision, and checkpoints per batch.
 * A page is bounded so that one request's answer stays a few MB in the server's memory.
 */
export const CHANGES_DOCS_MAX_LIMIT = 5000;
/**
 * A device's live pull reads `_changes?include_docs=true&revs=true` (feed normal or longpoll): each
 * row then carries `docs`, every leaf revision of the document with its `_revisions`, as the
 * replicator's `_bulk_get?revs=true` gives them, so the device does not send a batch's ids and
 * revisions back up to ask for them (a day's delta sent as many bytes up as it brought down, and a
 * round trip a batch; bench/replica.mjs). The app's batches are 1,000 rows.
 */
export const CHANGES_LEAVES_MAX_LIMIT = 1000;
/** How long one read of changes goes on paging past rows the caller may not see (readVisibleChanges). */
const VISIBLE_READ_MS = 10_000;
/** The largest page of the store's changes (without documents) read for that. */
const VISIBLE_PAGE_MAX = 5000;

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

/** A document id as a path segment may not be; `.` and `..` would walk out of the database. */
function badDocId(id: string): boolean {
  return id === '' || id === '.' || id === '..' || id.length > 512;
}

/** Query values of `_changes` and document reads, checked before they reach the store. */
function queryProblem(query: Record<string, unknown>): string | null {
  for (const [name, value] of Object.entries(query)) {
    if (typeof value !== 'string') return `${name} is given more than once`;
    if (value.length > 2000) return `${name} is too long`;
  }
  const q = query as Record<string, string | undefined>;
  for (const name of ['revs', 'latest', 'revs_info', 'conflicts', 'descending', 'attachments', 'include_docs'])
    if (q[name] !== undefined && q[name] !== 'true' && q[name] !== 'false') return `${name} must be true or false`;
  for (const name of ['limit', 'timeout', 'heartbeat', 'seq_interval']) if (q[name] !== undefined && !/^[0-9]{1,10}$/.test(q[name]!)) return `${name} must be a whole number`;
  if (q.style !== undefined && q.style !== 'main_only' && q.style !== 'all_docs') return 'style must be main_only or all_docs';
  if (q.rev !== undefined && !REV_PATTERN.test(q.rev)) return 'rev must look like <generation>-<hex>';
  if (q.open_revs !== undefined && q.open_revs !== 'all') {
    let revs: unknown;
    try {
      revs = JSON.parse(q.open_revs);
    } catch {
      return 'open_revs must be "all" or a JSON list of revisions';
    }
    if (!Array.isArray(revs) || revs.length > 1000 || !revs.every((r) => typeof r === 'string' && REV_PATTERN.test(r))) return 'open_revs must be "all" or a JSON list of revisions';
  }
  return null;
}

/** The ids of a `_doc_ids` filter, from the body or the query, or why they cannot be read. */
function docIdsOf(body: unknown, query: string | undefined): { ids: Set<string> } | { problem: string } {
  let ids = (body as { doc_ids?: unknown } | undefined)?.doc_ids;
  if (ids === undefined && query !== undefined) {
    try {
      ids = JSON.parse(query);
    } catch {
      return { problem: 'doc_ids must be a JSON list of ids' };
    }
  }
  if (!Array.isArray(ids) || ids.length > MAX_DOC_IDS || !ids.every((id) => typeof id === 'string')) return { problem: `doc_ids must be a list of up to ${MAX_DOC_IDS} ids` };
  return { ids: new Set(ids as string[]) };
}

/** A replication's `_changes` answer as the store gives it (`docs`: added by the gateway, see CHANGES_LEAVES_MAX_LIMIT). */
type ChangesBody = { results: { id: string; seq?: unknown; changes?: { rev?: unknown }[]; docs?: unknown[] }[]; last_seq: unknown; pending?: number };

export async function registerGateway(app: FastifyInstance, { store, sessionOf, onVenuesPushed, onCommunePushed, onOwnerVenue, waiting: waitingOpts }: GatewayDeps): Promise<void> {
  const longpollMaxMs = waitingOpts?.maxMs ?? LONGPOLL_MAX_MS;
  const waiting = new WaitingClients(waitingOpts?.maxOpen ?? WAITING_MAX_OPEN);
  const anonymousCheckpoints = new Map<string, Record<string, unknown>>();
  // At shutdown every waiting client is answered at once (as at its bound), so that closing the
  // server does not wait out long-polls, nor a replicator that keeps reconnecting its feed.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

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

  // Venues owned, per database, current with what any instance wrote (server/shared/owned-venues.ts).
  const owners = new OwnedVenues(store);
  const ownedVenues = (dbName: string, userId: string) => owners.of(dbName, userId);

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

  /**
   * The venues a partial reader sees: an owner's own; a paired station's one venue, while its owner
   * still owns it (a venue deleted or never the owner's shows nothing).
   */
  async function visibleVenues(ctx: Ctx): Promise<Set<string>> {
    if (ctx.pull === 'one-venue') {
      const { venueId, ownerId } = ctx.session!;
      return venueId && ownerId && (await ownedVenues(ctx.db.name, ownerId)).has(venueId) ? new Set([venueId]) : new Set();
    }
    return ownedVenues(ctx.db.name, ctx.session!.userId);
  }

  async function mayRead(ctx: Ctx, id: string): Promise<boolean> {
    if (ctx.db.kind === 'commune' && !isReplicatedId(id)) return false;
    if (ctx.pull === 'all') return true;
    if (!isOwnerDocId(id)) return false;
    const venueId = venueIdOfDocId(id);
    return venueId !== null && (await visibleVenues(ctx)).has(venueId);
  }

  function relay(reply: FastifyReply, res: { status: number; body: unknown }) {
    // A store error is the store's business: the client learns it failed, in words, not its internals.
    if (res.status >= 500) return deny(reply, 502, 'store_error', 'the database could not answer this request: try again later');
    return reply.status(res.status).send(res.body);
  }

  // Before a body is read: writes need an account that may write here, and anonymous readers send
  // small bodies. Without this, anyone could make the server parse 8 MB before being refused.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' && req.method !== 'PUT') return;
    const m = /^\/sync\/([^/?]+)\/([^?]*)/.exec(req.url);
    if (!m) return;
    const endpoint = decodeURIComponent(m[2]!);
    const writes = endpoint === '_bulk_docs' || endpoint === '_revs_diff' || (req.method === 'PUT' && endpoint.startsWith('_local/'));
    const { session } = await sessionOf(req);
    if (!session) {
      const anonymousWrite = writes && !(req.method === 'PUT' && endpoint.startsWith('_local/'));
      if (anonymousWrite) return deny(reply, 401, 'unauthorized', 'log in first');
      if (Number(req.headers['content-length'] ?? 0) > ANONYMOUS_BODY_LIMIT) return deny(reply, 413, 'too_large', 'request body too large');
      return;
    }
    const db = classifyDb(decodeURIComponent(m[1]!));
    if ((endpoint === '_bulk_docs' || endpoint === '_revs_diff') && pushAccess(session, db) === 'none') return deny(reply, 403, 'forbidden', 'this database is read-only for you');
  });

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
  // Anonymous readers (CouchDB's replicator mirroring a public database) may keep a checkpoint
  // here, in memory only and bounded: nothing a stranger writes lasts beyond this process.
  const anonymousKey = (db: string, id: string) => `${db}/${id}`;
  app.get<{ Params: Params }>('/sync/:db/_local/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    if (badDocId(req.params.id!)) return deny(reply, 400, 'bad_request', 'not a checkpoint id');
    if (!ctx.session) {
      const kept = anonymousCheckpoints.get(anonymousKey(ctx.db.name, req.params.id!));
      return kept ? kept : deny(reply, 404, 'not_found', 'missing');
    }
    const owner = ctx.session.userId;
    const res = await store.request('GET', `${ctx.db.name}/_local/${encodeURIComponent(`${owner}__${req.params.id}`)}`);
    if (res.status === 200) (res.body as { _id: string })._id = `_local/${req.params.id}`;
    return relay(reply, res);
  });
  app.put<{ Params: Params; Body: Record<string, unknown> }>('/sync/:db/_local/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    if (badDocId(req.params.id!)) return deny(reply, 400, 'bad_request', 'not a checkpoint id');
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) return deny(reply, 400, 'bad_request', 'a JSON object is expected');
    const size = JSON.stringify(req.body).length;
    if (size > MAX_CHECKPOINT_BYTES * 16) return deny(reply, 413, 'too_large', 'a checkpoint is a small document');
    if (!ctx.session) {
      if (size > MAX_CHECKPOINT_BYTES) return deny(reply, 413, 'too_large', 'a checkpoint is a small document');
      const key = anonymousKey(ctx.db.name, req.params.id!);
      const before = anonymousCheckpoints.get(key);
      const rev = `0-${Number(String(before?._rev ?? '0-0').split('-')[1] ?? 0) + 1}`;
      anonymousCheckpoints.delete(key);
      if (anonymousCheckpoints.size >= MAX_ANONYMOUS_CHECKPOINTS) anonymousCheckpoints.delete(anonymousCheckpoints.keys().next().value!);
      anonymousCheckpoints.set(key, { ...req.body, _id: `_local/${req.params.id}`, _rev: rev });
      reply.status(201);
      return { ok: true, id: `_local/${req.params.id}`, rev };
    }
    const localId = `${ctx.session.userId}__${req.params.id}`;
    const res = await store.request('PUT', `${ctx.db.name}/_local/${encodeURIComponent(localId)}`, { body: { ...req.body, _id: `_local/${localId}` } });
    if (res.status < 300) (res.body as { id: string }).id = `_local/${req.params.id}`;
    return relay(reply, res);
  });

  // CouchDB's replicator asks its source to commit before it writes a checkpoint. Every write here
  // is durable when answered, so there is nothing to do but say so.
  app.post<{ Params: Params }>('/sync/:db/_ensure_full_commit', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    reply.status(201);
    return { ok: true, instance_start_time: '0' };
  });

  /** Drops what the caller may not see from a `_changes` answer. */
  async function filterChanges(ctx: Ctx, body: ChangesBody, docIds: Set<string> | null): Promise<ChangesBody> {
    const owned = ctx.pull === 'own-venues' || ctx.pull === 'one-venue' ? await visibleVenues(ctx) : null;
    body.results = (body.results ?? []).filter((row) => {
      if (docIds && !docIds.has(row.id)) return false;
      if (ctx.db.kind === 'commune' && !isReplicatedId(row.id)) return false;
      if (!owned) return true;
      if (!isOwnerDocId(row.id)) return false;
      const venueId = venueIdOfDocId(row.id);
      return venueId !== null && owned.has(venueId);
    });
    if (owned) delete body.pending;
    return body;
  }

  // Whether the store's sequences are numbers (the embedded store) or opaque strings (CouchDB),
  // read once from a database's update_seq. The embedded store answers an opaque sequence with an
  // empty, successful read, which a client would take as "nothing new": it must never get one.
  let numericSeqs: Promise<boolean> | null = null;
  const storeSeqsAreNumbers = () => {
    numericSeqs ??= store.request('GET', 'lv_directory').then((res) => typeof (res.body as { update_seq?: unknown })?.update_seq === 'number');
    numericSeqs.catch(() => (numericSeqs = null));
    return numericSeqs;
  };

  /**
   * One read of the store's `_changes`. A `since` the store does not know (a numeric checkpoint of
   * the embedded store, kept by a phone, after a move to CouchDB, whose sequences are opaque
   * strings) is read again from the start: the client then skips, by revision, what it has.
   *
   * A `doc_ids` filter is the store's to apply, before its `limit`: applied here, after it, a batch
   * of other documents' changes came back empty, and PouchDB's replicator takes an empty batch for
   * the end of a one-off replication (a first load's conflicted documents, pulled by id, were missed
   * past the first batch of the commune's changes).
   */
  async function readChanges(ctx: Ctx, given: URLSearchParams, docIds: Set<string> | null, restart = true) {
    const readOnce = (query: URLSearchParams) => {
      if (!docIds) return store.request('GET', `${ctx.db.name}/_changes`, { query });
      const filtered = new URLSearchParams(query);
      filtered.set('filter', '_doc_ids');
      return store.request('POST', `${ctx.db.name}/_changes`, { query: filtered, body: { doc_ids: [...docIds] } });
    };
    // A connection to the store that broke (a CouchDB node gone, behind the balancer) is tried once
    // more, on a new connection: a failed read of changes ends a device's replication, and a
    // replicator without src/lib/client/pull-guard.ts then skips the changes it had read ahead.
    // Not after a read that timed out: that one already took its time.
    const read = async (query: URLSearchParams) => {
      try {
        return await readOnce(query);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || (err.cause as Error | undefined)?.message === 'no answer in time') throw err;
        return readOnce(query);
      }
    };
    let query = given;
    const asked = given.get('since');
    if (asked && asked !== '0' && asked !== 'now' && /^[0-9]+$/.test(asked) !== (await storeSeqsAreNumbers())) {
      query = new URLSearchParams(given);
      query.set('since', '0');
    }
    const res = await read(query);
    // A sequence of the right kind that this store still cannot place (CouchDB answers 400): from the
    // start too. Not for a sequence the store itself gave on the page before (readVisibleChanges).
    if (!restart || res.status !== 400 || query.get('since') === '0') return res;
    const again = new URLSearchParams(query);
    again.set('since', '0');
    return read(again);
  }

  /**
   * Reads changes for a caller whose view is filtered (an owner's or a station's venues, a commune's
   * replicated kinds, a doc_ids list). A page of the store's changes can hold nothing such a caller
   * may see: PouchDB's replicator takes an empty page for the end of a one-off replication, which
   * then stopped before it had caught up, and a long-poll waited for the next change of the database
   * before reading on. So further pages are read, each twice the last, until a row is the caller's,
   * the feed ends, VISIBLE_READ_MS have passed or `stop` aborts (a long-poll's deadline, its client
   * gone, shutdown). Rows past the caller's limit are not answered: last_seq is then the last
   * answered row's sequence, so the next read starts after it. A later page the store refuses ends
   * the read with what was read so far: the caller resumes from there.
   */
  async function readVisibleChanges(ctx: Ctx, query: URLSearchParams, docIds: Set<string> | null, stop: AbortSignal): Promise<{ status: number; body: unknown }> {
    let res = await readChanges(ctx, query, docIds);
    if (res.status !== 200) return res;
    const limit = Number(query.get('limit'));
    let fetched = (res.body as ChangesBody).results?.length ?? 0;
    let body = await filterChanges(ctx, res.body as ChangesBody, docIds);
    if (!(limit >= 1) || query.get('descending') === 'true') return { status: 200, body };
    const started = Date.now();
    let pageLimit = limit;
    while (!body.results.length && fetched >= pageLimit && Date.now() - started < VISIBLE_READ_MS && !stop.aborted) {
      // Pages with documents stay the caller's size: it chose how much it can take at once.
      pageLimit = query.get('include_docs') === 'true' ? limit : Math.min(pageLimit * 2, VISIBLE_PAGE_MAX);
      const step = new URLSearchParams(query);
      step.set('since', seqText(body.last_seq));
      step.set('limit', String(pageLimit));
      // Every row's sequence is needed to stop after the caller's limit (CouchDB leaves most out with it).
      step.delete('seq_interval');
      res = await readChanges(ctx, step, docIds, false);
      if (res.status !== 200) break;
      fetched = (res.body as ChangesBody).results?.length ?? 0;
      body = await filterChanges(ctx, res.body as ChangesBody, docIds);
      if (body.results.length > limit) {
        body.results = body.results.slice(0, limit);
        body.last_seq = body.results[limit - 1]!.seq;
        delete body.pending;
      }
    }
    return { status: 200, body };
  }

  const watch = new ChangeWatch(store, longpollMaxMs, closing.signal);
  const seqText = (seq: unknown) => (typeof seq === 'string' ? seq : String(seq));

  /**
   * A long-poll: answered as soon as the caller may see something after its `since`, else at
   * `waitMs` with nothing and the sequence it read up to. The store is never long-polled per
   * client: the shared watch of the database wakes every waiting client at a change, and each
   * reads what it may see with a plain read. Null when the client went away.
   */
  async function longpoll(ctx: Ctx, query: URLSearchParams, docIds: Set<string> | null, waitMs: number, clientGone: AbortSignal) {
    const limit = deadline(waitMs, closing.signal, clientGone);
    try {
      return await waitAndRead(ctx, query, docIds, limit.signal, clientGone);
    } finally {
      limit.clear();
    }
  }

  /** The loop of a long-poll: read, and if nothing may be answered yet, wait for the next change of the database. */
  async function waitAndRead(ctx: Ctx, query: URLSearchParams, docIds: Set<string> | null, deadline: AbortSignal, clientGone: AbortSignal) {
    let step = query;
    for (;;) {
      // Registered before the read: a change between the read and the wait wakes it all the same.
      const waiting = watch.wait(ctx.db.name, deadline);
      let res: { status: number; body: unknown };
      try {
        res = await readVisibleChanges(ctx, step, docIds, deadline);
      } catch (err) {
        waiting.cancel();
        throw err;
      }
      if (res.status !== 200) {
        waiting.cancel();
        return res;
      }
      const body = res.body as ChangesBody;
      // Something to answer, or the deadline passed, or it passes while waiting for the next change.
      if (body.results.length > 0 || deadline.aborted || !(await waiting.changed)) {
        waiting.cancel();
        return clientGone.aborted ? null : { status: 200, body };
      }
      step = new URLSearchParams(step);
      step.set('since', seqText(body.last_seq));
    }
  }

  /**
   * The rows of a `_changes` answer (already filtered for the caller) with every leaf revision each
   * lists, deleted ones too, read from the store as `_bulk_get?revs=true` reads them: what the
   * replicator would ask for next, with the history it needs to place an edit after the revision
   * the device holds instead of beside it (a conflict).
   */
  async function withLeaves(ctx: Ctx, body: ChangesBody, reply: FastifyReply) {
    const wanted = body.results.flatMap((row) => (row.changes ?? []).flatMap((c) => (typeof c.rev === 'string' ? [{ id: row.id, rev: c.rev }] : [])));
    if (!wanted.length) return body;
    const res = await store.request('POST', `${ctx.db.name}/_bulk_get`, { query: new URLSearchParams({ revs: 'true' }), body: { docs: wanted } });
    if (res.status !== 200) return relay(reply, res);
    const byId = new Map<string, unknown[]>();
    for (const found of (res.body as { results?: { id: string; docs?: { ok?: unknown }[] }[] }).results ?? []) {
      const docs = byId.get(found.id) ?? [];
      for (const d of found.docs ?? []) if (d.ok) docs.push(d.ok);
      byId.set(found.id, docs);
    }
    for (const row of body.results) row.docs = byId.get(row.id) ?? [];
    return body;
  }

  const changes = async (req: FastifyRequest<{ Params: Params; Querystring: Record<string, string>; Body: unknown }>, reply: FastifyReply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const problem = queryProblem(req.query);
    if (problem) return deny(reply, 400, 'bad_request', problem);
    const query = new URLSearchParams();
    for (const name of CHANGES_PARAMS) if (req.query[name] !== undefined) query.set(name, String(req.query[name]));
    const feed = req.query.feed ?? 'normal';
    if (feed !== 'normal' && feed !== 'longpoll' && feed !== 'continuous') return deny(reply, 400, 'bad_request', 'feed must be normal, longpoll or continuous');
    // Every leaf with its history (revs=true), or the winning revision alone (a first load's pages).
    const leaves = req.query.include_docs === 'true' && req.query.revs === 'true';
    if (req.query.include_docs === 'true') {
      if (feed === 'continuous') return deny(reply, 400, 'bad_request', 'include_docs is for a normal or longpoll feed only');
      const limit = Number(req.query.limit);
      const max = leaves ? CHANGES_LEAVES_MAX_LIMIT : CHANGES_DOCS_MAX_LIMIT;
      if (!(limit >= 1 && limit <= max)) return deny(reply, 400, 'bad_request', `include_docs${leaves ? ' with revs' : ''} needs a limit from 1 to ${max}`);
      // The leaves are read after the access filter, by revision (withLeaves), not by the store's _changes.
      if (leaves) query.delete('include_docs');
    }
    // doc_ids filter (PouchDB's `doc_ids` option) is applied here, after the access filter.
    let docIds: Set<string> | null = null;
    if (req.query.filter === '_doc_ids') {
      const read = docIdsOf(req.body, req.query.doc_ids);
      if ('problem' in read) return deny(reply, 400, 'bad_request', read.problem);
      docIds = read.ids;
    } else if (req.query.filter) {
      return deny(reply, 400, 'bad_request', 'only the _doc_ids filter is supported');
    }
    if (feed === 'normal') {
      const res = await readVisibleChanges(ctx, query, docIds, closing.signal);
      if (res.status !== 200) return relay(reply, res);
      const body = res.body as ChangesBody;
      return leaves ? withLeaves(ctx, body, reply) : body;
    }

    const leave = waiting.enter();
    if (!leave) {
      reply.header('Retry-After', '10');
      return deny(reply, 429, 'too_many_waiting', 'too many clients are waiting for changes: try again in a few seconds');
    }
    const gone = new AbortController();
    // The client is gone when the connection closes before the answer is out. Not the request's
    // own 'close': Node emits it once a request without a body has been read, at the start of the
    // wait, and such a long-poll was then never answered (bench/longpoll.mjs, keep-alive clients).
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    const waitMs = Math.min(Number(req.query.timeout ?? longpollMaxMs) || longpollMaxMs, longpollMaxMs);
    try {
      if (feed === 'longpoll') {
        // Spread over the last fifth of the bound: phones that opened together (an announcement,
        // the evening) would otherwise all come back, and read, at the same instant.
        const res = await longpoll(ctx, query, docIds, Math.round(waitMs * (0.8 + 0.2 * Math.random())), gone.signal);
        if (!res) return reply; // nobody to answer
        // Shutting down: the connection goes with this answer, or it would hold the close open.
        if (closing.signal.aborted) reply.header('connection', 'close');
        if (res.status !== 200) return relay(reply, res);
        return leaves ? withLeaves(ctx, res.body as ChangesBody, reply) : res.body;
      }
      // Continuous (CouchDB's replicator, mirroring a public database): rows as they come, one JSON
      // line each, for at most the long-poll bound; then the last_seq line, and the replicator
      // reconnects from there. Heartbeat newlines keep proxies from closing a quiet feed.
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      const heartbeatMs = Math.min(Math.max(Number(req.query.heartbeat) || 10_000, 1_000), 30_000);
      const heartbeat = setInterval(() => out.write('\n'), heartbeatMs);
      const until = Date.now() + longpollMaxMs;
      let since = query.get('since') ?? '0';
      try {
        while (!gone.signal.aborted && !closing.signal.aborted && Date.now() < until) {
          const step = new URLSearchParams(query);
          step.set('since', since);
          const res = await longpoll(ctx, step, docIds, Math.max(1, until - Date.now()), gone.signal);
          if (!res || res.status !== 200) break;
          const body = res.body as ChangesBody;
          for (const row of body.results) out.write(JSON.stringify(row) + '\n');
          since = seqText(body.last_seq);
        }
      } catch {
        // The store failed mid-feed: end the feed where it got to; the replicator resumes from there.
      } finally {
        clearInterval(heartbeat);
        if (!gone.signal.aborted) {
          out.end(JSON.stringify({ last_seq: /^[0-9]+$/.test(since) ? Number(since) : since }) + '\n', () => {
            if (closing.signal.aborted) req.raw.socket?.destroy();
          });
        }
      }
      return reply;
    } catch (err) {
      if (gone.signal.aborted) return reply;
      throw err;
    } finally {
      leave();
    }
  };
  app.get('/sync/:db/_changes', changes);
  app.post('/sync/:db/_changes', changes);

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/sync/:db/_revs_diff', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    if (ctx.push === 'none') return deny(reply, 403, 'forbidden', 'this database is read-only for you');
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) return deny(reply, 400, 'bad_request', 'a JSON object of id -> revs is expected');
    for (const [id, revs] of Object.entries(req.body))
      if (badDocId(id) || !Array.isArray(revs) || revs.length > 1000 || !revs.every((r) => typeof r === 'string' && REV_PATTERN.test(r)))
        return deny(reply, 400, 'bad_request', 'each id must map to a list of revisions (<generation>-<hex>)');
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
    const problem = queryProblem(req.query);
    if (problem) return deny(reply, 400, 'bad_request', problem);
    const docs = req.body?.docs;
    if (!Array.isArray(docs)) return deny(reply, 400, 'bad_request', 'docs must be a list');
    if (docs.length > 10_000) return deny(reply, 400, 'bad_request', 'at most 10,000 documents a request');
    for (const entry of docs as { id?: unknown; rev?: unknown }[])
      if (typeof entry !== 'object' || entry === null || typeof entry.id !== 'string' || badDocId(entry.id) || (entry.rev !== undefined && (typeof entry.rev !== 'string' || !REV_PATTERN.test(entry.rev))))
        return deny(reply, 400, 'bad_request', 'each entry of docs is {id, rev?}');
    const allowed: { id: string; rev?: string }[] = [];
    const refused: { id: string; docs: { error: { id: string; rev?: string; error: string; reason: string } }[] }[] = [];
    for (const entry of docs as { id?: unknown; rev?: unknown }[]) {
      const id = typeof entry?.id === 'string' ? entry.id : '';
      if (id && (await mayRead(ctx, id))) allowed.push({ id, ...(typeof entry.rev === 'string' ? { rev: entry.rev } : {}) });
      else refused.push({ id, docs: [{ error: { id, rev: typeof entry?.rev === 'string' ? entry.rev : undefined, error: 'forbidden', reason: 'not yours to read' } }] });
    }
    const query = new URLSearchParams();
    // Attachments never travel (none are stored).
    for (const name of ['revs', 'latest']) if (req.query[name] !== undefined) query.set(name, req.query[name]!);
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
    // The app pushes 1,000 at a time; a bound keeps one request's work (and its checks) in proportion.
    if (docs.length > 10_000) return deny(reply, 400, 'bad_request', 'at most 10,000 documents a request');
    const newEdits = req.body?.new_edits ?? true;
    if (typeof newEdits !== 'boolean') return deny(reply, 400, 'bad_request', 'new_edits must be true or false');
    const communeCode = ctx.db.communeCode;
    const now = Date.now();

    // First what each document is, checked and normalised; only then who may write it, so that
    // ownership is never decided from a document that is refused anyway.
    const checked = docs.map((raw): { id: string; error: string } | { id: string; doc: Record<string, unknown> } => {
      const id = typeof (raw as { _id?: unknown })?._id === 'string' ? (raw as { _id: string })._id : '';
      const meta = checkReplicationMeta(raw, newEdits);
      if (!meta.ok) return { id, error: meta.reason };
      if (badDocId(id)) return { id, error: 'not a document id' };
      const check = checkCommuneDoc(raw, communeCode, now);
      if (!check.ok) return { id, error: check.reason };
      // What is stored: the schema's own fields, as normalised, and the checked metadata; no raw extras.
      const body = Object.fromEntries(Object.entries(check.doc as Record<string, unknown>).filter(([key]) => !key.startsWith('_')));
      return { id, doc: meta.meta._deleted ? { ...meta.meta } : { ...body, ...meta.meta } };
    });
    const valid = checked.flatMap((c) => ('doc' in c ? [c.doc] : []));

    // For an owner: the venues it already has, plus the new venues of this batch that nobody else has.
    let owned: Set<string> | null = null;
    if (ctx.push === 'one-venue') owned = await visibleVenues(ctx);
    if (ctx.push === 'own-venues') {
      const userId = ctx.session!.userId;
      owned = new Set(await ownedVenues(ctx.db.name, userId));
      const newVenueIds = valid
        .filter((d) => d.type === 'venue' && d.owner === userId)
        .map((d) => venueIdOfDocId(d._id as string))
        .filter((id): id is string => id !== null && !owned!.has(id));
      if (newVenueIds.length) {
        const res = await store.request('POST', `${ctx.db.name}/_all_docs`, { body: { keys: newVenueIds.map((id) => `venue:${id}`) } });
        if (res.status !== 200) return relay(reply, res);
        const taken = new Set<string>();
        // An existing or deleted document under that id belongs to someone else (or to no owner).
        for (const row of (res.body as { rows?: { key: string; value?: unknown }[] }).rows ?? []) if (row.value) taken.add(venueIdOfDocId(row.key)!);
        for (const id of newVenueIds) if (!taken.has(id)) owned.add(id);
      }
    }

    // A venue the commune team suspended stays suspended until the team resumes it: an owner may
    // edit it, not lift (or take over) the team's suspension.
    const current = new Map<string, VenueRecord>();
    if (owned) {
      const ids = valid.filter((d) => d.type === 'venue' && !d._deleted).map((d) => d._id as string);
      if (ids.length) {
        const res = await store.request('POST', `${ctx.db.name}/_all_docs`, { query: new URLSearchParams({ include_docs: 'true' }), body: { keys: ids } });
        if (res.status !== 200) return relay(reply, res);
        for (const row of (res.body as { rows?: { key: string; doc?: VenueRecord | null }[] }).rows ?? []) if (row.doc) current.set(row.key, row.doc);
      }
    }

    // Exposure events name a venue: it must be a live venue of this commune's database (or of this
    // batch), or the server would sign and serve an event for a place that is not there.
    const exposureVenues = new Set(valid.filter((d) => d.type === 'exposure' && !d._deleted).map((d) => d.venueId as string));
    const liveVenues = new Set(valid.filter((d) => d.type === 'venue' && !d._deleted).map((d) => d.venueId as string));
    const lookUp = [...exposureVenues].filter((id) => !liveVenues.has(id));
    if (lookUp.length) {
      const res = await store.request('POST', `${ctx.db.name}/_all_docs`, { body: { keys: lookUp.map((id) => `venue:${id}`) } });
      if (res.status !== 200) return relay(reply, res);
      for (const row of (res.body as { rows?: { key: string; value?: { deleted?: boolean } }[] }).rows ?? []) if (row.value && !row.value.deleted) liveVenues.add(venueIdOfDocId(row.key)!);
    }

    const results: ({ id: string; error: string; reason: string } | null)[] = [];
    const accepted: Record<string, unknown>[] = [];
    for (const c of checked) {
      if (!('doc' in c)) {
        results.push({ id: c.id, error: 'forbidden', reason: c.error });
        continue;
      }
      const doc = c.doc;
      if (ctx.push === 'one-venue') {
        // A station records who came and went at its door, and corrects that; the venue is the owner's.
        if (!c.id.startsWith('entry:') || !owned!.has(venueIdOfDocId(c.id)!)) {
          results.push({ id: c.id, error: 'forbidden', reason: 'a paired station writes the entries of its own venue only' });
          continue;
        }
      } else if (owned) {
        // No handing a venue to someone else: a live venue document must name the pusher as owner.
        // Owners write their venues and station entries; exposure events are the commune team's.
        const ok = isOwnerDocId(c.id) && owned.has(venueIdOfDocId(c.id)!) && (doc.type !== 'venue' || doc._deleted === true || doc.owner === ctx.session!.userId);
        if (!ok) {
          results.push({ id: c.id, error: 'forbidden', reason: 'not a venue of this account' });
          continue;
        }
        if (doc.type === 'venue' && !doc._deleted && !ownerKeepsTeamSuspension(current.get(c.id), doc as unknown as VenueRecord)) {
          results.push({ id: c.id, error: 'forbidden', reason: 'the commune team suspended this venue: only the team can resume it' });
          continue;
        }
      }
      if (doc.type === 'exposure' && !doc._deleted && !liveVenues.has(doc.venueId as string)) {
        results.push({ id: c.id, error: 'forbidden', reason: 'no such venue in this commune' });
        continue;
      }
      results.push(null);
      accepted.push(doc);
    }

    let stored: { id: string; rev?: string; error?: string; reason?: string }[] = [];
    if (accepted.length) {
      const res = await store.request('POST', `${ctx.db.name}/_bulk_docs`, { body: { docs: accepted, new_edits: newEdits } });
      if (res.status >= 300) return relay(reply, res);
      stored = res.body as typeof stored;
      onCommunePushed?.(communeCode, new Set(accepted.map((d) => (typeof d.type === 'string' ? d.type : 'deleted'))));
      if (accepted.some((d) => d.type === 'venue' || d.type === 'exposure' || d._deleted)) {
        owners.changed(ctx.db.name);
        await onVenuesPushed(communeCode);
        if (ctx.push === 'own-venues') await onOwnerVenue(ctx.session!.userId, communeCode);
      }
    }
    const refused = results.filter((r): r is NonNullable<typeof r> => r !== null);
    reply.status(201);
    // With new_edits=false CouchDB lists only failures; otherwise one result per accepted doc.
    return newEdits === false ? [...stored, ...refused] : mergeById<{ id: string }>(results, docs, stored);
  });

  app.get<{ Params: Params; Querystring: Record<string, string> }>('/sync/:db/:id', async (req, reply) => {
    const ctx = await context(req, reply);
    if (!ctx) return reply;
    const id = req.params.id!;
    if (badDocId(id)) return deny(reply, 400, 'bad_request', 'not a document id');
    if (id.startsWith('_')) return deny(reply, 404, 'not_found', 'not available through the gateway');
    const problem = queryProblem(req.query);
    if (problem) return deny(reply, 400, 'bad_request', problem);
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
