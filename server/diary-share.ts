/**
 * Sharing a visit diary online with a one-time code (DESIGN §3: the diary leaves the phone only by
 * the citizen's own action).
 *
 * - `POST /api/share-codes` (commune team): a code for one F0 case of a commune in the member's
 *   scope, valid 24 hours, usable once.
 * - `GET /api/share-codes/:code` (anonymous): which commune a valid code sends to, so the citizen's
 *   screen can say so before anything is sent.
 * - `POST /api/diary-share` (anonymous): the chosen visits with the code; they land in
 *   `lv_c_<commune>` as one `diaryshare:<caseId>:<random>` document, which the team's devices get
 *   by replication.
 *
 * Codes live in `lv_share_codes` (server only: the gateway serves no such database). A code is not
 * stored as itself: its document id is `code:` + an HMAC of the code under a key derived from the
 * server secret (SESSION_SECRET, shared by all instances), so a dump of the database gives no codes
 * that work, and 40-bit codes cannot be recovered from the ids without that secret.
 *
 * One use only, also under concurrent submissions of the same code: the code document is marked used
 * with its `_rev` before the share is written (CouchDB answers 409 to all writers but one); if
 * writing the share then fails, the mark is taken back so the citizen can send again.
 *
 * Guessing: failed look-ups (an unknown code) are limited per client address, as an HMAC under a key
 * derived from the server secret and the day (client-limit.ts), counted in CouchDB so that every
 * instance spends the same allowance (server/shared/windows.ts): a look-up costs two store round
 * trips more (the take: a read and a write) and one after answering when it was no miss (the give
 * back). Nothing about the code, the case, the visits or the sender is logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import { checkCommuneDoc, type DiaryShareRecord } from '../src/lib/core/documents';
import {
  checkDiaryShareRequest,
  DIARY_SHARE_BODY_LIMIT,
  formatShareCode,
  newShareCode,
  normalizeShareCode,
  SHARE_CODE_TTL
} from '../src/lib/core/citizen/share-code';
import type { Session } from './auth';
import { sharedClientKey } from './client-limit';
import { SharedDays } from './shared/days';
import { perMinuteSpec, SharedWindows, type WindowRef } from './shared/windows';
import { communeDbName, DB, type Store } from './store/couch';

export interface DiaryShareLimits {
  /**
   * Failed code look-ups and submissions (unknown code) allowed from one client address in ten
   * minutes, regained at a tenth of that a minute; 0 = no limit. At the default 10 an address tries
   * about 500,000 codes a year: with 10^4 codes live at once (2^40 possible), it finds one about
   * every 200 years. A citizen who mistypes a few times is not held up. Carrier-grade NAT puts many
   * phones behind one IPv4 address, but few of them type share codes in the same ten minutes.
   */
  clientFailuresPerTenMinutes: number;
  now?: () => number;
}

export interface DiaryShareDeps {
  store: Store;
  /** The server secret shared by all instances (the session secret): codes are stored as HMACs under a key derived from it. */
  secret: Uint8Array;
  sessionOf(req: FastifyRequest): Promise<{ session: Session | null; problem?: 'expired' | 'invalid' }>;
  limits: DiaryShareLimits;
}

/** A share code as stored in `lv_share_codes`; the code itself is only in the id's HMAC. */
export interface ShareCodeDoc {
  _id: string;
  _rev?: string;
  type: 'sharecode';
  schema: 1;
  communeCode: string;
  caseId: string;
  createdAt: string;
  expiresAt: string;
  /** when a submission used it; null while unused */
  usedAt: string | null;
}

const IssueSchema = v.object({
  communeCode: v.pipe(v.string(), v.regex(/^[0-9]{5}$/, 'a 5-digit commune code is expected')),
  caseId: v.pipe(v.string(), v.regex(/^[a-z0-9]{16}$/, 'a case id is 16 lowercase letters and digits'))
});

const SHARE_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** The key that turns codes into document ids: derived from the server secret, used for nothing else. */
export function shareCodeKey(secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update('lv-share-code-id-v1').digest());
}

/** `code:<HMAC of the normalised code>` (128 bits, hex). */
export function shareCodeDocId(code: string, key: Uint8Array): string {
  return `code:${createHmac('sha256', key).update(code).digest('hex').slice(0, 32)}`;
}

/** `diaryshare:<caseId>:<16 random characters>` */
function newShareDocId(caseId: string): string {
  return `diaryshare:${caseId}:${Array.from(randomBytes(16), (b) => SHARE_ID_ALPHABET[b & 31]).join('')}`;
}

const docPath = (db: string, id: string) => `${db}/${encodeURIComponent(id)}`;
const written = (status: number) => status === 201 || status === 202;

type CodeState = { state: 'unknown' } | { state: 'used' | 'expired' | 'valid'; doc: ShareCodeDoc };

export function registerDiaryShare(api: FastifyInstance, { store, secret, sessionOf, limits }: DiaryShareDeps): void {
  const now = limits.now ?? Date.now;
  const key = shareCodeKey(secret);
  const windows = new SharedWindows(new SharedDays(store, now, (message) => api.log.warn(message)));
  const failures = perMinuteSpec('sc', limits.clientFailuresPerTenMinutes / 10);
  /** The limit of a request that holds one of its address's allowed failures. */
  const holding = new WeakMap<FastifyRequest, WindowRef>();
  const communeDbs = new Set<string>();

  async function ensureCommune(communeCode: string): Promise<string> {
    const name = communeDbName(communeCode);
    if (!communeDbs.has(name)) {
      await store.ensureCommuneDb(communeCode);
      communeDbs.add(name);
    }
    return name;
  }

  async function readCode(code: string): Promise<CodeState> {
    const res = await store.request('GET', docPath(DB.shareCodes, shareCodeDocId(code, key)));
    if (res.status === 404) return { state: 'unknown' };
    if (res.status !== 200) throw new Error(`reading a share code answered ${res.status}`);
    const doc = res.body as ShareCodeDoc;
    if (doc.usedAt) return { state: 'used', doc };
    if (Date.parse(doc.expiresAt) <= now()) return { state: 'expired', doc };
    return { state: 'valid', doc };
  }

  /** A store that cannot be read or written: 503, and a log line without anything from the request. */
  function storeDown(reply: FastifyReply, err: unknown) {
    api.log.warn(`diary sharing: ${(err as Error).message}`);
    return reply.status(503).header('Retry-After', '10').send({ error: 'store_unavailable', reason: 'the server could not reach its database: try again in a moment' });
  }

  /** The answer for a code that cannot be used; null for a valid one. */
  function refusal(reply: FastifyReply, code: CodeState) {
    if (code.state === 'unknown') return reply.status(404).send({ error: 'unknown_code', reason: 'no such code: check what you typed, or ask the commune team for a new code' });
    if (code.state === 'used') return reply.status(410).send({ error: 'code_used', reason: 'this code was used already: ask the commune team for a new code' });
    if (code.state === 'expired') return reply.status(410).send({ error: 'code_expired', reason: 'this code has expired: ask the commune team for a new code' });
    return null;
  }

  // Guessing is limited by failures: each request holds one token of its address's budget while it
  // runs (so a burst of parallel guesses is held too) and gives it back unless it was a miss.
  async function holdFailureToken(req: FastifyRequest, reply: FastifyReply) {
    if (failures.max <= 0) return;
    const t = now();
    const ref: WindowRef = { spec: failures, key: sharedClientKey(secret, req.ip, t) };
    try {
      const [got] = await windows.take([{ ref, want: 1 }], t);
      if (!got) {
        const wait = SharedWindows.of(await windows.read([ref], t), ref).wait || 1;
        return reply
          .status(429)
          .header('Retry-After', String(wait))
          .header('Cache-Control', 'no-store')
          .send({ error: 'too_many_attempts', reason: `too many wrong codes from this network: try again in ${wait} s` });
      }
    } catch (err) {
      return storeDown(reply, err);
    }
    holding.set(req, ref);
  }
  // Given back before the answer leaves: a client that sends its next try as soon as it has the
  // answer must find its budget already whole (on a CouchDB cluster the write takes long enough for
  // that next try to overtake a give-back made after the answer). In the key's queue, so this
  // instance's other requests for the address see it.
  async function settleFailureToken(req: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const ref = holding.get(req);
    if (ref === undefined || reply.statusCode === 404) return payload;
    holding.delete(req);
    try {
      await windows.giveBack([ref], now());
    } catch (err) {
      // A token not given back costs this address one try of its allowance, not the answer.
      api.log.warn(`diary sharing: giving back a try failed: ${(err as Error).message}`);
    }
    return payload;
  }

  api.post('/share-codes', { bodyLimit: 4096 }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    const { session, problem } = await sessionOf(req);
    if (!session) {
      return reply
        .status(401)
        .send(problem === 'expired' ? { error: 'session_expired', reason: 'session expired: log in again' } : { error: 'not_logged_in', reason: 'log in as a commune team member' });
    }
    if (session.role !== 'team') return reply.status(403).send({ error: 'forbidden', reason: 'only commune team members issue share codes' });
    if (typeof req.body === 'string') return reply.status(415).send({ error: 'bad_request', reason: 'send application/json' });
    const input = v.safeParse(IssueSchema, req.body);
    if (!input.success) {
      const issue = input.issues[0];
      return reply.status(400).send({ error: 'bad_request', reason: `${v.getDotPath(issue) ?? 'body'}: ${issue.message}` });
    }
    const { communeCode, caseId } = input.output;
    if (!session.communes.includes(communeCode)) return reply.status(403).send({ error: 'forbidden', reason: 'this commune is not in your scope' });
    try {
      return await issue(reply, communeCode, caseId);
    } catch (err) {
      return storeDown(reply, err);
    }
  });

  async function issue(reply: FastifyReply, communeCode: string, caseId: string) {
    await ensureCommune(communeCode);
    const createdAt = now();
    const expiresAt = new Date(createdAt + SHARE_CODE_TTL).toISOString();
    // A new code meets a live one with a chance of (live codes) / 2^40: then it is drawn again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const code = newShareCode();
      const doc: ShareCodeDoc = {
        _id: shareCodeDocId(code, key),
        type: 'sharecode',
        schema: 1,
        communeCode,
        caseId,
        createdAt: new Date(createdAt).toISOString(),
        expiresAt,
        usedAt: null
      };
      const res = await store.request('PUT', docPath(DB.shareCodes, doc._id), { body: doc });
      if (written(res.status)) return reply.status(201).send({ code: formatShareCode(code), expiresAt });
      if (res.status !== 409) throw new Error(`storing a share code answered ${res.status}`);
    }
    throw new Error('no free share code after 5 draws');
  }

  api.get<{ Params: { code: string } }>('/share-codes/:code', { onRequest: holdFailureToken, onSend: settleFailureToken }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    const code = normalizeShareCode(req.params.code);
    if (!code) return reply.status(400).send({ error: 'bad_code', reason: 'a code has 8 letters and digits, like 7K3M-Q9TX' });
    try {
      const state = await readCode(code);
      const refused = refusal(reply, state);
      if (refused || state.state === 'unknown') return refused;
      const unit = await store.request('GET', docPath(DB.directory, `unit:${state.doc.communeCode}`));
      const communeName = unit.status === 200 ? (unit.body as { name?: unknown }).name : null;
      return { communeCode: state.doc.communeCode, communeName: typeof communeName === 'string' ? communeName : null, expiresAt: state.doc.expiresAt };
    } catch (err) {
      return storeDown(reply, err);
    }
  });

  api.post('/diary-share', { bodyLimit: DIARY_SHARE_BODY_LIMIT, onRequest: holdFailureToken, onSend: settleFailureToken }, async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (typeof req.body === 'string') return reply.status(415).send({ error: 'bad_request', reason: 'send the visits as application/json' });
    const check = checkDiaryShareRequest(req.body, now());
    if (!check.ok) return reply.status(400).send({ error: check.error, reason: check.reason, ...(check.field ? { field: check.field } : {}) });
    const usedAt = new Date(now()).toISOString();
    let marked: ShareCodeDoc;
    try {
      const state = await readCode(check.code);
      const refused = refusal(reply, state);
      if (refused || state.state === 'unknown') return refused;
      // Mark the code used, against its revision: of concurrent submissions one gets through.
      marked = { ...state.doc, usedAt };
      const mark = await store.request('PUT', docPath(DB.shareCodes, marked._id), { body: marked });
      if (mark.status === 409) return reply.status(410).send({ error: 'code_used', reason: 'this code was just used: ask the commune team for a new code' });
      if (!written(mark.status)) throw new Error(`marking a share code answered ${mark.status}`);
      marked._rev = (mark.body as { rev: string }).rev;
    } catch (err) {
      return storeDown(reply, err);
    }

    const { communeCode, caseId } = marked;
    const share: DiaryShareRecord = { _id: newShareDocId(caseId), type: 'diaryshare', schema: 1, communeCode, caseId, receivedAt: usedAt, visits: check.visits };
    const valid = checkCommuneDoc(share, communeCode);
    let stored = false;
    let problem = valid.ok ? 'the store did not take the visits' : `the visits do not make a valid record: ${valid.reason}`;
    if (valid.ok) {
      try {
        const db = await ensureCommune(communeCode);
        const body = valid.doc;
        let res = await store.request('PUT', docPath(db, share._id), { body });
        if (res.status === 404) {
          // The commune database went missing since the code was issued: make it again, once.
          communeDbs.delete(db);
          await ensureCommune(communeCode);
          res = await store.request('PUT', docPath(db, share._id), { body });
        }
        stored = written(res.status);
        if (!stored) api.log.warn(`storing a shared diary answered ${res.status}`);
      } catch (err) {
        api.log.warn(`storing a shared diary failed: ${(err as Error).message}`);
      }
    }
    if (stored) return reply.status(201).send({ received: check.visits.length });

    // Nothing stored: free the code again so that the citizen can send once more.
    let released = false;
    try {
      const res = await store.request('PUT', docPath(DB.shareCodes, marked._id), { body: { ...marked, usedAt: null } });
      released = written(res.status);
    } catch {
      // said below
    }
    if (!released) api.log.warn('a share code could not be released after a failed submission');
    if (!valid.ok) return reply.status(400).send({ error: 'bad_visits', reason: problem });
    problem = released ? `${problem}: send again in a moment` : `${problem}, and the code could not be freed: ask the commune team for a new code`;
    return reply.status(503).header('Retry-After', '10').send({ error: 'store_unavailable', reason: problem });
  });
}
