/**
 * Passwords and sessions. Passwords: scrypt from Node's crypto (memory-hard, no native addon).
 * Sessions: a signed JWT (jose, HS256) in an httpOnly cookie, so any of N stateless servers can
 * check it; the secret comes from SESSION_SECRET or a file in the data directory. Each token
 * carries a session id (jti) whose record in lv_users (server/sessions.ts) ends it on the server.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

/** Roles of accounts. */
export type Role = 'owner' | 'team' | 'admin';
/** A session is an account's, or a staff phone's paired to one venue's station (server/staff), which is no account. */
export type SessionRole = Role | 'station';

// N = 2^15 costs ~50 ms and 32 MiB here: slow for a guesser, fine for a login.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } satisfies ScryptOptions;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Uint8Array, params: ScryptOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_LENGTH, params, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))));
}

/** `scrypt$N$r$p$salt$hash` (base64url), so parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(16));
  const key = await scryptAsync(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, Buffer.from(salt).toString('base64url'), Buffer.from(key).toString('base64url')].join('$');
}

/** How many passwords this process has checked (a login of an unknown number counts too). */
export const passwordChecks = { count: 0 };

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  passwordChecks.count++;
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = new Uint8Array(Buffer.from(hash, 'base64url'));
  const key = await scryptAsync(password, new Uint8Array(Buffer.from(salt, 'base64url')), { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let dummyHash: Promise<string> | null = null;

/**
 * A hash of a random password with today's parameters: a login for a number with no account checks
 * against it, so it costs as much as a real one and its timing does not tell which numbers exist.
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64url'));
  return dummyHash;
}

export { PASSWORD_MIN_LENGTH } from '../src/lib/core/password';

export interface Session {
  userId: string;
  role: SessionRole;
  /** commune codes a team member works in; empty for others */
  communes: string[];
  /** bumped on the user doc to end every session of that user (logout everywhere, role change) */
  sessionVersion: number;
  /** a station session's one venue (its commune is `communes[0]`) and the owner who paired it */
  venueId?: string;
  ownerId?: string;
}

export const SESSION_COOKIE = 'lv_session';
export const SESSION_DAYS = 30;

/** HS256 with a key shorter than its 32-byte hash is guessable offline from one cookie. */
export const SESSION_SECRET_MIN_BYTES = 32;

/** Why a session secret is too weak to sign sessions with, or null when it will do. */
export function weakSecretReason(secret: string): string | null {
  const bytes = new TextEncoder().encode(secret).length;
  if (bytes < SESSION_SECRET_MIN_BYTES) return `it is ${bytes} byte${bytes === 1 ? '' : 's'} long and needs at least ${SESSION_SECRET_MIN_BYTES}`;
  // A long run of a few characters ("aaaa…", "1234123412341234…") is a password, not a key.
  if (new Set(secret).size < 8) return 'it uses fewer than 8 different characters: it does not look random';
  return null;
}

const MAKE_ONE = 'make one with `openssl rand -base64 32`, or leave SESSION_SECRET unset to keep a generated one in DATA_DIR/session-secret';

export function loadSessionSecret(opts: { sessionSecret: string | null; dataDir: string }): Uint8Array {
  if (opts.sessionSecret) {
    const weak = weakSecretReason(opts.sessionSecret);
    if (weak) throw new Error(`SESSION_SECRET is too weak to sign sessions with: ${weak}; ${MAKE_ONE}`);
    return new TextEncoder().encode(opts.sessionSecret);
  }
  const file = path.join(opts.dataDir, 'session-secret');
  if (!existsSync(file)) {
    mkdirSync(opts.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  const stored = readFileSync(file, 'utf8').trim();
  const weak = weakSecretReason(stored);
  if (weak) throw new Error(`the session secret in ${file} is too weak to sign sessions with: ${weak}; delete the file to have a new one made (everyone logs in again)`);
  return new TextEncoder().encode(stored);
}

/** A new session id: 128 random bits, never stored as itself (server/sessions.ts keeps its hash). */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** Signs a session; `sessionId` names its record in lv_users, which must exist for the token to count. */
export async function issueSession(session: Session & { sessionId: string }, secret: Uint8Array): Promise<string> {
  const station = session.role === 'station' ? { venue: session.venueId, own: session.ownerId } : {};
  return new SignJWT({ role: session.role, communes: session.communes, sv: session.sessionVersion, ...station })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(session.userId)
    .setJti(session.sessionId)
    .setIssuedAt()
    .setExpirationTime(`${SESSION_DAYS}d`)
    .sign(secret);
}

export type SessionCheck = { ok: true; session: Session; sessionId: string } | { ok: false; reason: 'none' | 'expired' | 'invalid' };

export async function readSession(token: string | undefined, secret: Uint8Array): Promise<SessionCheck> {
  if (!token) return { ok: false, reason: 'none' };
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    const role = payload.role;
    if (typeof payload.sub !== 'string' || (role !== 'owner' && role !== 'team' && role !== 'admin' && role !== 'station')) return { ok: false, reason: 'invalid' };
    // Tokens from before session records have no id: nothing on the server can end them, so they
    // are refused (one new login).
    if (typeof payload.jti !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(payload.jti)) return { ok: false, reason: 'invalid' };
    const communes = Array.isArray(payload.communes) ? payload.communes.filter((c): c is string => typeof c === 'string') : [];
    if (role === 'station') {
      // A station session names its venue and the owner who paired it; without both it is nothing.
      if (typeof payload.venue !== 'string' || typeof payload.own !== 'string' || communes.length !== 1) return { ok: false, reason: 'invalid' };
      return { ok: true, session: { userId: payload.sub, role, communes, sessionVersion: 0, venueId: payload.venue, ownerId: payload.own }, sessionId: payload.jti };
    }
    return { ok: true, session: { userId: payload.sub, role, communes, sessionVersion: Number(payload.sv ?? 0) }, sessionId: payload.jti };
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid' };
  }
}
