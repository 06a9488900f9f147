/**
 * Session records in `lv_users`: a signed token counts only while its record exists, so logging
 * out, signing out everywhere, a password change or an admin's disabling end sessions on the server.
 *
 * `session:<userId>:<sha256(session id)>`: the user's sessions are one key range (no view needed
 * to end them all), and the stored id is a hash, so a copy of the database names no live session.
 * A record holds only what ending and expiring it needs: no device, no address.
 */
import { createHash } from 'node:crypto';
import { HOUR } from '../src/lib/core/time';
import { SESSION_DAYS } from './auth';
import { DB, getOrNull, type Store } from './store/couch';

export interface SessionDoc {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  type: 'session';
  schema: 1;
  userId: string;
  /** ISO times, to the hour: enough to expire and to show "last used", not to follow anyone */
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

/** lastSeenAt moves at most once an hour, so a sync round does not write on every request. */
export const SEEN_EVERY = HOUR;

export function sessionDocId(userId: string, sessionId: string): string {
  return `session:${userId}:${createHash('sha256').update(sessionId).digest('base64url')}`;
}

const toHour = (ms: number) => new Date(Math.floor(ms / HOUR) * HOUR).toISOString();

function sessions(store: Store) {
  return store.db<SessionDoc>(DB.users);
}

export async function createSessionRecord(store: Store, userId: string, sessionId: string, now = Date.now()): Promise<void> {
  await sessions(store).insert({
    _id: sessionDocId(userId, sessionId),
    type: 'session',
    schema: 1,
    userId,
    createdAt: toHour(now),
    lastSeenAt: toHour(now),
    expiresAt: new Date(now + SESSION_DAYS * 24 * HOUR).toISOString()
  });
}

export async function getSessionRecord(store: Store, userId: string, sessionId: string): Promise<SessionDoc | null> {
  const doc = (await getOrNull(sessions(store), sessionDocId(userId, sessionId))) as SessionDoc | null;
  return doc?.type === 'session' && doc.userId === userId ? doc : null;
}

/** Notes that the session was used (coarsely); a lost race or a store hiccup only skips one note. */
export async function touchSessionRecord(store: Store, doc: SessionDoc, now = Date.now()): Promise<void> {
  if (now - Date.parse(doc.lastSeenAt) < SEEN_EVERY) return;
  try {
    await sessions(store).insert({ ...doc, lastSeenAt: toHour(now) });
  } catch {
    // 409: another request noted it first; anything else: the next request tries again.
  }
}

export async function endSessionRecord(store: Store, userId: string, sessionId: string): Promise<void> {
  const doc = await getSessionRecord(store, userId, sessionId);
  if (!doc?._rev) return;
  try {
    await sessions(store).destroy(doc._id, doc._rev);
  } catch (err) {
    // Gone already (another logout of the same cookie) is the outcome wanted.
    if ((err as { statusCode?: number }).statusCode !== 404 && (err as { statusCode?: number }).statusCode !== 409) throw err;
  }
}

async function userSessions(store: Store, userId: string): Promise<SessionDoc[]> {
  const res = await sessions(store).list({ startkey: `session:${userId}:`, endkey: `session:${userId}:\ufff0`, include_docs: true });
  return res.rows.flatMap((r) => (r.doc?.type === 'session' ? [r.doc as SessionDoc] : []));
}

async function removeAll(store: Store, docs: SessionDoc[]): Promise<void> {
  if (docs.length === 0) return;
  await sessions(store).bulk({ docs: docs.map((d) => ({ ...d, _deleted: true })) });
}

/** Ends every session of a user (sign out everywhere, password change, disabling). */
export async function endAllSessionRecords(store: Store, userId: string): Promise<void> {
  // A login racing this may leave one record behind; the caller bumps sessionVersion first, so the
  // token of such a session is refused all the same.
  await removeAll(store, await userSessions(store, userId));
}

/** Drops a user's expired records; run at each login so records of past sessions do not pile up. */
export async function purgeExpiredSessionRecords(store: Store, userId: string, now = Date.now()): Promise<void> {
  await removeAll(store, (await userSessions(store, userId)).filter((d) => Date.parse(d.expiresAt) <= now));
}

/**
 * Drops every expired record, whoever's (an account that never logs in again leaves its last one):
 * for the daily retention run. Pages through the `session:` range so a large store is not read at once.
 */
export async function purgeAllExpiredSessionRecords(store: Store, now = Date.now()): Promise<number> {
  const page = 1000;
  let startkey = 'session:';
  let removed = 0;
  for (;;) {
    const res = await sessions(store).list({ startkey, endkey: 'session:\ufff0', include_docs: true, limit: page + 1 });
    const docs = res.rows.slice(0, page).flatMap((r) => (r.doc?.type === 'session' ? [r.doc as SessionDoc] : []));
    const expired = docs.filter((d) => Date.parse(d.expiresAt) <= now);
    await removeAll(store, expired);
    removed += expired.length;
    if (res.rows.length <= page) return removed;
    startkey = res.rows[page]!.id;
  }
}
