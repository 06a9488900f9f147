/**
 * `/api/auth/*`: venue owners register themselves with a phone number and a password; team and
 * admin accounts are made by `npm run user:add` (a web page comes with the admin work). Sessions
 * end on the server: logout, sign out everywhere, a password change, and an admin's disabling of
 * an account (`/api/accounts/:userId/disable|enable`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as v from 'valibot';
import { normalizePhone } from '../src/lib/core/station-scan';
import { unitDocId, type UnitDoc } from '../src/lib/core/units';
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
import { DB, getOrNull, type Store } from './store/couch';
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

/** A checked token stays good this long in this process: a sync round is several requests with the same cookie. */
const TOKEN_CACHE_MS = 60_000;
const USER_CACHE_MS = 30_000;

/**
 * Checks the cookie, its session record and the account behind it (disabled, logged out
 * everywhere), with a short cache. What ends sessions here (logout, sign out everywhere, password,
 * disabling) calls forgetToken / forgetUser, so this process refuses them at once; another server
 * process sharing the store does within TOKEN_CACHE_MS.
 */
export function sessionReader(store: Store, secret: Uint8Array, now: () => number = Date.now) {
  const users = new Map<string, { at: number; user: UserDoc | null }>();
  const tokens = new Map<string, { at: number; check: SessionCheck & { ok: true }; record: SessionDoc | null }>();
  // Bumped by every forget: a read that started before an ending does not cache what it saw.
  let generation = 0;

  async function read(req: FastifyRequest): Promise<{ session: Session | null; problem?: 'expired' | 'invalid' }> {
    const token = req.cookies[SESSION_COOKIE];
    if (!token) return { session: null };
    let known = tokens.get(token);
    if (!known || now() - known.at >= TOKEN_CACHE_MS) {
      const started = generation;
      const check = await readSession(token, secret);
      if (!check.ok) return check.reason === 'none' ? { session: null } : { session: null, problem: check.reason };
      const record = await getSessionRecord(store, check.session.userId, check.sessionId);
      known = { at: now(), check, record };
      if (started === generation) {
        if (tokens.size >= 10_000) tokens.clear();
        tokens.set(token, known);
      }
    }
    const { check, record } = known;
    if (!record || Date.parse(record.expiresAt) <= now()) return { session: null, problem: 'invalid' };
    if (now() - Date.parse(record.lastSeenAt) >= SEEN_EVERY) {
      known.record = { ...record, lastSeenAt: new Date(now()).toISOString() };
      void touchSessionRecord(store, record, now());
    }
    const userId = check.session.userId;
    const cached = users.get(userId);
    let user: UserDoc | null;
    if (cached && now() - cached.at < USER_CACHE_MS) user = cached.user;
    else {
      const started = generation;
      user = await getUser(store, userId);
      if (started === generation) users.set(userId, { at: now(), user });
    }
    if (!user || user.disabled || user.sessionVersion !== check.session.sessionVersion) return { session: null, problem: 'invalid' };
    // Role and scope come from the account as it is now, not as it was at login.
    return { session: { ...check.session, role: user.role, communes: user.communes } };
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
      for (const [token, known] of tokens) if (known.check.session.userId === userId) tokens.delete(token);
    }
  });
}

/** Whether `code` is `ancestor` or lies under it in the unit tree of lv_directory. */
async function unitWithin(store: Store, code: string, ancestor: string): Promise<boolean> {
  const directory = store.db<UnitDoc>(DB.directory);
  let current: string | null = code;
  // Province → district → commune: a walk of more than a few steps is a broken tree.
  for (let depth = 0; current && depth < 6; depth++) {
    if (current === ancestor) return true;
    const unit = (await getOrNull(directory, unitDocId(current))) as UnitDoc | null;
    current = unit?.type === 'unit' ? unit.parent : null;
  }
  return false;
}

/**
 * Whether an admin of `unit` may act on this account: every commune it works in (a team's
 * communes, an owner's venue communes) or the unit of a lower admin lies within the admin's unit.
 * An account with no place at all is in nobody's unit.
 */
async function inAdminUnit(store: Store, unit: string, target: UserDoc): Promise<boolean> {
  if (target.role === 'admin') return !!target.unit && target.unit !== unit && (await unitWithin(store, target.unit, unit));
  const places = target.role === 'team' ? target.communes : (target.venueCommunes ?? []);
  if (places.length === 0) return false;
  for (const code of places) if (!(await unitWithin(store, code, unit))) return false;
  return true;
}

export async function registerAccounts(app: FastifyInstance, { store, secret, secureCookies, sessionOf }: AccountsDeps): Promise<void> {
  const limits = new LoginLimits();
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

  /** Changes an account with retries on a concurrent write; returns the stored account, or null when gone. */
  async function changeUser(userId: string, change: (user: UserDoc) => UserDoc): Promise<UserDoc | null> {
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
  async function endEverywhere(userId: string, change: (user: UserDoc) => UserDoc = (u) => u): Promise<UserDoc | null> {
    const user = await changeUser(userId, (u) => ({ ...change(u), sessionVersion: u.sessionVersion + 1 }));
    await endAllSessionRecords(store, userId);
    sessionOf.forgetUser(userId);
    return user;
  }

  function clearCookie(reply: FastifyReply) {
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies });
  }

  app.post('/api/auth/register', async (req, reply) => {
    const input = parseCredentials(req.body, reply);
    if (!input) return reply;
    if (passwordTooShort(input.password)) return reply.status(400).send({ error: 'weak_password', reason: `at least ${PASSWORD_MIN_LENGTH} characters` });
    const refusal = limits.registrationRefusal(req.ip);
    if (refusal) return refuse(reply, refusal);
    // A taken number counts too: registering is also a way to learn which numbers have accounts.
    limits.registrationTried(req.ip);
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
    const refusal = limits.passwordRefusal(req.ip, input.phone);
    if (refusal) return refuse(reply, refusal);
    const user = await findUserByPhone(store, input.phone);
    // An unknown number is checked against a dummy hash: the same work, the same answer.
    const good = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !good) {
      limits.passwordFailed(req.ip, input.phone);
      return reply.status(401).send({ error: 'wrong_credentials', reason: 'wrong phone number or password' });
    }
    limits.passwordSucceeded(input.phone);
    // A disabled account gets the answer of a wrong password: it is no way in.
    if (user.disabled) return reply.status(401).send({ error: 'wrong_credentials', reason: 'wrong phone number or password' });
    return startSession(reply, user);
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
    await endEverywhere(session.userId);
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
    const refusal = limits.passwordRefusal(req.ip, user.phone);
    if (refusal) return refuse(reply, refusal);
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      limits.passwordFailed(req.ip, user.phone);
      return reply.status(403).send({ error: 'wrong_password', reason: 'the current password is wrong' });
    }
    limits.passwordSucceeded(user.phone);
    const passwordHash = await hashPassword(newPassword);
    // Every session ends, this one too; this device gets a new one at once.
    const changed = await endEverywhere(user.userId, (u) => ({ ...u, passwordHash }));
    if (!changed) return reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
    return startSession(reply, changed);
  });

  app.get('/api/auth/me', async (req, reply) => {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: problem === 'expired' ? 'session_expired' : 'not_logged_in', reason: problem ?? 'none' });
    const user = await getUser(store, session.userId);
    return user ? publicAccount(user) : reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
  });

  async function setDisabled(req: FastifyRequest<{ Params: { userId: string } }>, reply: FastifyReply, disabled: boolean) {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: 'not_logged_in', reason: problem === 'expired' ? 'session expired: log in again' : 'log in first' });
    if (session.role !== 'admin') return reply.status(403).send({ error: 'forbidden', reason: 'only an administrator can disable or enable accounts' });
    const admin = await getUser(store, session.userId);
    if (!admin?.unit) return reply.status(403).send({ error: 'forbidden', reason: 'this administrator account has no unit to act in' });
    const userId = req.params.userId;
    const target = /^[a-z0-9]{1,40}$/.test(userId) ? await getUser(store, userId) : null;
    if (!target) return reply.status(404).send({ error: 'not_found', reason: 'no such account' });
    if (target.userId === admin.userId) return reply.status(400).send({ error: 'own_account', reason: 'an administrator cannot disable or enable their own account' });
    if (!(await inAdminUnit(store, admin.unit, target))) {
      return reply.status(403).send({ error: 'forbidden', reason: 'this account works outside your unit (or above it): an administrator of a unit that holds it can act' });
    }
    const changed = disabled
      ? await endEverywhere(target.userId, (u) => ({ ...u, disabled: true }))
      : await changeUser(target.userId, ({ disabled: _was, ...u }) => u);
    if (!changed) return reply.status(404).send({ error: 'not_found', reason: 'no such account' });
    if (!disabled) sessionOf.forgetUser(target.userId);
    return { ok: true, userId: changed.userId, disabled: !!changed.disabled };
  }

  app.post<{ Params: { userId: string } }>('/api/accounts/:userId/disable', (req, reply) => setDisabled(req, reply, true));
  app.post<{ Params: { userId: string } }>('/api/accounts/:userId/enable', (req, reply) => setDisabled(req, reply, false));
}
