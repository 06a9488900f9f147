/**
 * `/api/auth/*`: venue owners register themselves with a phone number and a password; team and
 * admin accounts are made by an admin (server/admin/accounts.ts) or `npm run user:add`. Sessions
 * end on the server: logout, sign out everywhere, a password change, an admin's disabling of an
 * account or reset of its password. An account with a one-time password may do nothing but change
 * it (passwordGate).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import { normalizePhone } from '../src/lib/core/venue/station-scan';
import {
  dummyPasswordHash,
  hashPassword,
  issueSession,
  newSessionId,
  PASSWORD_MIN_LENGTH,
  readSession,
  SESSION_COOKIE,
  SESSION_DAYS,
  verifyPassword,
  type Session,
  type SessionCheck
} from './auth';
import { LoginLimits, type Refusal } from './login-limit';
import {
  createSessionRecord,
  endAllSessionRecords,
  endSessionRecord,
  getSessionRecord,
  purgeExpiredSessionRecords,
  SEEN_EVERY,
  touchSessionRecord,
  type SessionDoc
} from './sessions';
import { createUser, findUserByPhone, getUser, PhoneTakenError, publicAccount, updateUser, type UserDoc } from './users';
import type { Store } from './store/couch';
import { getStation, type StationDoc } from './staff/devices';
import { passwordTooShort } from '../src/lib/core/password';

export type SessionOf = ReturnType<typeof sessionReader>;

export interface AccountsDeps {
  store: Store;
  secret: Uint8Array;
  secureCookies: boolean;
  /** The server's one session reader, shared with the sync gateway (one cache of tokens and accounts). */
  sessionOf: SessionOf;
}

const Credentials = v.object({
  phone: v.pipe(v.string(), v.maxLength(30)),
  password: v.pipe(v.string(), v.maxLength(200)),
  name: v.optional(v.pipe(v.string(), v.maxLength(100)))
});

const PasswordChange = v.object({
  currentPassword: v.pipe(v.string(), v.maxLength(200)),
  newPassword: v.pipe(v.string(), v.maxLength(200))
});

/** A token's signature, once checked, stays checked this long in this process (a CPU cost only, no store state). */
const TOKEN_CACHE_MS = 60_000;
/**
 * Accounts and station pairings are cached this long. Bounded and short on purpose: with N instances
 * another instance's change (a role, a scope) reaches this one within it. Ending sessions does not
 * wait for it: every ending (logout, sign out everywhere, password, disabling, unpairing) deletes the
 * session records, and the record is read at every request (below).
 */
const USER_CACHE_MS = 30_000;

/**
 * Checks the cookie, its session record and the account behind it (disabled, logged out
 * everywhere). The record is read from the store at every request, never cached: a session ended on
 * another instance is refused here at once. That is one small document read per signed-in request
 * (a quorum read on a cluster: CouchDB's default r for a document). What ends sessions in this
 * process also calls forgetToken / forgetUser, for the account cache.
 */
export function sessionReader(store: Store, secret: Uint8Array, now: () => number = Date.now) {
  const users = new Map<string, { at: number; user: UserDoc | null }>();
  const tokens = new Map<string, { at: number; check: SessionCheck & { ok: true } }>();
  // Bumped by every forget: a read that started before an ending does not cache what it saw.
  let generation = 0;

  const stations = new Map<string, { at: number; station: StationDoc | null }>();

  async function userOf(userId: string): Promise<UserDoc | null> {
    const cached = users.get(userId);
    if (cached && now() - cached.at < USER_CACHE_MS) return cached.user;
    const started = generation;
    const user = await getUser(store, userId);
    if (started === generation) users.set(userId, { at: now(), user });
    return user;
  }

  async function stationOf(ownerId: string, deviceId: string): Promise<StationDoc | null> {
    const cached = stations.get(deviceId);
    if (cached && now() - cached.at < USER_CACHE_MS) return cached.station;
    const started = generation;
    const station = await getStation(store, ownerId, deviceId);
    if (started === generation) {
      if (stations.size >= 10_000) stations.clear();
      stations.set(deviceId, { at: now(), station });
    }
    return station;
  }

  type Answer = { session: Session | null; problem?: 'expired' | 'invalid'; mustChangePassword?: boolean };
  // Hooks and the handler of one request all ask: one store read per request, not one per asking.
  const perRequest = new WeakMap<FastifyRequest, Promise<Answer>>();
  function read(req: FastifyRequest): Promise<Answer> {
    let answer = perRequest.get(req);
    if (!answer) perRequest.set(req, (answer = readFresh(req)));
    return answer;
  }

  async function readFresh(req: FastifyRequest): Promise<Answer> {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return { session: null };
    let known = tokens.get(token);
    if (!known || now() - known.at >= TOKEN_CACHE_MS) {
      const started = generation;
      const check = await readSession(token, secret);
      if (!check.ok) return check.reason === 'none' ? { session: null } : { session: null, problem: check.reason };
      known = { at: now(), check };
      if (started === generation) {
        if (tokens.size >= 10_000) tokens.clear();
        tokens.set(token, known);
      }
    }
    const { check } = known;
    const record = await getSessionRecord(store, check.session.userId, check.sessionId);
    if (!record || Date.parse(record.expiresAt) <= now()) return { session: null, problem: 'invalid' };
    if (now() - Date.parse(record.lastSeenAt) >= SEEN_EVERY) void touchSessionRecord(store, record, now());
    const userId = check.session.userId;
    if (check.session.role === 'station') {
      // A paired staff phone: live while its pairing stands and its owner's account is in use.
      const ownerId = check.session.ownerId!;
      const [owner, station] = await Promise.all([userOf(ownerId), stationOf(ownerId, userId)]);
      if (!owner || owner.disabled || owner.role !== 'owner' || !station || station.venueId !== check.session.venueId) return { session: null, problem: 'invalid' };
      return { session: { ...check.session, communes: [station.communeCode] } };
    }
    const user = await userOf(userId);
    if (!user || user.disabled || user.sessionVersion !== check.session.sessionVersion) return { session: null, problem: 'invalid' };
    // Role and scope come from the account as it is now, not as it was at login.
    return { session: { ...check.session, role: user.role, communes: user.communes }, mustChangePassword: !!user.mustChangePassword };
  }

  return Object.assign(read, {
    /** This token's session has ended (logout). */
    forgetToken(token: string) {
      generation++;
      tokens.delete(token);
    },
    /** Every session of this user has ended, or the account changed (disabled, new sessionVersion). */
    forgetUser(userId: string) {
      generation++;
      users.delete(userId);
      stations.delete(userId);
      for (const [token, known] of tokens) if (known.check.session.userId === userId) tokens.delete(token);
    }
  });
}

/** Changes an account with retries on a concurrent write; returns the stored account, or null when gone. */
export async function changeUser(store: Store, userId: string, change: (user: UserDoc) => UserDoc): Promise<UserDoc | null> {
  for (let attempt = 0; ; attempt++) {
    const user = await getUser(store, userId);
    if (!user) return null;
    try {
      return await updateUser(store, change(user));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409 || attempt >= 4) throw err;
    }
  }
}

/** Ends every session of an account: tokens carry the old sessionVersion, and their records go. */
export async function endEverywhere(store: Store, sessionOf: SessionOf, userId: string, change: (user: UserDoc) => UserDoc = (u) => u): Promise<UserDoc | null> {
  const user = await changeUser(store, userId, (u) => ({ ...change(u), sessionVersion: u.sessionVersion + 1 }));
  await endAllSessionRecords(store, userId);
  sessionOf.forgetUser(userId);
  return user;
}

/** What a signed-in account with a one-time password may still call besides /api/auth/*: what anyone may, with or without a session. */
const OPEN_TO_ANYONE_GET = /^\/api\/(health|keys|demo|provinces|exposures\/[^/]+(\/snapshot(\/v2)?)?|share-codes\/[^/]+|communes\/[0-9]+\/venues)$/;
const OPEN_TO_ANYONE_POST = /^\/api\/(tallies|diary-share|staff\/pair)$/;

/**
 * An account signed in with a one-time password (made by an admin, or reset) may only change its
 * password, read its account and log out: every other call under /api and /sync that carries its
 * session is refused with 403 password_change_required. Anonymous calls are not slowed: without a
 * session cookie nothing is read.
 */
export function passwordGate(app: FastifyInstance, sessionOf: SessionOf): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!req.cookies[SESSION_COOKIE]) return;
    const path = req.url.split('?')[0]!;
    if (!path.startsWith('/sync/') && !path.startsWith('/api/')) return;
    if (path.startsWith('/api/auth/')) return;
    if ((req.method === 'GET' || req.method === 'HEAD') && OPEN_TO_ANYONE_GET.test(path)) return;
    if (req.method === 'POST' && OPEN_TO_ANYONE_POST.test(path)) return;
    const { mustChangePassword } = await sessionOf(req);
    if (mustChangePassword) {
      return reply.status(403).send({ error: 'password_change_required', reason: 'this account has a one-time password: choose your own password first' });
    }
  });
}

export async function registerAccounts(app: FastifyInstance, { store, secret, secureCookies, sessionOf }: AccountsDeps): Promise<void> {
  const limits = new LoginLimits(store, secret);
  // Made now, not at the first login of an unknown number (which would then answer late).
  await dummyPasswordHash();

  async function startSession(reply: FastifyReply, user: UserDoc) {
    const sessionId = newSessionId();
    await purgeExpiredSessionRecords(store, user.userId);
    await createSessionRecord(store, user.userId, sessionId);
    const token = await issueSession({ userId: user.userId, role: user.role, communes: user.communes, sessionVersion: user.sessionVersion, sessionId }, secret);
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: '/', maxAge: SESSION_DAYS * 24 * 3600 });
    return publicAccount(user);
  }

  function refuse(reply: FastifyReply, refusal: Refusal) {
    reply.header('Retry-After', String(refusal.wait));
    return reply.status(429).send({ error: 'too_many_attempts', reason: refusal.reason });
  }

  function parseCredentials(body: unknown, reply: FastifyReply) {
    const result = v.safeParse(Credentials, body);
    if (!result.success) {
      reply.status(400).send({ error: 'bad_request', reason: 'phone and password are required' });
      return null;
    }
    const phone = normalizePhone(result.output.phone);
    if (!phone) {
      reply.status(400).send({ error: 'bad_phone', reason: 'not a Vietnamese mobile number' });
      return null;
    }
    return { ...result.output, phone };
  }

  function clearCookie(reply: FastifyReply) {
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies });
  }

  app.post('/api/auth/register', async (req, reply) => {
    const input = parseCredentials(req.body, reply);
    if (!input) return reply;
    if (passwordTooShort(input.password)) return reply.status(400).send({ error: 'weak_password', reason: `at least ${PASSWORD_MIN_LENGTH} characters` });
    const { refusal, tried } = await limits.registration(req.ip);
    if (refusal) return refuse(reply, refusal);
    // A taken number counts too: registering is also a way to learn which numbers have accounts.
    await tried();
    try {
      const user = await createUser(store, { phone: input.phone, password: input.password, name: input.name, role: 'owner' });
      reply.status(201);
      return await startSession(reply, user);
    } catch (err) {
      if (err instanceof PhoneTakenError) return reply.status(409).send({ error: 'phone_taken', reason: 'this number already has an account: log in' });
      throw err;
    }
  });

  app.post('/api/auth/login', async (req, reply) => {
    const input = parseCredentials(req.body, reply);
    if (!input) return reply;
    const attempt = await limits.password(req.ip, input.phone);
    if (attempt.refusal) return refuse(reply, attempt.refusal);
    const user = await findUserByPhone(store, input.phone);
    // An unknown number is checked against a dummy hash: the same work, the same answer.
    const good = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !good) {
      await attempt.failed();
      return reply.status(401).send({ error: 'wrong_credentials', reason: 'wrong phone number or password' });
    }
    await attempt.succeeded();
    // A disabled account gets the answer of a wrong password: it is no way in.
    if (user.disabled) return reply.status(401).send({ error: 'wrong_credentials', reason: 'wrong phone number or password' });
    // The admins' list shows when each account last signed in.
    const signedIn = (await changeUser(store, user.userId, (u) => ({ ...u, lastSignInAt: new Date().toISOString() }))) ?? user;
    return startSession(reply, signedIn);
  });

  app.post('/api/auth/logout', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    const check = await readSession(token, secret);
    if (token && check.ok) {
      await endSessionRecord(store, check.session.userId, check.sessionId);
      sessionOf.forgetToken(token);
    }
    clearCookie(reply);
    return { ok: true };
  });

  app.post('/api/auth/logout-all', async (req, reply) => {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
    await endEverywhere(store, sessionOf, session.userId);
    clearCookie(reply);
    return { ok: true };
  });

  app.post('/api/auth/password', async (req, reply) => {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
    const parsed = v.safeParse(PasswordChange, req.body);
    if (!parsed.success) return reply.status(400).send({ error: 'bad_request', reason: 'currentPassword and newPassword are required' });
    const { currentPassword, newPassword } = parsed.output;
    if (passwordTooShort(newPassword)) return reply.status(400).send({ error: 'weak_password', reason: `the new password needs at least ${PASSWORD_MIN_LENGTH} characters` });
    const user = await getUser(store, session.userId);
    if (!user) return reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
    // A stolen cookie must not turn into a way of guessing the password.
    const attempt = await limits.password(req.ip, user.phone);
    if (attempt.refusal) return refuse(reply, attempt.refusal);
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      await attempt.failed();
      return reply.status(403).send({ error: 'wrong_password', reason: 'the current password is wrong' });
    }
    await attempt.succeeded();
    if (user.mustChangePassword && newPassword === currentPassword) {
      return reply.status(400).send({ error: 'same_password', reason: 'choose a password of your own, not the one-time password' });
    }
    const passwordHash = await hashPassword(newPassword);
    // Every session ends, this one too; this device gets a new one at once. A password of one's own ends the one-time one.
    const changed = await endEverywhere(store, sessionOf, user.userId, ({ mustChangePassword: _once, ...u }) => ({ ...u, passwordHash }));
    if (!changed) return reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
    return startSession(reply, changed);
  });

  app.get('/api/auth/me', async (req, reply) => {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: problem === 'expired' ? 'session_expired' : 'not_logged_in', reason: problem ?? 'none' });
    const user = await getUser(store, session.userId);
    return user ? publicAccount(user) : reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
  });
}
