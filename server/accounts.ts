/**
 * `/api/auth/*`: venue owners register themselves with a phone number and a password; team and
 * admin accounts are made by `npm run user:add` (a web page comes with the admin work).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import * as v from 'valibot';
import { normalizePhone } from '../src/lib/core/station-scan';
import { issueSession, PASSWORD_MIN_LENGTH, readSession, SESSION_COOKIE, SESSION_DAYS, verifyPassword, type Session } from './auth';
import { createUser, findUserByPhone, getUser, PhoneTakenError, publicAccount, type UserDoc } from './users';
import type { Store } from './store/couch';

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

/** Checks the cookie and the account behind it (disabled, logged out everywhere), with a short cache. */
export function sessionReader(store: Store, secret: Uint8Array) {
  const users = new Map<string, { at: number; user: UserDoc | null }>();
  // A checked token stays good for a minute: a sync round is several requests with the same cookie.
  const tokens = new Map<string, { at: number; check: Awaited<ReturnType<typeof readSession>> }>();
  return async (req: FastifyRequest): Promise<{ session: Session | null; problem?: 'expired' | 'invalid' }> => {
    const token = req.cookies[SESSION_COOKIE];
    let check: Awaited<ReturnType<typeof readSession>>;
    const known = token ? tokens.get(token) : undefined;
    if (known && Date.now() - known.at < 60_000) check = known.check;
    else {
      check = await readSession(token, secret);
      if (token && check.ok) {
        if (tokens.size >= 10_000) tokens.clear();
        tokens.set(token, { at: Date.now(), check });
      }
    }
    if (!check.ok) return check.reason === 'none' ? { session: null } : { session: null, problem: check.reason };
    const cached = users.get(check.session.userId);
    const user = cached && Date.now() - cached.at < 30_000 ? cached.user : await getUser(store, check.session.userId);
    users.set(check.session.userId, { at: Date.now(), user });
    if (!user || user.disabled || user.sessionVersion !== check.session.sessionVersion) return { session: null, problem: 'invalid' };
    // Role and scope come from the account as it is now, not as it was at login.
    return { session: { ...check.session, role: user.role, communes: user.communes } };
  };
}

export async function registerAccounts(app: FastifyInstance, { store, secret, secureCookies, sessionOf }: AccountsDeps): Promise<void> {
  await app.register(rateLimit, { global: false });

  async function startSession(reply: FastifyReply, user: UserDoc) {
    const token = await issueSession({ userId: user.userId, role: user.role, communes: user.communes, sessionVersion: user.sessionVersion }, secret);
    reply.setCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: '/', maxAge: SESSION_DAYS * 24 * 3600 });
    return publicAccount(user);
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

  // Guessing passwords is slowed per address and number; the count lives in this process only.
  const loginLimit = {
    rateLimit: {
      // After the body is parsed, so the number is part of the key (one office shares one address).
      hook: 'preHandler' as const,
      max: 10,
      timeWindow: '15 minutes',
      keyGenerator: (req: FastifyRequest) => `${req.ip}|${(req.body as { phone?: unknown })?.phone ?? ''}`,
      errorResponseBuilder: () => ({ statusCode: 429, error: 'too_many_attempts', reason: 'too many attempts: wait 15 minutes' })
    }
  };

  app.post('/api/auth/register', { config: loginLimit }, async (req, reply) => {
    const input = parseCredentials(req.body, reply);
    if (!input) return reply;
    if ([...input.password].length < PASSWORD_MIN_LENGTH) return reply.status(400).send({ error: 'weak_password', reason: `at least ${PASSWORD_MIN_LENGTH} characters` });
    try {
      const user = await createUser(store, { phone: input.phone, password: input.password, name: input.name, role: 'owner' });
      reply.status(201);
      return await startSession(reply, user);
    } catch (err) {
      if (err instanceof PhoneTakenError) return reply.status(409).send({ error: 'phone_taken', reason: 'this number already has an account: log in' });
      throw err;
    }
  });

  app.post('/api/auth/login', { config: loginLimit }, async (req, reply) => {
    const input = parseCredentials(req.body, reply);
    if (!input) return reply;
    const user = await findUserByPhone(store, input.phone);
    // The same answer for an unknown number and a wrong password.
    if (!user || user.disabled || !(await verifyPassword(input.password, user.passwordHash))) {
      return reply.status(401).send({ error: 'wrong_credentials', reason: 'wrong phone number or password' });
    }
    return startSession(reply, user);
  });

  app.post('/api/auth/logout', async (_req, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/auth/me', async (req, reply) => {
    const { session, problem } = await sessionOf(req);
    if (!session) return reply.status(401).send({ error: problem === 'expired' ? 'session_expired' : 'not_logged_in', reason: problem ?? 'none' });
    const user = await getUser(store, session.userId);
    return user ? publicAccount(user) : reply.status(401).send({ error: 'not_logged_in', reason: 'account gone' });
  });
}
